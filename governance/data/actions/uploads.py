"""Large dataset uploads profiled by a worker, not by the web node that received them.

A web node parsing and profiling a file in the request holds the parser, the libraries and the request for minutes
(a 1 GiB CSV: 282 s and 305 MiB even streamed). Above ``DATASET_PROFILE_IN_WORKER_BYTES`` the web node only checks
the format and size, hashes and stores the file (streamed, in parts) and answers 202 with an upload to poll; a
worker reads the stored file through its verified copy and registers the version with the same action, the same
checks and the same trail event as a small upload, as the person who uploaded it. A refused file becomes a refused
upload with the reason, and no version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from governance.access.models import User
from governance.data.actions.common import DataError, _require_scope, _require_team
from governance.data.actions.datasets import do_register_dataset_version
from governance.data.ingest import IngestError, detect_format, hash_file
from governance.data.models import Dataset, DatasetUpload, DatasetVersion, UploadStatus
from governance.jobs import enqueue
from governance.storage import StoredFileError, local_path, store_by_hash
from governance.trail.log import Actor

JOB = "governance.register_dataset_upload"

_DATES = ("collected_from", "collected_to")


def profiled_in_worker(size: int) -> bool:
    """Whether an upload of ``size`` bytes is handed to a worker (0 turns hand-over off)."""
    limit = settings.DATASET_PROFILE_IN_WORKER_BYTES
    return bool(limit) and size > limit


def do_receive_dataset_upload(
    *, dataset: Dataset, user: User, actor: Actor, file_path: Path, file_name: str, metadata: Mapping[str, Any]
) -> DatasetUpload:
    """Check, hash and store an uploaded file, and queue its profiling (see the module docstring). What the web node
    can check cheaply it refuses at once, as the synchronous path would; the rest is the worker's."""
    _require_scope(user, "datasets:write", "register dataset versions")
    _require_team(user, dataset.team_id)
    if metadata.get("external_uri"):
        raise DataError("Give either a file or an external_uri.", field="file")
    start, end = metadata.get("collected_from"), metadata.get("collected_to")
    if start and end and start > end:
        raise DataError("collected_from is after collected_to.", field="collected_from")
    try:
        fmt = detect_format(file_path, name=file_name)
        digest, size = hash_file(file_path)
    except IngestError as exc:
        raise DataError(str(exc), code="invalid_file", field=exc.field) from None
    if size > settings.DATASET_MAX_BYTES:
        raise DataError(
            f"The file is {size:,} bytes; the limit is {settings.DATASET_MAX_BYTES:,} (DATASET_MAX_BYTES). "
            "Register larger data by external_uri.",
            code="too_large",
            status=413,
            field="file",
        )
    stored = store_by_hash(file_path, folder="datasets", sha256=digest, suffix=f".{fmt}")
    with transaction.atomic():
        upload = DatasetUpload.objects.create(
            dataset=dataset,
            file=stored,
            sha256=digest,
            size_bytes=size,
            original_name=file_name[:255],
            metadata={k: _json_safe(v) for k, v in metadata.items() if v not in (None, "")},
            actor={"kind": actor.kind, "user_id": actor.user_id, "token_id": actor.token_id},
            created_by=user,
        )
        transaction.on_commit(lambda: enqueue(JOB, upload.pk))
    return upload


def _json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def run_dataset_upload(upload_id: int) -> str:
    """The worker's half: register the version from the stored file, or record why it is refused. Safe to run
    again (a job delivered twice, or again after its worker died): a finished upload is left as it is, and the
    version and the upload's status commit together."""
    upload = DatasetUpload.objects.select_related("dataset", "created_by").filter(pk=upload_id).first()
    if upload is None or upload.status in (UploadStatus.DONE, UploadStatus.REFUSED):
        return "gone" if upload is None else str(upload.status)
    DatasetUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING)
    metadata = dict(upload.metadata)
    for key in _DATES:
        if metadata.get(key):
            metadata[key] = date.fromisoformat(metadata[key])
    try:
        copy = local_path(upload.file, sha256=upload.sha256)
        if hash_file(copy)[0] != upload.sha256:  # local storage hands its own file over unchecked
            raise StoredFileError(f"{upload.file} no longer hashes to {upload.sha256}")
        with transaction.atomic():
            version = do_register_dataset_version(
                dataset=upload.dataset,
                user=upload.created_by,
                actor=Actor(**upload.actor),
                file_path=copy,
                file_name=upload.original_name,
                **metadata,
            )
            _finish(upload, status=UploadStatus.DONE, version=version)
    except DataError as exc:
        _refuse(upload, str(exc), exc.field)
    except StoredFileError as exc:
        _refuse(upload, f"The stored file could not be read back as it was uploaded: {exc}", "file")
    return str(upload.status)


def _refuse(upload: DatasetUpload, error: str, field: str) -> None:
    """A refused upload keeps its reason and leaves nothing else behind: its stored file goes unless a version or
    another upload holds the same bytes (names are content-addressed)."""
    _finish(upload, status=UploadStatus.REFUSED, error=error, error_field=field)
    held = DatasetVersion.objects.filter(file=upload.file).exists() or (
        DatasetUpload.objects.filter(file=upload.file)
        .exclude(pk=upload.pk)
        .exclude(status=UploadStatus.REFUSED)
        .exists()
    )
    if not held:
        default_storage.delete(upload.file)


def _finish(
    upload: DatasetUpload, *, status: str, version: DatasetVersion | None = None, error: str = "", error_field: str = ""
) -> None:
    upload.status = status
    upload.version = version
    upload.error = error
    upload.error_field = error_field
    upload.finished_at = timezone.now()
    upload.save(update_fields=["status", "version", "error", "error_field", "finished_at"])
