"""Background jobs of data governance."""

from __future__ import annotations

from celery import shared_task

from governance.data.actions.uploads import JOB, run_dataset_upload


@shared_task(name=JOB, acks_late=True)
def register_dataset_upload(upload_id: int) -> str:
    """Profile a stored upload into the next dataset version (or refuse it); returns the upload's status."""
    return run_dataset_upload(upload_id)
