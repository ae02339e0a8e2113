"""Content-addressed file storage shared by every app that keeps uploaded bytes (artifacts, datasets)."""

from __future__ import annotations

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
