"""Hashing an upload while it is streamed to storage, and telling Parquet from CSV by the file's bytes (standard library
only).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from governance.data.ingest.limits import IngestError, _human_size

PARQUET_MAGIC = b"PAR1"


def copy_and_hash(src: BinaryIO, dst: BinaryIO, *, max_bytes: int, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Stream ``src`` into ``dst`` chunk by chunk and return ``(sha256 hex digest, size in bytes)``.

    :param src: readable binary stream (an upload); read with ``read(chunk_size)`` until it returns nothing.
    :param dst: writable binary stream; receives exactly the bytes read, up to the limit.
    :param max_bytes: largest accepted size; one byte more raises :class:`IngestError` before that chunk is
        written, so ``dst`` may hold a partial copy that the caller must discard.
    :param chunk_size: bytes per read; the whole file is never held in memory.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(chunk_size):
        size += len(chunk)
        if size > max_bytes:
            raise IngestError(f"The file is larger than {_human_size(max_bytes)}, the largest file Assay accepts.")
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path, *, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Return ``(sha256 hex digest, size in bytes)`` of a file on disk, read in chunks of ``chunk_size``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            size += len(chunk)
            digest.update(chunk)
    return digest.hexdigest(), size


def detect_format(path: Path, *, name: str = "") -> str:
    """``"parquet"`` when the file starts and ends with the Parquet magic ``PAR1``, else ``"csv"``.

    :param path: the stored file.
    :param name: the name the user gave the file (defaults to ``path.name``); a name ending in ``.parquet`` whose
        content is not Parquet is an :class:`IngestError`, as is an empty file.
    """
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{name} is empty.")
    with path.open("rb") as f:
        head = f.read(len(PARQUET_MAGIC))
        tail = b""
        if size >= 2 * len(PARQUET_MAGIC):
            f.seek(-len(PARQUET_MAGIC), os.SEEK_END)
            tail = f.read(len(PARQUET_MAGIC))
    if head == PARQUET_MAGIC and tail == PARQUET_MAGIC:
        return "parquet"
    if name.lower().endswith(".parquet"):
        if head == PARQUET_MAGIC:
            raise IngestError(
                f"{name} is not a Parquet file (no PAR1 magic at its end): the upload may be truncated."
                " Upload the complete .parquet file."
            )
        raise IngestError(f"{name} is not a Parquet file (no PAR1 magic at its start). Upload a Parquet or CSV file.")
    return "csv"
