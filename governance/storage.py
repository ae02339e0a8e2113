"""Content-addressed file storage shared by every app that keeps uploaded bytes (artifacts, datasets)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage


def store_by_hash(path: Path, *, folder: str, sha256: str, suffix: str) -> str:
    """Save ``path`` as ``<folder>/<sha256[:2]>/<sha256><suffix>`` unless those bytes are stored already; returns the
    storage name. Callers run it before their transaction: a failed transaction leaves an unreferenced file behind,
    never a record whose file is missing."""
    name = f"{folder}/{sha256[:2]}/{sha256}{suffix}"
    if not default_storage.exists(name):
        with path.open("rb") as handle:
            name = default_storage.save(name, File(handle))
    return name


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
    if not default_storage.exists(name):
        return "missing"
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        return f"holds other bytes (sha256 {digest.hexdigest()}, expected {sha256})"
    return None
