"""Background jobs of the governance app."""

from __future__ import annotations

from celery import shared_task

from governance.exports.tasks import build_export  # noqa: F401  (workers discover the export job here)


@shared_task(name="governance.issue_checkpoint")
def issue_checkpoint_task(reason: str = "scheduled", only_if_due: bool = True) -> int | None:
    """Issue a trail checkpoint (by default only if one is still due); returns its tree size, or None."""
    from governance.trail.checkpoints import issue_checkpoint

    checkpoint = issue_checkpoint(reason=reason, only_if_due=only_if_due)
    return None if checkpoint is None else checkpoint.tree_size


@shared_task(name="governance.cleanup_temp")
def cleanup_temp() -> int:
    """Remove temporary upload files killed processes left behind (beat, hourly); returns how many."""
    from governance.tempfiles import cleanup_temp_files

    return len(cleanup_temp_files())
