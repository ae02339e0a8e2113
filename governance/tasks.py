"""Background jobs of the governance app."""

from __future__ import annotations

from celery import shared_task

from governance.data.tasks import register_dataset_upload  # noqa: F401  (and the dataset-upload job)
from governance.exports.tasks import build_export  # noqa: F401  (workers discover the export job here)
from governance.tempfiles import cleanup_temp_files
from governance.trail.checkpoints import issue_checkpoint_task  # noqa: F401  (and the checkpoint job)
from governance.trail.sequencer import sequence_trail_task  # noqa: F401  (the sequencer: its job and its hooks)


@shared_task(name="governance.cleanup_temp")
def cleanup_temp() -> int:
    """Remove temporary upload files killed processes left behind (beat, hourly); returns how many."""
    return len(cleanup_temp_files())
