"""Temporary files of uploads: staged in one folder of Assay's own, and removed when a killed process left them.

Django stages every upload in ``FILE_UPLOAD_TEMP_DIR`` (``var/tmp/uploads`` by default) and deletes the file when the
request ends, on success and on every error path. A process killed in the middle of an upload (SIGKILL, out of
memory, a deploy) never gets there: its file stays. Nothing else writes in that folder, so a file there that has not
changed for ``TEMP_FILE_MAX_AGE_SECONDS`` belongs to no request and is removed (``manage.py cleanup_temp``, hourly
on beat).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("assay.tempfiles")


def staging_folder() -> Path:
    """Where uploads are staged (created if missing)."""
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cleanup_temp_files(*, older_than: float | None = None, now: float | None = None) -> list[Path]:
    """Remove the staged files not modified for more than ``older_than`` seconds (default
    ``TEMP_FILE_MAX_AGE_SECONDS``) before ``now`` (a Unix time; default the clock). Returns what was removed."""
    limit = settings.TEMP_FILE_MAX_AGE_SECONDS if older_than is None else older_than
    moment = time.time() if now is None else now
    removed = []
    for path in sorted(staging_folder().rglob("*")):
        try:
            if path.is_file() and not path.is_symlink() and moment - path.stat().st_mtime > limit:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # its request ended and removed it meanwhile
            continue
    if removed:
        logger.info("removed %d temporary upload file(s) left by killed processes", len(removed))
    return removed
