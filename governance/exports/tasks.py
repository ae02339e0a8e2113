"""Background jobs of exports (in process by default; a Celery worker when a broker is configured)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="exports.build_export", acks_late=True)
def build_export(export_id: int) -> str:
    """Build one queued evidence bundle to completion; returns its final status."""
    from governance.exports.actions import execute_export

    return execute_export(export_id).status
