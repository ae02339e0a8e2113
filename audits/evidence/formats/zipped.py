"""Reading members of a zip file with bounds, for Inspect's ``.eval`` logs (pure: no Django).

A zip can claim small sizes and expand without limit (a "zip bomb"), or hold thousands of members. Each member is
read through a decompressor that stops at the member's declared size and at ``MAX_UNPACKED_BYTES`` for the whole
file, and a member that expands more than ``MAX_COMPRESSION_RATIO`` times is refused before it is read. Inspect
compresses members with Zstandard (zip method 93), which Python's ``zipfile`` reads only from 3.14; those are
decompressed here with ``zstandard``, multi-frame, from the member's raw bytes.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import IO, Any

from audits.evidence.formats.common import (
    MAX_COMPRESSION_RATIO,
    MAX_MEMBERS,
    MAX_UNPACKED_BYTES,
    EvidenceFormatError,
    check_size,
)

_ZSTD = 93
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CHUNK = 1 << 16


class BoundedZip:
    """A zip file opened for bounded reads: ``names`` lists its members; ``read(name)`` returns one member's bytes."""

    def __init__(self, path: Path) -> None:
        check_size(path)
        self._path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise EvidenceFormatError(f"the file is not a readable zip archive: {exc}") from None
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise EvidenceFormatError(f"the archive holds {len(infos):,} members; at most {MAX_MEMBERS:,} are read")
        declared = sum(info.file_size for info in infos)
        if declared > MAX_UNPACKED_BYTES:
            raise EvidenceFormatError(
                f"the archive unpacks to {declared:,} bytes; at most {MAX_UNPACKED_BYTES:,} are read"
            )
        self._infos = {info.filename: info for info in infos}
        self._read = 0

    def __enter__(self) -> BoundedZip:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str) -> bytes:
        """The member's bytes, refusing a member that expands beyond what it declares or what the bounds allow."""
        info = self._infos.get(name)
        if info is None:
            raise EvidenceFormatError(f"the archive has no member {name!r}")
        if info.flag_bits & 0x1:
            raise EvidenceFormatError(f"the archive member {name!r} is encrypted")
        if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1024):
            raise EvidenceFormatError(
                f"the archive member {name!r} expands {info.file_size:,} bytes from {info.compress_size:,}: "
                "refused as a likely zip bomb"
            )
        limit = min(info.file_size, MAX_UNPACKED_BYTES - self._read)
        if info.compress_type == _ZSTD:
            data = self._read_zstd(info, limit)
        elif info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            try:
                with self._zip.open(info) as member:
                    data = _read_at_most(member, limit, name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise EvidenceFormatError(f"the archive member {name!r} cannot be read: {exc}") from None
        else:
            raise EvidenceFormatError(
                f"the archive member {name!r} uses an unsupported compression ({info.compress_type})"
            )
        if len(data) != info.file_size:
            raise EvidenceFormatError(
                f"the archive member {name!r} holds {len(data):,} bytes, not the {info.file_size:,} it declares"
            )
        self._read += len(data)
        return data

    def _read_zstd(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        import zstandard  # noqa: PLC0415 - about 70 ms to import: the web process loads it only for a .eval log

        with self._path.open("rb") as handle:
            handle.seek(info.header_offset)
            header = handle.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
                raise EvidenceFormatError(f"the archive member {info.filename!r} has no valid local header")
            fields = _LOCAL_HEADER.unpack(header)
            handle.seek(fields[9] + fields[10], 1)  # the name and the extra field
            raw = handle.read(info.compress_size)
        if len(raw) != info.compress_size:
            raise EvidenceFormatError(f"the archive member {info.filename!r} is truncated")
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            return _read_at_most(reader, limit, info.filename)
        except zstandard.ZstdError as exc:
            raise EvidenceFormatError(f"the archive member {info.filename!r} cannot be decompressed: {exc}") from None


def _read_at_most(stream: IO[bytes], limit: int, name: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise EvidenceFormatError(f"the archive member {name!r} expands beyond its declared size or the limit")
        parts.append(chunk)
    return b"".join(parts)
