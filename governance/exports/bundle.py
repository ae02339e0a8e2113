"""Writing an evidence bundle: a deterministic ZIP ending in a signed manifest (pure; no Django).

Determinism: members are written in the order the caller adds them, every member has the same fixed timestamp
(1980-01-01 00:00:00, the earliest a ZIP can say), the same permissions and the same compression, so the same
content always gives the same bytes. The manifest (``manifest.json``) lists every other member with its sha256 and
size, and ``manifest.sig`` holds a detached Ed25519 signature over the manifest's exact bytes, written as one
C2SP signed-note signature line (``— <key name> base64(4-byte key id || 64-byte signature)``) so the verifier knows
which key signed. ``manifest.json`` never ends with a newline, so its bytes can never be a signed note's text
(those always do): a manifest signature cannot be replayed as a checkpoint signature, nor the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

BUNDLE_FORMAT = "assay-bundle/1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def signature_line(*, key_name: str, key_id: bytes, signature: bytes) -> bytes:
    """The detached signature as one C2SP signature line, newline-terminated."""
    return f"\u2014 {key_name} {base64.b64encode(key_id + signature).decode('ascii')}\n".encode()


class BundleWriter:
    """Streams members into a ZIP, remembering each one's sha256 and size for the manifest."""

    def __init__(self, target: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.entries: list[dict[str, Any]] = []
        self._names: set[str] = set()

    def _info(self, path: str) -> zipfile.ZipInfo:
        if not _MEMBER_NAME.fullmatch(path) or path in (MANIFEST, MANIFEST_SIG):
            raise ValueError(f"bad bundle member name {path!r}")
        if path in self._names:
            raise ValueError(f"bundle member {path!r} is added twice")
        self._names.add(path)
        info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # "Unix", whatever system builds it, so the bytes do not depend on the host
        info.external_attr = 0o644 << 16
        return info

    def add(self, path: str, data: bytes) -> None:
        """Add one member whose bytes are in memory."""
        self.add_stream(path, [data])

    def add_json(self, path: str, document: Any) -> None:
        """Add a JSON document (sorted keys, two-space indent, final newline)."""
        self.add(path, json_bytes(document))

    def add_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        """Add one member from chunks (large members never need to be whole in memory)."""
        info = self._info(path)
        digest, size = hashlib.sha256(), 0
        with self._zip.open(info, "w", force_zip64=True) as member:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                member.write(chunk)
        self.entries.append({"path": path, "sha256": digest.hexdigest(), "size": size})

    def finish(self, header: Mapping[str, Any], sign: Callable[[bytes], bytes]) -> bytes:
        """Write ``manifest.json`` (``header`` plus the file list) and ``manifest.sig``; return the manifest bytes.

        ``sign`` turns the manifest's bytes into the signature line (see :func:`signature_line`).
        """
        manifest = manifest_bytes(header=header, entries=self.entries)
        for name, data in ((MANIFEST, manifest), (MANIFEST_SIG, sign(manifest))):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            self._zip.writestr(info, data)
        self._zip.close()
        return manifest


def json_bytes(document: Any) -> bytes:
    """Readable, stable JSON: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()


def manifest_bytes(*, header: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> bytes:
    """The manifest's exact bytes: JSON with sorted keys and no final newline (see the module docstring)."""
    if "files" in header or "format" in header:
        raise ValueError("the manifest header may not set 'files' or 'format'")
    document = {**header, "format": BUNDLE_FORMAT, "files": sorted(entries, key=lambda entry: entry["path"])}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False).encode()
