"""Content-addressed file storage shared by every app that keeps uploaded bytes (artifacts, datasets, reports).

The store is Django's default storage: files under ``MEDIA_ROOT`` by default, or an S3-protocol bucket every node
shares (``STORAGE_URL``, see ``governance.storage_config``). Code reads stored files through this module, never by
a path under ``MEDIA_ROOT``, so it works on both:

- :func:`open_stream` for bytes read once, front to back (downloads, hashing): never the whole object in memory;
- :func:`local_path` for libraries that need a file on disk (pyarrow, onnxruntime, skops): the file itself on local
  storage, else a copy in this node's cache whose sha256 was checked against the one recorded at upload, so an
  object altered or replaced in the bucket is refused (:class:`StoredFileError`), never audited.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from storages.utils import clean_name

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoredFileError(OSError):
    """A stored object does not hold the bytes recorded for it (altered, replaced or truncated in the store)."""


def store_by_hash(path: Path, *, folder: str, sha256: str, suffix: str) -> str:
    """Save ``path`` as ``<folder>/<sha256[:2]>/<sha256><suffix>`` unless those bytes are stored already; returns the
    storage name. Callers run it before their transaction: a failed transaction leaves an unreferenced file behind,
    never a record whose file is missing. The file is read in parts (a bucket receives a multipart upload), never
    held in memory whole."""
    name = f"{folder}/{sha256[:2]}/{sha256}{suffix}"
    if not default_storage.exists(name):
        with path.open("rb") as handle:
            name = default_storage.save(name, File(handle))
    return name


def is_remote() -> bool:
    """Whether stored files live outside this node's file system (the store has no local paths)."""
    try:
        default_storage.path("probe")
    except NotImplementedError:
        return True
    return False


def open_stream(name: str) -> IO[bytes]:
    """The stored file ``name`` as a binary stream read front to back; ``FileNotFoundError`` when it is missing.

    django-storages' own ``open()`` first copies a whole S3 object into a spooled temporary file; this reads the
    object's body as it arrives, so a download starts at once and costs one buffer of memory."""
    if not is_remote():
        return default_storage.open(name, "rb")
    storage: Any = default_storage
    client = storage.connection.meta.client
    # django-storages' own mapping of a storage name to a key (the prefix of STORAGE_URL, cleaned slashes).
    key = storage._normalize_name(clean_name(name))
    try:
        response = client.get_object(Bucket=storage.bucket_name, Key=key)
    except client.exceptions.NoSuchKey:
        raise FileNotFoundError(f"{name} is not in the store") from None
    return response["Body"]  # type: ignore[no-any-return]  # botocore's StreamingBody: read(n), close()


def local_path(name: str, *, sha256: str) -> Path:
    """A file on this node's disk holding the stored ``name``, whose bytes hash to ``sha256``.

    On local storage this is the stored file itself, read as before. From a bucket, the object is copied once per
    content into ``STORAGE_CACHE_DIR`` (named by its sha256, so a copy is never stale) and hashed on the way: a
    copy whose hash differs is deleted and :class:`StoredFileError` raised. Raises ``FileNotFoundError`` when the
    object is missing, also when a copy is here but the object was removed from the store since (one HEAD request
    per use: what the store no longer holds is not read from a node's cache)."""
    if not is_remote():
        return Path(default_storage.path(name))
    if not _SHA256.fullmatch(sha256 or ""):
        raise StoredFileError(f"{name} has no recorded sha256 to check its copy against")
    suffix = "".join(c for c in PurePosixPath(name).suffix if c.isalnum() or c == ".")[:16]
    folder = Path(settings.STORAGE_CACHE_DIR) / sha256[:2]
    target = folder / f"{sha256}{suffix}"
    if target.is_file():
        if not default_storage.exists(name):  # removed from the store: gone here too, as on local storage
            target.unlink(missing_ok=True)
            raise FileNotFoundError(f"{name} is not in the store")
        os.utime(target)  # most recently used: eviction removes the oldest first
        return target
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".part-", delete=False)  # noqa: SIM115 - renamed below
    try:
        with handle, open_stream(name) as source:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != sha256:
            raise StoredFileError(
                f"{name} in the store holds other bytes (sha256 {digest.hexdigest()}, recorded {sha256}): "
                "it was altered or replaced after its upload, so it is not used"
            )
        os.replace(handle.name, target)  # atomic: another process sees no file or the whole verified one
    finally:
        Path(handle.name).unlink(missing_ok=True)
    _evict(Path(settings.STORAGE_CACHE_DIR), keep=target)
    return target


def _evict(root: Path, *, keep: Path) -> None:
    """Remove the least recently used copies until the cache holds at most ``STORAGE_CACHE_MAX_BYTES``, and parts
    left by a process killed while copying."""
    limit = settings.STORAGE_CACHE_MAX_BYTES
    stale = time.time() - settings.TEMP_FILE_MAX_AGE_SECONDS
    entries = []
    for path in root.glob("*/.*"):  # parts of copies whose process was killed mid-way (cleanup_temp's age)
        with contextlib.suppress(FileNotFoundError):
            if path.name.startswith(".part-") and path.stat().st_mtime < stale:
                path.unlink()
    for path in root.glob("*/*"):
        if path.name.startswith(".") or path == keep:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # another process evicted it
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries) + (keep.stat().st_size if keep.exists() else 0)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        path.unlink(missing_ok=True)  # a process reading it keeps its open handle (POSIX)
        total -= size


# --- what is stored, for verify_media ----------------------------------------------------------------------------

# Each app that keeps files registers a function yielding (what, storage name, sha256) for every file its rows
# reference; the ground floor never imports the apps above it (see registry/hooks.py for the pattern).
StoredFiles = Callable[[], Iterable[tuple[str, str, str]]]
_SOURCES: dict[str, StoredFiles] = {}


def register_stored_files(name: str, source: StoredFiles) -> None:
    """Declare the files an app's rows reference (called from the app's ``ready``)."""
    _SOURCES[name] = source


def stored_files() -> Iterator[tuple[str, str, str]]:
    """Every (what, storage name, expected sha256) the database references, app by app."""
    for name in sorted(_SOURCES):
        yield from _SOURCES[name]()


def file_problem(name: str, sha256: str) -> str | None:
    """Why the stored file ``name`` does not hold the bytes hashing to ``sha256`` (missing, or other bytes)."""
    digest = hashlib.sha256()
    try:
        with open_stream(name) as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return "missing"
    if digest.hexdigest() != sha256:
        return f"holds other bytes (sha256 {digest.hexdigest()}, expected {sha256})"
    return None
