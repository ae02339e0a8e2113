"""Background jobs of the audit engine, run by a Celery worker (in process only with ``JOBS_IN_PROCESS=1``).

Jobs are acknowledged late and delivered again when their worker process dies (``CELERY_TASK_ACKS_LATE``,
``CELERY_TASK_REJECT_ON_WORKER_LOST``); a job delivered twice is harmless: ``execute_audit`` claims its run under a
lock and leaves a run another live worker holds, or one that has ended, as it is.
"""

from __future__ import annotations

from celery import shared_task

from audits.actions import execute_audit
from audits.actions import recover_stale_runs as sweep

# Monitoring's jobs live with monitoring; importing them here lets Celery's autodiscovery find them.
from audits.monitoring.tasks import check_batch, run_due_checks  # noqa: F401
from audits.reports.builds import execute_report_build


@shared_task(name="audits.run_audit", acks_late=True, reject_on_worker_lost=True)
def run_audit(run_id: int) -> str:
    """Run one queued audit to completion (or take over one whose worker died); returns its final status."""
    return execute_audit(run_id).status


@shared_task(name="audits.recover_stale_runs")
def recover_stale_runs() -> list[int]:
    """Queue again every run whose worker stopped answering (beat, every minute); returns their ids."""
    return sweep()


@shared_task(name="audits.build_run_report", acks_late=True, reject_on_worker_lost=True)
def build_run_report(build_id: int) -> str:
    """Make (or reuse) the signed report a portal user asked for (``audits.reports.builds``); returns its status."""
    return execute_report_build(build_id).status
