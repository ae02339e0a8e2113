"""Background jobs of monitoring: one batch's check, and the sweep of every due check (beat or cron)."""

from __future__ import annotations

from celery import shared_task

from audits.monitoring.actions import execute_check
from audits.monitoring.actions import run_due_checks as sweep


@shared_task(name="registry.monitoring.check_batch")
def check_batch(batch_id: int) -> str:
    """Check one batch (a no-op when it is not due or someone else is checking it)."""
    return execute_check(batch_id).status


@shared_task(name="registry.monitoring.run_due_checks")
def run_due_checks() -> dict[str, int]:
    """Every due check: what ``python manage.py monitor`` runs."""
    return sweep()
