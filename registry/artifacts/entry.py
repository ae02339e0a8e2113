"""The two entry points: :func:`inspect_artifact` (an upload: identify, validate, describe) and :func:`load_predictor`
(a stored artifact, ready to score).
"""

from __future__ import annotations

import os
from pathlib import PurePath

from registry.artifacts.common import ArtifactError, ArtifactLimits, InspectedArtifact
from registry.artifacts.onnx import _inspect_onnx, _OnnxPredictor
from registry.artifacts.predictors import Predictor
from registry.artifacts.skops import _inspect_skops, _load_skops, _SkopsPredictor
from registry.artifacts.sniff import (
    _FORMAT_NAMES,
    _claimed_format,
    _classify_zip,
    _display_name,
    _pickle_refusal,
    _read_head,
    _regular_file_size,
    _sha256_file,
    _sniff,
    _unrecognised,
)


def inspect_artifact(
    path: str | os.PathLike[str], *, filename: str, max_bytes: int, limits: ArtifactLimits | None = None
) -> InspectedArtifact:
    """Identify, validate and describe an uploaded artifact stored at ``path`` (original name ``filename``).

    Raises :class:`ArtifactError` for anything that is not a loadable ONNX model or an allow-listed
    skops file, or that would unpack or build more than ``limits`` allow (default: the configured ones);
    the error's message tells the uploader what is wrong and what to do about it.
    """
    path = os.fspath(path)
    limits = limits or ArtifactLimits.configured()
    name = _display_name(filename)
    size = _regular_file_size(path, name)
    if size == 0:
        raise ArtifactError("empty", f"{name} is empty (0 bytes). Export the model again and upload the file.")
    if size > max_bytes:
        # Decided from the file's metadata: an oversized upload is never read.
        raise ArtifactError(
            "too_large",
            f"{name} is {size:,} bytes, above Assay's limit of {max_bytes:,} bytes per model artifact. "
            "Upload a smaller model, or ask an administrator whether the limit can be raised.",
            details={"size": size, "max_bytes": max_bytes},
        )

    claimed = _claimed_format(name)
    if claimed == "pickle":
        # Refused before a byte is read: nothing good can come of looking inside.
        raise _pickle_refusal(name, detected="a Python pickle or joblib file, going by its name")

    head = _read_head(path)
    kind, detected = _sniff(path, head, size)

    if kind == "pickle":
        raise _pickle_refusal(name, detected=detected, claimed=claimed)
    if kind == "zip":
        framework = _classify_zip(path, name, claimed=claimed, limits=limits)
    elif kind == "onnx" or (kind == "unknown" and claimed == "onnx"):
        framework = "onnx"
    else:
        raise _unrecognised(name, kind=kind, detected=detected, claimed=claimed)

    if claimed is not None and claimed != framework:
        raise ArtifactError(
            "extension_mismatch",
            f"{name} is named like {_FORMAT_NAMES[claimed]} but its content is {_FORMAT_NAMES[framework]}. "
            f"Rename it to {PurePath(name).stem}.{framework} and upload it again.",
            details={"claimed": claimed, "detected": framework},
        )

    if framework == "onnx":
        input_schema, output_schema, details = _inspect_onnx(path, name, looks_like_onnx=kind == "onnx", limits=limits)
    else:
        input_schema, output_schema, details = _inspect_skops(path, name, limits=limits)

    sha256, hashed = _sha256_file(path)
    if hashed != size:
        raise ArtifactError("corrupt", f"{name} changed while it was being checked. Upload it again.")
    return InspectedArtifact(
        framework=framework,
        sha256=sha256,
        size=size,
        input_schema=input_schema,
        output_schema=output_schema,
        details=details,
    )


def load_predictor(path: str | os.PathLike[str], *, framework: str, limits: ArtifactLimits | None = None) -> Predictor:
    """Load an artifact that :func:`inspect_artifact` accepted, ready to score.

    The checks that guard loading (no external data for ONNX; the size limits; the allow-list and the
    fitted-state checks for skops) run again here, so a file altered in storage after its upload is still refused.
    """
    path = os.fspath(path)
    name = PurePath(path).name
    limits = limits or ArtifactLimits.configured()
    if framework == "onnx":
        return _OnnxPredictor(path, name, limits=limits)
    if framework == "skops":
        return _SkopsPredictor(_load_skops(path, name, limits=limits).estimator)
    raise ArtifactError("unknown_format", f"Unknown model framework {framework!r}: expected 'onnx' or 'skops'.")
