"""Recognising an uploaded file by its content (ONNX, skops, pickles, compressed files, text), and the refusals that
explain what a file is and what to upload instead. A name only matters to refuse a pickle early and to catch a
mismatch.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import pickletools
import stat
import zlib
from collections.abc import Callable
from contextlib import suppress
from pathlib import PurePath
from typing import Any

from registry.artifacts.bounds import _bounded_zip, _read_varint
from registry.artifacts.common import _CHUNK, ArtifactError, ArtifactLimits, _reason

_HEAD = 64 * 1024  # enough of the start of a file to recognise every format we look for


_PEEK_COMPRESSED_LIMIT = 8 * _CHUNK  # compressed input fed to a decompressor to see what is inside


_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".lzma", ".z")


_CONVERT_ADVICE = (
    "Convert the model to one of the formats Assay accepts and upload that file instead: "
    "ONNX, with skl2onnx: `onx = skl2onnx.to_onnx(model, X[:1].astype(numpy.float32))` then "
    "`open('model.onnx', 'wb').write(onx.SerializeToString())`; "
    "or skops: `skops.io.dump(model, 'model.skops')`."
)


# ---------------------------------------------------------------------------------------------
# Recognising a file
# ---------------------------------------------------------------------------------------------
_FORMAT_NAMES = {"onnx": "an ONNX model", "skops": "a skops file"}


# (field number, wire type) of every field of onnx.ModelProto, to recognise its serialised form.
_MODEL_PROTO_FIELDS = frozenset(
    {(1, 0), (2, 2), (3, 2), (4, 2), (5, 0), (6, 2), (7, 2), (8, 2), (14, 2), (20, 2), (25, 2), (26, 2)}
)


# First opcodes of protocol 0 and 1 pickles (which, unlike 2 and later, have no header): a global,
# a mark, an empty container, or a scalar.
_PICKLE_LOW_PROTOCOL_STARTS = frozenset(b"(c})]NILFSVUXKJMGiT")


def _display_name(filename: str) -> str:
    # Only the last path component, without control characters, short enough for a message.
    base = PurePath(str(filename).replace("\\", "/")).name or "the uploaded file"
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:200] or "the uploaded file"


def _claimed_format(name: str) -> str | None:
    suffixes = [s.lower() for s in PurePath(name).suffixes]
    last = suffixes[-1] if suffixes else ""
    previous = suffixes[-2] if len(suffixes) > 1 else ""
    # model.pkl.gz and model.joblib.xz are what joblib's compression writes.
    if last in _PICKLE_SUFFIXES or (last in _COMPRESSION_SUFFIXES and previous in _PICKLE_SUFFIXES):
        return "pickle"
    return {".onnx": "onnx", ".skops": "skops"}.get(last)


def _regular_file_size(path: str, name: str) -> int:
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError("unknown_format", f"{name} is not a regular file.")
    return info.st_size


def _read_head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(_HEAD)


def _sha256_file(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    total = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            total += len(chunk)
    return digest.hexdigest(), total


def _sniff(path: str, head: bytes, size: int) -> tuple[str, str]:
    """Classify a file from its bytes: ("zip" | "pickle" | "onnx" | "compressed" | "text" | "unknown", detail)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip", "a ZIP archive"
    protocol = _pickle_kind(head, size)
    if protocol:
        return "pickle", protocol
    compression = _compression_kind(head)
    if compression:
        inner = _peek_decompressed(path, compression)
        if inner is not None and _pickle_kind(inner, None):
            return "pickle", f"a {compression}-compressed pickle, as joblib writes"
        if inner is not None or compression != "zlib":
            # zlib's two-byte header is weak evidence ("x^2" starts a text file), the others are not.
            return "compressed", f"a {compression}-compressed file"
    if _looks_like_onnx(head):
        return "onnx", "an ONNX model"
    return ("text", "a text file") if _looks_like_text(head) else ("unknown", "not a format Assay recognises")


def _pickle_kind(head: bytes, size: int | None) -> str | None:
    """Describe ``head`` if it is the start of a pickle, else None. Never unpickles anything."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a pickle (protocol {head[1]})"  # PROTO opcode: the header of protocols 2 to 5
    if not head or head[0] not in _PICKLE_LOW_PROTOCOL_STARTS:
        return None
    # Protocols 0 and 1 have no header. pickletools.genops only decodes opcodes (it builds no
    # object and imports nothing), so a run of well-formed opcodes is strong evidence of a pickle.
    count = 0
    # Decoding stops at an unknown opcode or where the head ends mid-pickle: both mean "no more evidence".
    with suppress(Exception):
        for opcode, _arg, position in pickletools.genops(io.BytesIO(head)):
            count += 1
            if opcode.name == "STOP":
                # A pickle file ends right after STOP; a short line of text can also decode as "N." or "I1\n.".
                at_end = size is None or position is None or position + 1 == size
                return "a pickle (protocol 0 or 1)" if count >= 2 and at_end else None
            if count >= 16:
                break
    return "a pickle (protocol 0 or 1)" if count >= 16 else None


def _compression_kind(head: bytes) -> str | None:
    # The containers joblib can compress a pickle with.
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


def _peek_decompressed(path: str, compression: str) -> bytes | None:
    """The first bytes of a compressed file's content, or None if it does not decompress."""
    factories: dict[str, Callable[[], Any]] = {
        "gzip": lambda: zlib.decompressobj(wbits=31),
        "zlib": zlib.decompressobj,
        "bz2": bz2.BZ2Decompressor,
        "xz": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
        "lzma": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE),
    }
    decompressor = factories[compression]()
    out = b""
    fed = 0
    try:
        with open(path, "rb") as f:
            # bz2 emits nothing until a whole block (up to 900 kB) is in, hence the loop.
            while len(out) < _HEAD and fed < _PEEK_COMPRESSED_LIMIT and (chunk := f.read(64 * 1024)):
                fed += len(chunk)
                if compression in ("gzip", "zlib"):
                    out += decompressor.decompress(chunk, _HEAD - len(out))
                else:
                    out += decompressor.decompress(chunk, max_length=_HEAD - len(out))
                if getattr(decompressor, "eof", False):
                    break
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    return out or None


def _looks_like_onnx(head: bytes) -> bool:
    # ONNX has no magic number. Every exporter writes ModelProto fields in field order, so a model
    # starts with ir_version (field 1, a small varint) followed by another ModelProto field.
    if len(head) < 3 or head[0] != 0x08:
        return False
    ir_version, pos = _read_varint(head, 1)
    if ir_version is None or not 1 <= ir_version <= 64:
        return False
    tag, _ = _read_varint(head, pos)
    return tag is not None and (tag >> 3, tag & 7) in _MODEL_PROTO_FIELDS


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for cut in range(4):  # the head may end in the middle of a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def _pickle_refusal(name: str, *, detected: str, claimed: str | None = None) -> ArtifactError:
    opening = f"{name} is not {_FORMAT_NAMES[claimed]}: it is" if claimed in _FORMAT_NAMES else f"{name} is"
    return ArtifactError(
        "pickle_refused",
        f"{opening} {detected}. Assay never loads pickles (joblib files are pickles too): loading a pickle "
        "runs whatever code the person who made the file put in it, so a single upload could take over the "
        f"server. {_CONVERT_ADVICE}",
        details={"detected": detected},
    )


def _unrecognised(name: str, *, kind: str, detected: str, claimed: str | None) -> ArtifactError:
    if kind == "compressed":
        hint = "Upload the uncompressed .onnx or .skops file itself."
    else:
        hint = "Assay accepts ONNX models (.onnx) and skops files (.skops)."
    if kind == "unknown":
        what = "skops files are ZIP archives and this is not one" if claimed == "skops" else "its format is unknown"
    else:
        what = f"it is {detected}"
    if claimed == "onnx":
        return ArtifactError("not_onnx", f"{name} is not an ONNX model: {what}. {hint} {_CONVERT_ADVICE}")
    if claimed == "skops":
        return ArtifactError("not_skops", f"{name} is not a skops file: {what}. {hint} {_CONVERT_ADVICE}")
    opening = f"{name} is not in a format Assay recognises." if kind == "unknown" else f"{name} is {detected}."
    return ArtifactError(
        "unknown_format",
        f"{opening} {hint} {_CONVERT_ADVICE}",
        details={"detected": kind if kind == "unknown" else detected},
    )


def _classify_zip(path: str, name: str, *, claimed: str | None, limits: ArtifactLimits) -> str:
    """Return "skops" for a ZIP that is a skops file; refuse pickles inside, other archives, and bombs."""
    try:
        with _bounded_zip(path, name, limits) as archive:
            members = archive.infolist()
            for member in members:
                # A ZIP can smuggle a pickle (PyTorch's .pt files are a pickle plus tensors in a ZIP).
                lowered = member.filename.lower()
                if lowered.endswith(_PICKLE_SUFFIXES):
                    raise _pickle_refusal(name, detected=f"a ZIP archive containing a pickle ({member.filename})")
                if member.is_dir():
                    continue
                with archive.open(member) as stream:
                    start = stream.read(4096)
                if _pickle_kind(start, member.file_size):
                    raise _pickle_refusal(name, detected=f"a ZIP archive containing a pickle ({member.filename})")
            names = {m.filename for m in members}
    except ArtifactError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # zipfile raises BadZipFile, EOFError, OSError, ValueError, NotImplementedError...
        code = "not_onnx" if claimed == "onnx" else "corrupt"
        raise ArtifactError(
            code,
            f"{name} looks like a ZIP archive (the container skops uses) but it cannot be read: "
            f"{_reason(exc)}. The upload may be truncated; upload the file again.",
        ) from exc
    if "schema.json" not in names:
        detected = "a ZIP archive that is not a skops file (it has no schema.json)"
        raise _unrecognised(name, kind="zip", detected=detected, claimed=claimed)
    return "skops"
