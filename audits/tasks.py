"""Background jobs of the audit engine (in process by default; a Celery worker when a broker is configured)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="audits.run_audit", acks_late=True)
def run_audit(run_id: int) -> str:
    """Run one queued audit to completion; returns its final status."""
    from audits.actions import execute_audit

    return execute_audit(run_id).status
