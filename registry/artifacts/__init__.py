"""Identify, validate and load uploaded model artifacts, without ever unpickling anything.

Pure Python, no Django: views and actions pass a path on disk and get back plain values or an
:class:`ArtifactError` whose message is written for the person who uploaded the file.

Two formats are accepted:

* **ONNX**, checked with ``onnx.checker`` and loaded with onnxruntime (a graph of tensor operations:
  loading it never runs Python code);
* **skops**, loaded only when every type the file names is in :data:`SKOPS_ALLOWED_TYPES`.

Everything else is refused, and pickles (including joblib files, compressed or not, and ZIP archives
that carry one, such as PyTorch ``.pt`` files) are refused with an explanation and the conversion to
use instead, because loading a pickle runs whatever code its author chose.

Files are identified by their content, never by their name alone: a pickle renamed ``model.onnx``
is still a pickle. The name only matters to refuse early (``.pkl``) and to catch a mismatch
(``model.onnx`` whose bytes are a skops file).

Heavy libraries (onnx, onnxruntime, skops, scikit-learn) are imported inside the functions that need
them, so importing this package costs the web process nothing it does not load already (numpy, imported
at the top, is loaded at start-up by the monitoring app).

One module per concern: ``common`` (the refusal, the limits and the settings they come from), ``sniff``
(recognising a file by its bytes), ``bounds`` (archive and ONNX graph limits, checked before anything is unpacked or
built), ``onnx`` and ``skops`` (inspecting, loading and scoring each format), ``fitted_state`` (checks of a loaded
skops model's native structures), ``predictors`` (the interface of a loaded model and its class probabilities) and
``entry`` (:func:`inspect_artifact`, :func:`load_predictor`). This package re-exports their public API (the names
below), so ``from registry.artifacts import ...`` keeps working; a test that replaces a name patches the module that
uses it (``registry.artifacts.sniff``), not this package.
"""

from __future__ import annotations

from registry.artifacts.common import ERROR_CODES, ArtifactError, ArtifactLimits, InspectedArtifact, use_settings
from registry.artifacts.entry import inspect_artifact, load_predictor
from registry.artifacts.predictors import Predictor, ProbabilitiesUnavailable, label_text
from registry.artifacts.skops import SKOPS_ALLOWED_TYPES

__all__ = [
    "ERROR_CODES",
    "SKOPS_ALLOWED_TYPES",
    "ArtifactError",
    "ArtifactLimits",
    "InspectedArtifact",
    "Predictor",
    "ProbabilitiesUnavailable",
    "inspect_artifact",
    "label_text",
    "load_predictor",
    "use_settings",
]
