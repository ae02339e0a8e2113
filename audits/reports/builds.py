"""Signed run reports made by a worker, never in a portal request: the portal asks (``request_run_report``), a
``ReportBuild`` row says where the build stands, and the job (``execute_report_build``, queued as
``audits.build_run_report``) makes the report through ``report_for_run`` (reusing a current one), reporting each
step as progress. A build another worker holds, or that has ended, is left as it is when its job comes again.

A build whose worker died stays ``building``; after ``EXPORT_STALE_BUILD_SECONDS`` a new request no longer waits for
it and asks again.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audits.actions import AuditError
from audits.models import AuditRun, ReportBuild, ReportBuildStatus, RunStatus
from audits.reports.service import ReportRefused, report_for_run
from governance.access.models import User
from governance.jobs import enqueue
from governance.trail.log import Actor

log = logging.getLogger(__name__)


def latest_build(run: AuditRun) -> ReportBuild | None:
    """The run's latest report build (what its page shows), if any."""
    return ReportBuild.objects.filter(run=run).select_related("report").order_by("-created_at", "-id").first()


def _stale(build: ReportBuild, now: dt.datetime) -> bool:
    since = build.started_at or build.created_at
    return (now - since).total_seconds() > settings.EXPORT_STALE_BUILD_SECONDS


def request_run_report(run: AuditRun, *, user: User) -> tuple[ReportBuild, bool]:
    """Ask a worker for the completed ``run``'s signed report; returns the build and whether it is new (a live one
    is answered with itself). Refuses a run that is not complete (``ReportRefused``, with the reason)."""
    if run.status != RunStatus.DONE:
        raise ReportRefused(
            f"Audit run {run.pk} is {run.status}: a report states a completed run's results"
            + (f" ({run.error})." if run.error else ".")
        )
    with transaction.atomic():
        AuditRun.objects.select_for_update().filter(pk=run.pk).first()  # one request at a time per run
        live = latest_build(run)
        if live is not None and live.is_live and not _stale(live, timezone.now()):
            return live, False
        build = ReportBuild.objects.create(run=run, requested_by=user, progress_note="Waiting for a worker.")
        transaction.on_commit(lambda: enqueue("audits.build_run_report", build.pk))
    return build, True


def execute_report_build(build_id: int) -> ReportBuild:
    """The job: make (or reuse) the run's signed report, with progress; ends ``ready`` or ``error`` with why."""
    with transaction.atomic():
        build = ReportBuild.objects.select_for_update().select_related("run", "requested_by").get(pk=build_id)
        if build.status != ReportBuildStatus.QUEUED:
            return build  # delivered again (acks late): held by another worker, or ended
        build.status, build.started_at = ReportBuildStatus.BUILDING, timezone.now()
        build.progress, build.progress_note = 2, "Starting."
        build.save(update_fields=["status", "started_at", "progress", "progress_note"])

    def progress(percent: int, note: str) -> None:
        ReportBuild.objects.filter(pk=build.pk, status=ReportBuildStatus.BUILDING).update(
            progress=max(0, min(99, percent)), progress_note=note[:200]
        )

    try:
        report = report_for_run(build.run, actor=Actor.for_user(build.requested_by), progress=progress)
    except AuditError as exc:
        return _end(build, error=str(exc))
    except Exception:
        log.exception("report build %s of run %s failed", build.pk, build.run_id)
        _end(build, error="The report could not be made (an internal error, logged on the worker); ask again.")
        raise
    build.report = report
    return _end(build)


def _end(build: ReportBuild, *, error: str = "") -> ReportBuild:
    build.status = ReportBuildStatus.ERROR if error else ReportBuildStatus.READY
    build.error, build.finished_at = error, timezone.now()
    build.progress, build.progress_note = (build.progress, "") if error else (100, "")
    build.save(update_fields=["status", "error", "finished_at", "progress", "progress_note", "report"])
    return build
