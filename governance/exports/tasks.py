"""Background jobs of exports, run by a Celery worker (in process only with ``JOBS_IN_PROCESS=1``)."""

from __future__ import annotations

from celery import shared_task

from governance.exports.actions import execute_export, lost_builds


@shared_task(name="exports.build_export", acks_late=True)
def build_export(export_id: int) -> str:
    """Build one queued evidence bundle to completion; returns its final status."""
    return execute_export(export_id).status


@shared_task(name="exports.resume_lost_builds")
def resume_lost_builds() -> list[int]:
    """Queue again every export whose job was lost (queued or building past ``EXPORT_STALE_BUILD_SECONDS``); the
    build claims it under a lock, so a job that is merely slow is never run twice. Returns the export ids."""
    lost = lost_builds()
    for export_id in lost:
        build_export.delay(export_id)
    return lost
