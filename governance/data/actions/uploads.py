"""Large dataset uploads profiled by a worker, not by the web node that received them.

A web node parsing and profiling a file in the request holds the parser, the libraries and the request for minutes
(a 1 GiB CSV: 282 s and 305 MiB even streamed). Above ``DATASET_PROFILE_IN_WORKER_BYTES`` the web node only checks
the format and size, hashes and stores the file (streamed, in parts) and answers 202 with an upload to poll; a
worker reads the stored file through its verified copy and registers the version with the same action, the same
checks and the same trail event as a small upload, as the person who uploaded it. A refused file becomes a refused
upload with the reason, and no version; its stored file stays with it (deleting it could race with another upload of
the same bytes, which share the content-addressed name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.access.models import User
from governance.data.actions.common import DataError, _require_scope, _require_team
from governance.data.actions.datasets import do_register_dataset_version
from governance.data.ingest import IngestError, detect_format, hash_file
from governance.data.models import Dataset, DatasetUpload, DatasetVersion, UploadStatus
from governance.jobs import enqueue
from governance.leases import is_stale, worker_identity
from governance.storage import StoredFileError, local_path, store_by_hash
from governance.trail.log import Actor

JOB = "governance.register_dataset_upload"

_DATES = ("collected_from", "collected_to")

# How long a worker's claim on an upload holds without news: profiling 1 GiB takes minutes; a worker that dies on
# this machine is seen at once (governance.leases), elsewhere after this.
_LEASE_SECONDS = 3600.0


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
    """The worker's half: register the version from the stored file, or record why it is refused.

    Safe to run again and twice at once (a job delivered again after its worker died, or while it still works): the
    upload is claimed in a short transaction (only when queued, or when its holder is gone or its lease ran out),
    profiling runs outside any transaction, and the version and the upload's ``done`` commit together, only while
    this worker still holds the claim.
    """
    upload = _claim(upload_id)
    if upload is None:
        found = DatasetUpload.objects.filter(pk=upload_id).values_list("status", flat=True).first()
        return "gone" if found is None else str(found)
    metadata = dict(upload.metadata)
    for key in _DATES:
        if metadata.get(key):
            metadata[key] = date.fromisoformat(metadata[key])
    try:
        copy = local_path(upload.file, sha256=upload.sha256)
        if hash_file(copy)[0] != upload.sha256:  # local storage hands its own file over unchecked
            raise StoredFileError(f"{upload.file} no longer hashes to {upload.sha256}")
        do_register_dataset_version(
            dataset=upload.dataset,
            user=upload.created_by,
            actor=Actor(**upload.actor),
            file_path=copy,
            file_name=upload.original_name,
            on_registered=lambda version: _finish_held(upload, status=UploadStatus.DONE, version=version),
            **metadata,
        )
    except DataError as exc:
        with transaction.atomic():
            _finish_held(upload, status=UploadStatus.REFUSED, error=str(exc), error_field=exc.field)
    except StoredFileError as exc:
        with transaction.atomic():
            _finish_held(
                upload,
                status=UploadStatus.REFUSED,
                error=f"The stored file could not be read back as it was uploaded: {exc}",
                error_field="file",
            )
    except _LostClaim:
        pass  # another worker took over (this one was judged gone): its result stands, nothing of this one's does
    return str(DatasetUpload.objects.get(pk=upload_id).status)


class _LostClaim(Exception):
    """The upload is no longer this worker's: roll back what it was about to commit."""


def _claim(upload_id: int) -> DatasetUpload | None:
    with transaction.atomic():
        upload = (
            DatasetUpload.objects.select_for_update()
            .select_related("dataset", "created_by")
            .filter(pk=upload_id)
            .first()
        )
        if upload is None:
            return None
        now = timezone.now()
        takeover = upload.status == UploadStatus.RUNNING and is_stale(
            upload.claimed_at, upload.holder, lease_seconds=_LEASE_SECONDS, now=now
        )
        if upload.status != UploadStatus.QUEUED and not takeover:
            return None  # done, refused, or in the hands of a live worker
        upload.status, upload.holder, upload.claimed_at = UploadStatus.RUNNING, worker_identity(), now
        upload.save(update_fields=["status", "holder", "claimed_at"])
        return upload


def _finish_held(upload: DatasetUpload, **outcome: Any) -> None:
    """Record the outcome (inside the caller's transaction) if this worker still holds the upload."""
    held = DatasetUpload.objects.select_for_update().filter(
        pk=upload.pk, status=UploadStatus.RUNNING, holder=upload.holder, claimed_at=upload.claimed_at
    )
    if not held.exists():
        raise _LostClaim
    _finish(upload, **outcome)


def _finish(
    upload: DatasetUpload, *, status: str, version: DatasetVersion | None = None, error: str = "", error_field: str = ""
) -> None:
    upload.status = status
    upload.version = version
    upload.error = error
    upload.error_field = error_field
    upload.finished_at = timezone.now()
    upload.save(update_fields=["status", "version", "error", "error_field", "finished_at"])
