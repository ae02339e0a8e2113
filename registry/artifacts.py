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

Heavy libraries (onnx, onnxruntime, skops, scikit-learn, numpy) are imported inside the functions
that need them, so importing this module costs nothing to the web process.
"""

from __future__ import annotations

import bz2
import copy
import functools
import hashlib
import io
import json
import lzma
import math
import os
import pickletools
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

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

ERROR_CODES = frozenset(
    {
        "corrupt",  # recognised as ONNX or skops, but damaged, truncated or internally inconsistent
        "empty",
        "extension_mismatch",  # a valid artifact of the other accepted format under a misleading name
        "external_data",  # an ONNX model whose weights live in other files
        "not_onnx",  # named .onnx, but the bytes are not an ONNX model
        "not_skops",  # named .skops, but the bytes are not a skops file
        "pickle_refused",
        "too_large",
        "unknown_format",
        "untrusted_types",  # a skops file naming types outside SKOPS_ALLOWED_TYPES
    }
)

_CHUNK = 1 << 20  # hashing and decompression read this much at a time
_HEAD = 64 * 1024  # enough of the start of a file to recognise every format we look for
_PEEK_COMPRESSED_LIMIT = 8 * _CHUNK  # compressed input fed to a decompressor to see what is inside
_REASON_LIMIT = 300  # characters of a library's error message quoted back to the uploader

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".lzma", ".z")

_CONVERT_ADVICE = (
    "Convert the model to one of the formats Assay accepts and upload that file instead: "
    "ONNX, with skl2onnx: `onx = skl2onnx.to_onnx(model, X[:1].astype(numpy.float32))` then "
    "`open('model.onnx', 'wb').write(onx.SerializeToString())`; "
    "or skops: `skops.io.dump(model, 'model.skops')`."
)


class ArtifactError(ValueError):
    """Refusal with a message meant for the uploader (what is wrong and what to do).

    ``code`` is a stable machine code from :data:`ERROR_CODES`; ``details`` holds plain,
    JSON-serialisable values such as ``{"untrusted_types": [...]}``.
    """

    code: str
    details: dict[str, Any]

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        assert code in ERROR_CODES, code
        # args are (code, message) so that task queues which rebuild exceptions as cls(*args) can.
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message), {"details": self.details})


@dataclass(frozen=True)
class ArtifactLimits:
    """How much an artifact may make Assay unpack, parse or build before it is refused ("too_large", 413).

    Each bound is a setting (README, "Settings"); the defaults leave room for the largest models seen in practice
    (a 300-tree random forest saved with skops is 100 MB in 1,500 members with a 4.6 MB schema.json) while keeping
    one upload far below a worker's memory. Every bound is checked from the file's own directory or graph before
    anything is unpacked or built, and the archive bounds are enforced again while reading.
    """

    max_unpacked_bytes: int = 1 << 30  # ARTIFACT_MAX_UNPACKED_BYTES: an archive's members, an ONNX graph's tensors
    max_member_bytes: int = 512 << 20  # ARTIFACT_MAX_MEMBER_BYTES: one member, unpacked
    max_members: int = 100_000  # ARTIFACT_MAX_MEMBERS
    # SKOPS_MAX_SCHEMA_BYTES: schema.json is parsed whole, into 3x its size (a real one) to 20x (crafted tiny objects)
    max_schema_bytes: int = 32 << 20
    onnx_max_nodes: int = 100_000  # ONNX_MAX_NODES: nodes of every graph, subgraph and function
    onnx_max_tensor_bytes: int = 256 << 20  # ONNX_MAX_TENSOR_BYTES: one initializer, constant or folded tensor

    SETTINGS = {
        "max_unpacked_bytes": "ARTIFACT_MAX_UNPACKED_BYTES",
        "max_member_bytes": "ARTIFACT_MAX_MEMBER_BYTES",
        "max_members": "ARTIFACT_MAX_MEMBERS",
        "max_schema_bytes": "SKOPS_MAX_SCHEMA_BYTES",
        "onnx_max_nodes": "ONNX_MAX_NODES",
        "onnx_max_tensor_bytes": "ONNX_MAX_TENSOR_BYTES",
    }

    @classmethod
    def from_settings(cls, source: Any) -> ArtifactLimits:
        """The limits ``source`` names (any object with the :attr:`SETTINGS` attributes, such as Django's settings);
        one it lacks keeps its default."""
        defaults = cls()
        return cls(**{field: getattr(source, name, getattr(defaults, field)) for field, name in cls.SETTINGS.items()})

    @classmethod
    def configured(cls) -> ArtifactLimits:
        """The limits of the settings installed with :func:`use_settings`, else the defaults.

        Artifacts are inspected by the web process and loaded again by workers and commands: each gets the
        operator's limits without every caller passing them along.
        """
        return cls() if _settings_source is None else cls.from_settings(_settings_source)


# Where ArtifactLimits.configured() reads the limits: Django's settings, installed by registry.apps at start-up, so
# that this module imports no framework (a script or a child process without Django gets the defaults).
_settings_source: Any = None


def use_settings(source: Any) -> None:
    """Read the limits from ``source`` (Django's settings object, read afresh on every inspection) from now on."""
    global _settings_source  # noqa: PLW0603 - one process-wide source, installed once at start-up
    _settings_source = source


def _limit_refusal(
    name: str, *, what: str, measured: int, field: str, limits: ArtifactLimits, unit: str = "bytes"
) -> ArtifactError:
    """A too_large refusal naming the measure, the limit and the setting that holds it."""
    limit = getattr(limits, field)
    setting = ArtifactLimits.SETTINGS[field]
    return ArtifactError(
        "too_large",
        f"{name} {what} {measured:,} {unit}, above Assay's limit of {limit:,} ({setting}). Assay refuses it before "
        f"unpacking or building anything, so that one upload cannot exhaust the server's memory. Upload a smaller "
        f"model, or ask an administrator whether {setting} can be raised.",
        details={"limit": setting, "max": limit, "measured": measured},
    )


@dataclass(frozen=True)
class InspectedArtifact:
    """What an accepted artifact is: its format, identity (hash, size) and input/output schema."""

    framework: str  # "onnx" or "skops"
    sha256: str  # lowercase hex of the exact bytes
    size: int  # bytes
    input_schema: list[dict[str, Any]]  # [{"name": str, "type": str, "shape": [int | str | None, ...]}]
    output_schema: list[dict[str, Any]]
    details: dict[str, Any]


# The skops allow-list. skops rebuilds an object by importing the type a file names and setting its
# state, so the types below are exactly the code an uploaded skops file can make Assay import and
# instantiate. Every name was observed in files written by skops.io.dump for the listed estimators
# (skops.io.get_untrusted_types plus a scan of each file's schema.json); nothing is allowed on the
# grounds that skops itself trusts it by default. Left out on purpose: FunctionTransformer and
# anything holding a callable (a file could name builtins.eval, os.system or any function), bound
# methods, functools.partial, operator getters, scipy sparse matrices and any estimator not reviewed.
# The tree types skops leaves untrusted (Tree, TreePredictor, KDTree, BallTree) are allowed because
# _check_fitted_state() verifies their node arrays after loading; see there.
SKOPS_ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        # Python built-ins: containers and scalars holding hyper-parameters and fitted values. Building
        # them runs no code of the file's choosing.
        "builtins.bool",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        # numpy: arrays (skops reads them with allow_pickle=False), dtypes, scalar types, and random
        # state objects (their state is validated by numpy; skops only builds numpy's bit generators).
        "numpy.bool",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.random.mtrand.RandomState",
        "numpy.str_",
        "numpy.uint64",
        # Linear models: fitted state is coefficient arrays, prediction is numpy arithmetic. The
        # SGD loss objects are only used while fitting.
        "sklearn.linear_model._base.LinearRegression",
        "sklearn.linear_model._coordinate_descent.ElasticNet",
        "sklearn.linear_model._coordinate_descent.Lasso",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._logistic.LogisticRegressionCV",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.linear_model._sgd_fast.EpsilonInsensitive",
        "sklearn.linear_model._sgd_fast.Hinge",
        "sklearn.linear_model._sgd_fast.ModifiedHuber",
        "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive",
        "sklearn.linear_model._sgd_fast.SquaredHinge",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDRegressor",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.svm._classes.LinearSVR",
        # Decision trees, forests and boosting. sklearn.tree._tree.Tree holds node indices that
        # scikit-learn follows without bounds checks, so its node arrays are verified after loading.
        "sklearn.dummy.DummyClassifier",
        "sklearn.dummy.DummyRegressor",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._forest.ExtraTreesRegressor",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._gb.GradientBoostingRegressor",
        "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.tree._classes.ExtraTreeRegressor",
        "sklearn.tree._tree.Tree",
        # HistGradientBoosting: the binner, the per-iteration tree predictors (node arrays verified
        # after loading, like Tree) and its label encoder.
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.preprocessing._label.LabelEncoder",
        # Loss and link functions of the boosting models and SGD: parameter-free or a few floats.
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyExponentialLoss",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfGammaLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfPoissonLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyHuberLoss",
        "sklearn._loss._loss.CyPinballLoss",
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.PinballLoss",
        # Naive Bayes: per-class means, variances and counts; prediction is numpy arithmetic.
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.naive_bayes.ComplementNB",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.MultinomialNB",
        # Kernel SVMs: libsvm reads the support vectors through counts stored in the file, so their
        # shapes are verified after loading.
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.SVR",
        # k-nearest neighbours, their search trees (index arrays verified after loading) and the
        # parameter-free distance metrics (weighted Minkowski and Mahalanobis are left out).
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._regression.KNeighborsRegressor",
        # Composition: containers of other (allowed) estimators.
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.pipeline.Pipeline",
        # Preprocessing: statistics learnt from the data, applied with numpy. OneHotEncoder's output
        # indices are verified after loading.
        "sklearn.decomposition._pca.PCA",
        "sklearn.impute._base.MissingIndicator",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.preprocessing._data.MaxAbsScaler",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._data.RobustScaler",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
    }
)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


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


class ProbabilitiesUnavailable(Exception):
    """A model cannot give the probability of a class; the message says why, as a clause ("the model gives no
    class probabilities ...") that an audit quotes where it reports what it could not compute."""


def label_text(value: Any) -> str:
    """A model's output or class label as the text audits compare with a label's values: a whole float is written
    as an integer (1.0 is "1", as in a CSV column of floats), anything else as ``str`` gives it."""
    kind = getattr(getattr(value, "dtype", None), "kind", "")  # numpy scalars
    if (isinstance(value, float) or kind == "f") and float(value).is_integer():
        return str(int(value))
    return str(value)


class Predictor:
    """A loaded model, ready to score; created by :func:`load_predictor`."""

    framework: str
    feature_names: list[str] | None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels (classifiers) or values (regressors), one per row of ``X``."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        """Class probabilities of shape ``(n_rows, n_classes)``, or None when the model has none."""
        raise NotImplementedError

    def class_labels(self) -> list[str] | None:
        """The model's classes as :func:`label_text`, in the column order of :meth:`predict_proba`; None when the
        model gives no probabilities or does not say which class each column is."""
        raise NotImplementedError

    def probability_of(self, X: np.ndarray, label: str) -> np.ndarray:
        """Each row's probability of the class whose :func:`label_text` is ``label``, as float64.

        Raises :class:`ProbabilitiesUnavailable` when the model has no class probabilities, when the order of its
        probability columns is not known from the model itself, when no class (or more than one) reads as
        ``label``, or when the output it calls probabilities is not (rows outside [0, 1] or not summing to 1).
        """
        raise NotImplementedError


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


# Probabilities as float32 sum to 1 within about 1e-6; a decision score misses by far more.
_PROBABILITY_TOLERANCE = 1e-3


def _class_column(classes: list[str], label: str) -> int:
    """The column of the class that reads as ``label`` among ``classes`` (texts, in probability column order)."""
    found = [index for index, text in enumerate(classes) if text == label]
    shown = ", ".join(repr(text) for text in classes[:10]) + (", ..." if len(classes) > 10 else "")
    if not found:
        raise ProbabilitiesUnavailable(f"the model's classes ({shown}) do not include {label!r}")
    if len(found) > 1:
        raise ProbabilitiesUnavailable(f"more than one of the model's classes ({shown}) reads as {label!r}")
    return found[0]


def _checked_probabilities(values: Any, *, classes: list[str] | None, output: str) -> np.ndarray:
    """``values`` as a float64 matrix, once it is seen to hold one probability per class (of ``classes``, when
    known) in every row."""
    import numpy as np

    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbabilitiesUnavailable(f"the model's {output} is not numeric") from None
    if matrix.ndim != 2 or (classes is not None and matrix.shape[1] != len(classes)):
        count = f"its {len(classes)}" if classes is not None else "its"
        raise ProbabilitiesUnavailable(
            f"the model's {output} has shape {matrix.shape}, not one column for each of {count} classes"
        )
    tolerance = _PROBABILITY_TOLERANCE
    if len(matrix) and (
        not np.isfinite(matrix).all()
        or matrix.min() < -tolerance
        or matrix.max() > 1 + tolerance
        or np.abs(matrix.sum(axis=1) - 1).max() > tolerance
    ):
        raise ProbabilitiesUnavailable(
            f"the model's {output} is not class probabilities (values outside [0, 1], or rows that do not add up to "
            "1): it may be a decision score"
        )
    return matrix


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


def _read_varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


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


# ---------------------------------------------------------------------------------------------
# Archives: bounded before they are opened, and while they are read
# ---------------------------------------------------------------------------------------------

_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")


def _zip_member_count(path: str) -> int | None:
    """The number of members a ZIP's end record declares, read from the file's last 64 KiB without parsing the
    central directory (which zipfile turns into one object per member); None when no end record is found."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        tail_start = max(0, size - (_EOCD.size + 0xFFFF))
        f.seek(tail_start)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _EOCD.size > len(tail):
            return None
        count = _EOCD.unpack_from(tail, at)[4]
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
            record_offset = _ZIP64_LOCATOR.unpack_from(tail, locator_at)[2]
            f.seek(record_offset)
            record = f.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                count = max(count, _ZIP64_EOCD.unpack(record)[6])
        return count


@contextmanager
def _bounded_zip(path: str, name: str, limits: ArtifactLimits) -> Iterator[zipfile.ZipFile]:
    """Open a ZIP once its member count, each member's unpacked size and their total are within ``limits``.

    The count comes from the end record before zipfile reads the directory; the sizes from the central directory,
    which is also what zipfile stops reading a member at (a member that inflates to more than its header says
    fails its CRC check at that size): :func:`_read_member` enforces the limits again as it reads.
    """
    declared = _zip_member_count(path)
    if declared is not None and declared > limits.max_members:
        raise _limit_refusal(
            name, what="is an archive of", measured=declared, field="max_members", limits=limits, unit="members"
        )
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _limit_refusal(
                name, what="is an archive of", measured=len(members), field="max_members", limits=limits, unit="members"
            )
        largest = max(members, key=lambda m: m.file_size, default=None)
        if largest is not None and largest.file_size > limits.max_member_bytes:
            raise _limit_refusal(
                name,
                what=f"holds {largest.filename!r}, which unpacks to",
                measured=largest.file_size,
                field="max_member_bytes",
                limits=limits,
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_unpacked_bytes:
            raise _limit_refusal(
                name, what="would unpack to", measured=total, field="max_unpacked_bytes", limits=limits
            )
        yield archive


def _read_member(
    archive: zipfile.ZipFile, member: str, name: str, *, limit: int, field: str, limits: ArtifactLimits
) -> bytes:
    """One member's bytes, read in chunks and refused as soon as they pass ``limit`` (whatever its header says)."""
    chunks: list[bytes] = []
    read = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            read += len(chunk)
            if read > limit:
                raise _limit_refusal(
                    name,
                    what=f"holds {member!r}, which unpacks to at least",
                    measured=read,
                    field=field,
                    limits=limits,
                )
            chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# Errors from the parsing libraries
# ---------------------------------------------------------------------------------------------


def _reason(exc: BaseException | str) -> str:
    """The first line of an error (or warning) message, short enough to show an uploader."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if len(text) > _REASON_LIMIT:
        text = text[: _REASON_LIMIT - 1] + "…"
    return text.rstrip(".")


@contextmanager
def _library_errors(code: str, prefix: str, advice: str = "") -> Iterator[None]:
    """Turn any exception from a parsing library into an ArtifactError with the reason in words."""
    try:
        yield
    except (ArtifactError, MemoryError):
        raise
    except Exception as exc:  # the libraries raise anything from DecodeError to RuntimeError
        raise ArtifactError(code, f"{prefix}: {_reason(exc)}.{' ' + advice if advice else ''}") from exc


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------

_ORT_NUMPY_TYPES = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
    "string": "object",
}


def _inspect_onnx(
    path: str, name: str, *, looks_like_onnx: bool, limits: ArtifactLimits
) -> tuple[list[dict], list[dict], dict[str, Any]]:
    _check_onnx_wire_nodes(path, name, limits)
    model = _load_onnx_proto(path, name, looks_like_onnx=looks_like_onnx)
    import onnx

    _check_onnx_graph(model, name, limits)
    with _library_errors("corrupt", f"{name} is not a valid ONNX model"):
        # A path, not the loaded proto: the checker reads the file itself (no 2 GB protobuf limit).
        onnx.checker.check_model(path, full_check=True)
    # Only the names and types of inputs and outputs are read from this session: without graph optimisations,
    # onnxruntime computes nothing (no constant folding) while creating it.
    session = _onnx_session(path, name, optimize=False)
    opsets: list[dict[str, Any]] = []
    for opset in model.opset_import:
        entry = {"domain": opset.domain or "ai.onnx", "version": int(opset.version)}
        if entry not in opsets:  # skl2onnx repeats the default domain
            opsets.append(entry)
    details = {
        "ir_version": int(model.ir_version),
        "opset_imports": opsets,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": int(model.model_version),
        "graph_name": model.graph.name,
    }
    input_schema = [_ort_schema(arg) for arg in session.get_inputs()]
    output_schema = [_ort_schema(arg) for arg in session.get_outputs()]
    return input_schema, output_schema, details


def _load_onnx_proto(path: str, name: str, *, looks_like_onnx: bool) -> Any:
    import onnx

    if looks_like_onnx:
        code, prefix = "corrupt", f"{name} looks like an ONNX model but cannot be read (the upload may be truncated)"
        advice = "Upload the file again, or export the model again."
    else:
        code, prefix = "not_onnx", f"{name} is not an ONNX model"
        advice = "Export the model to ONNX (for example with skl2onnx) and upload the .onnx file that writes."
    with _library_errors(code, prefix, advice):
        # Never follow external data here: its paths come from the file.
        model = onnx.load(path, load_external_data=False)
    if not model.HasField("graph") or not model.ir_version:
        raise ArtifactError(code, f"{prefix}: it has no graph or no IR version. {advice}")
    external = _external_tensor_names(model)
    if external:
        shown = ", ".join(external[:5]) + (f" and {len(external) - 5} more" if len(external) > 5 else "")
        raise ArtifactError(
            "external_data",
            f"{name} keeps some weights in separate files (ONNX external data: {shown}). Assay accepts only "
            "self-contained models, because the file paths inside such a model could point anywhere on the "
            "server. Save it with the weights inside: `onnx.save_model(model, 'model.onnx', "
            "save_as_external_data=False)` (this works for models under 2 GB).",
            details={"external_tensors": external},
        )
    return model


def _external_tensor_names(model: Any) -> list[str]:
    """Names of every tensor in the model (graphs, subgraphs, functions) stored outside the file."""
    from onnx import TensorProto

    def graph_tensors(graph: Any) -> Iterator[Any]:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in graph.node:
            yield from node_tensors(node)

    def node_tensors(node: Any) -> Iterator[Any]:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield attribute.sparse_tensor.values
                yield attribute.sparse_tensor.indices
            for sparse in attribute.sparse_tensors:
                yield sparse.values
                yield sparse.indices
            if attribute.HasField("g"):
                yield from graph_tensors(attribute.g)
            for graph in attribute.graphs:
                yield from graph_tensors(graph)

    def all_tensors() -> Iterator[Any]:
        yield from graph_tensors(model.graph)
        for info in model.training_info:
            yield from graph_tensors(info.initialization)
            yield from graph_tensors(info.algorithm)
        for function in model.functions:
            for node in function.node:
                yield from node_tensors(node)

    return [t.name or "(unnamed)" for t in all_tensors() if t.data_location == TensorProto.EXTERNAL or t.external_data]


def _onnx_session(path: str, name: str, *, optimize: bool = True) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    # One thread per session and no spinning: a scoring job must not grab every core of the host.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: warnings about unused initializers are noise here
    with _library_errors("corrupt", f"onnxruntime cannot load {name}"):
        return onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _ort_type(ort_type: str) -> str:
    # "tensor(float)" -> "float"; sequences and maps (ZipMap outputs) keep their full description.
    if ort_type.startswith("tensor(") and ort_type.endswith(")"):
        return ort_type[len("tensor(") : -1]
    return ort_type


def _ort_schema(arg: Any) -> dict[str, Any]:
    shape = arg.shape if isinstance(arg.shape, list) else []
    return {
        "name": arg.name,
        "type": _ort_type(arg.type),
        "shape": [dim if isinstance(dim, int | str) else None for dim in shape],
    }


class _OnnxPredictor(Predictor):
    """An onnxruntime session with the conventions of skl2onnx classifiers and regressors."""

    def __init__(self, path: str, name: str, *, limits: ArtifactLimits) -> None:
        import numpy as np

        _check_onnx_wire_nodes(path, name, limits)
        model = _load_onnx_proto(path, name, looks_like_onnx=True)  # refuses external data again
        _check_onnx_graph(model, name, limits)  # before onnxruntime folds any constant
        self.framework = "onnx"
        self._session = _onnx_session(path, name)
        self._inputs = [
            (arg.name, np.dtype(_ORT_NUMPY_TYPES.get(_ort_type(arg.type), "float32")))
            for arg in self._session.get_inputs()
        ]
        outputs = self._session.get_outputs()
        names = [o.name for o in outputs]
        self._label = next((n for n in ("label", "output_label") if n in names), names[0])
        probability = next((n for n in ("probabilities", "output_probability") if n in names), None)
        if probability is None and len(outputs) == 2:
            other = outputs[1 - names.index(self._label)]
            if other.type.startswith("seq(map(") or (other.type == "tensor(float)" and len(other.shape or []) == 2):
                probability = other.name
        self._probability = probability
        self._classes = _onnx_probability_classes(model.graph, probability) if probability else None
        self.feature_names = [n for n, _ in self._inputs] if len(self._inputs) > 1 else None

    def _feeds(self, X: np.ndarray) -> dict[str, np.ndarray]:
        import numpy as np

        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (rows, features), got shape {X.shape}")
        if len(self._inputs) == 1:
            input_name, dtype = self._inputs[0]
            return {input_name: np.ascontiguousarray(X.astype(dtype, copy=False))}
        # One input per column (skl2onnx with a list of initial types): split X in that order.
        if X.shape[1] != len(self._inputs):
            raise ValueError(f"this model takes {len(self._inputs)} columns, X has {X.shape[1]}")
        return {n: np.ascontiguousarray(X[:, [j]].astype(dtype)) for j, (n, dtype) in enumerate(self._inputs)}

    def predict(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        (labels,) = self._session.run([self._label], self._feeds(X))
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()  # regressors give (n, 1); sklearn's predict gives (n,)
        return labels

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        import numpy as np

        if self._probability is None:
            return None
        (probabilities,) = self._session.run([self._probability], self._feeds(X))
        if isinstance(probabilities, list):
            # ZipMap output: one {class: probability} dict per row, classes in the model's order.
            if not probabilities:
                return np.empty((0, 0), dtype=np.float32)
            classes = list(probabilities[0])
            return np.array([[row[c] for c in classes] for row in probabilities], dtype=np.float32)
        return np.asarray(probabilities)

    def class_labels(self) -> list[str] | None:
        return None if self._classes is None else list(self._classes)

    def probability_of(self, X: np.ndarray, label: str) -> np.ndarray:
        import numpy as np

        if self._probability is None:
            raise ProbabilitiesUnavailable("the model gives no class probabilities (its ONNX graph has no such output)")
        output = f"output {self._probability!r}"
        if self._classes is not None:
            _class_column(self._classes, label)  # refused before the model runs
        (probabilities,) = self._session.run([self._probability], self._feeds(X))
        if isinstance(probabilities, list):
            # ZipMap: every row is {class: probability}, so the keys say which class each value is.
            keys = list(probabilities[0]) if probabilities else []
            if not keys:
                return np.empty(0, dtype=np.float64)
            classes = [label_text(key) for key in keys]
            matrix = [[row[key] for key in keys] for row in probabilities]
        elif self._classes is None:
            _checked_probabilities(probabilities, classes=None, output=output)  # a decision score says so first
            raise ProbabilitiesUnavailable(
                f"the model's {output} does not say which class each of its columns is (no ZipMap, and no class "
                "labels on a classifier node producing it); export the model with skl2onnx's ZipMap (its default) "
                "so that the classes are named"
            )
        else:
            classes, matrix = self._classes, probabilities
        return _checked_probabilities(matrix, classes=classes, output=output)[:, _class_column(classes, label)]


# --- ONNX bounds, checked before onnxruntime builds anything ----------------------------------------------------

# Bytes per element of each onnx.TensorProto data type (strings counted as a pointer each; 4-bit types as a byte).
_ONNX_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16}
_ONNX_SMALL = 64  # a constant with at most this many values is read, as the shape or repeats an operator is given
# Operators onnxruntime never folds into constants (their output is drawn at random on every run).
_ONNX_RANDOM = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"}
)


def _check_onnx_wire_nodes(path: str, name: str, limits: ArtifactLimits) -> None:
    """Count the main graph's nodes in the protobuf bytes, before parsing them into one object per node.

    A file of the largest accepted size could hold millions of tiny nodes, which onnx and onnxruntime would each
    expand into far more memory than the file; the scan stops as soon as the limit is passed.
    """
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        graph = _wire_field(data, 0, len(data), field=7)  # ModelProto.graph
        if graph is None:
            return
        for count, _ in enumerate(_wire_fields(data, graph[0], graph[1], field=1), start=1):  # GraphProto.node
            if count > limits.onnx_max_nodes:
                raise _limit_refusal(
                    name,
                    what="has more than",
                    measured=limits.onnx_max_nodes,
                    field="onnx_max_nodes",
                    limits=limits,
                    unit="nodes",
                )


def _wire_fields(data: Any, start: int, end: int, *, field: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each length-delimited ``field`` in a protobuf message held in ``data[start:end]``."""
    pos = start
    while pos < end:
        tag, pos = _read_varint(data, pos)
        if tag is None:
            return
        wire = tag & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if length is None:
                return
            if tag >> 3 == field:
                yield pos, min(pos + length, end)
            pos += length
        else:
            return  # groups or garbage: the parser will say what is wrong


def _wire_field(data: Any, start: int, end: int, *, field: int) -> tuple[int, int] | None:
    return next(_wire_fields(data, start, end, field=field), None)


def _onnx_graphs(model: Any) -> Iterator[Any]:
    """Every graph of a model: the main one, those nested in node attributes (If, Loop, Scan), training graphs."""
    stack = [model.graph]
    for info in model.training_info:
        stack += [info.initialization, info.algorithm]
    while stack:
        graph = stack.pop()
        yield graph
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    stack.append(attribute.g)
                stack.extend(attribute.graphs)


def _tensor_bytes(dims: Iterable[int], data_type: int) -> int:
    elements = 1
    for dim in dims:
        elements *= max(int(dim), 0)
    return elements * _ONNX_ELEMENT_BYTES.get(data_type, 8)


def _check_onnx_graph(model: Any, name: str, limits: ArtifactLimits) -> None:
    """Refuse a graph with too many nodes, or one that holds or computes from constants a tensor above the limit.

    onnxruntime evaluates every node whose inputs are all constants while it creates a session (constant folding),
    so a graph of a few bytes can ask it for gigabytes (ConstantOfShape of a huge shape, Expand, Tile, Range...).
    Sizes are read from each tensor's declared shape, from the shapes given to those operators (constants, or small
    values computed from constants: Shape, Mul, Concat...), and from ONNX shape inference over the constant part of
    the graph; nothing large is ever computed.
    """
    graphs = list(_onnx_graphs(model))
    nodes = sum(len(g.node) for g in graphs) + sum(len(f.node) for f in model.functions)
    if nodes > limits.onnx_max_nodes:
        raise _limit_refusal(name, what="has", measured=nodes, field="onnx_max_nodes", limits=limits, unit="nodes")

    def refuse(tensor: str, size: int, how: str) -> ArtifactError:
        return _limit_refusal(
            name, what=f"{how} tensor {tensor!r} of", measured=size, field="onnx_max_tensor_bytes", limits=limits
        )

    # Each tensor once (by graph and name), at the largest size found for it: many tensors each under the limit
    # could still add up to more than one artifact may unpack to.
    sizes: dict[tuple[int, str], int] = {}
    inferred = _inferred_shapes(model)
    for index, graph in enumerate(graphs):
        for tensor, size, how in _onnx_tensor_sizes(graph, inferred if index == 0 else {}):
            if size > limits.onnx_max_tensor_bytes:
                raise refuse(tensor, size, how)
            sizes[index, tensor] = max(sizes.get((index, tensor), 0), size)
    for output, size in _folded_sizes(model.graph, inferred):
        if size > limits.onnx_max_tensor_bytes:
            raise refuse(output, size, "would compute, from constants alone, the")
        sizes[0, output] = max(sizes.get((0, output), 0), size)
    total = sum(sizes.values())
    if total > limits.max_unpacked_bytes:
        raise _limit_refusal(
            name,
            what="holds, or computes from constants alone, tensors of",
            measured=total,
            field="max_unpacked_bytes",
            limits=limits,
            unit="bytes in all",
        )


def _onnx_tensor_sizes(graph: Any, shapes: dict[str, tuple[int, list[int] | None]]) -> Iterator[tuple[str, int, str]]:
    """(tensor, bytes, how the graph comes by it) for the tensors a graph holds and those it asks for by shape."""
    for tensor in graph.initializer:
        yield tensor.name, _tensor_bytes(tensor.dims, tensor.data_type), "holds the"
    for sparse in graph.sparse_initializer:
        yield sparse.values.name, _tensor_bytes(sparse.dims, sparse.values.data_type), "holds the"
    constants = _small_values(graph, shapes)
    for node in graph.node:
        for output, size in _constant_shape_outputs(node, constants):
            yield output, size, f"asks {node.op_type} for the"
        for attribute in node.attribute:
            for tensor in ([attribute.t] if attribute.HasField("t") else []) + list(attribute.tensors):
                yield (
                    node.output[0] if node.output else node.name,
                    _tensor_bytes(tensor.dims, tensor.data_type),
                    ("holds the"),
                )


def _small_values(graph: Any, shapes: dict[str, tuple[int, list[int] | None]]) -> dict[str, list[float]]:
    """The values of a graph's small constant tensors, by name: initializers and Constant nodes, and what the
    arithmetic of shapes computes from them (Shape of a tensor whose shape is known, Mul, Concat, Gather...), the
    way onnxruntime folds them. Only tensors of at most a few dozen values are ever computed."""
    import numpy as np
    from onnx import numpy_helper

    values: dict[str, Any] = {}
    dims: dict[str, list[int]] = {name: shape for name, (_, shape) in shapes.items() if shape is not None}
    for tensor in graph.initializer:
        dims[tensor.name] = [int(d) for d in tensor.dims]
        if _tensor_bytes(tensor.dims, 1) <= _ONNX_SMALL:
            with suppress(Exception):
                values[tensor.name] = numpy_helper.to_array(tensor).astype(np.float64).ravel()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or len(node.output) != 1:
            continue
        with suppress(Exception):  # anything unexpected: that value stays unknown
            result = _evaluate_small(node, values, dims)
            if result is not None and result.size <= _ONNX_SMALL:
                values[node.output[0]] = result
    return {name: [float(v) for v in array] for name, array in values.items()}


def _evaluate_small(node: Any, values: dict[str, Any], dims: dict[str, list[int]]) -> Any:
    """One node's output as a flat float64 array, when it is shape arithmetic on known small values; else None."""
    import numpy as np

    if node.op_type in ("Constant", "Shape", "Size"):
        return _evaluate_source(node, dims)
    args = [values.get(name) for name in node.input if name]
    if not args or any(a is None for a in args):
        return None
    operation = _small_operations().get(node.op_type)
    return None if operation is None else np.asarray(operation(*args), dtype=np.float64).ravel()


def _evaluate_source(node: Any, dims: dict[str, list[int]]) -> Any:
    """The values of a Constant node, or the Shape or Size of a tensor whose shape is known; else None."""
    import numpy as np
    from onnx import helper, numpy_helper

    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    found: Any = None
    if node.op_type == "Constant":
        if "value" in attributes and _tensor_bytes(attributes["value"].dims, 1) <= _ONNX_SMALL:
            found = numpy_helper.to_array(attributes["value"])
        elif "value_ints" in attributes:
            found = attributes["value_ints"]
        elif "value_int" in attributes:
            found = [attributes["value_int"]]
    elif node.input and (shape := dims.get(node.input[0])) is not None:
        found = (
            shape[attributes.get("start", 0) : attributes.get("end")] if node.op_type == "Shape" else [_product(shape)]
        )
    return None if found is None else np.asarray(found, dtype=np.float64).ravel()


def _slice(data: Any, starts: Any, ends: Any, axes: Any = None, steps: Any = None) -> Any:
    step = int(steps[0]) if steps is not None else 1
    return data[int(starts[0]) : int(min(ends[0], 2**62)) : step]


@functools.cache
def _small_operations() -> dict[str, Callable[..., Any]]:
    """Shape arithmetic onnxruntime folds, on flat arrays of a few values (numpy imported on first use)."""
    import numpy as np

    def same(a: Any, *_: Any) -> Any:  # what reshaping does to the values, taken flat
        return a

    return {
        **dict.fromkeys(("Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten", "Reshape"), same),
        "Neg": np.negative,
        "Abs": np.abs,
        "ReduceProd": lambda a, *_: [np.prod(a)],
        "ReduceSum": lambda a, *_: [np.sum(a)],
        "Add": np.add,
        "Sub": np.subtract,
        "Mul": np.multiply,
        "Div": lambda a, b: np.trunc(a / b),
        "Max": np.maximum,
        "Min": np.minimum,
        "Pow": np.power,
        "Concat": lambda *a: np.concatenate(a),
        "Gather": lambda a, i: a[np.asarray(i).astype(np.int64)],
        "Slice": _slice,
    }


def _product(values: Iterable[float]) -> int:
    result = 1
    for value in values:
        result *= max(int(value), 1) if math.isfinite(value) else 1
    return result


def _constant_shape_outputs(node: Any, constants: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(output, at least how many bytes it will hold) for operators given a constant shape, count or repeats."""
    if node.domain not in ("", "ai.onnx") or not node.output:
        return
    inputs = list(node.input)

    def given(index: int) -> Any:
        return constants.get(inputs[index]) if len(inputs) > index and inputs[index] else None

    op, out = node.op_type, node.output[0]
    if op == "ConstantOfShape" and (shape := given(0)) is not None:
        data_type = next((a.t.data_type for a in node.attribute if a.name == "value"), 1)
        yield out, _product(shape) * _ONNX_ELEMENT_BYTES.get(data_type, 8)
    elif op in ("Expand", "Reshape") and (shape := given(1)) is not None:
        yield out, _product(shape)  # elements, a byte each at least: the input's type is not known here
    elif op == "Tile" and (repeats := given(1)) is not None:
        tiled = given(0)
        yield out, _product(repeats) * max(len(tiled) if tiled is not None else 1, 1)
    elif op == "Range" and all(given(i) is not None and len(given(i)) == 1 for i in range(3)):
        start, limit, delta = (given(i)[0] for i in range(3))
        if delta:
            yield out, max(math.ceil((limit - start) / delta), 0)
    elif op in ("Resize", "Upsample") and (sizes := given(3)) is not None:
        yield out, _product(sizes)


def _inferred_shapes(model: Any) -> dict[str, tuple[int, list[int] | None]]:
    """(element type, static shape or None) of each tensor of the main graph, as ONNX shape inference finds them.

    Inference runs on a light copy of the graph (large initializers replaced by inputs of the same type and shape),
    with data propagation so that shapes computed from constants (Shape, Concat, Gather...) are known.
    """
    import onnx
    from onnx import helper

    graph = model.graph
    small: list[Any] = []
    large: list[Any] = []
    for tensor in graph.initializer:
        (small if _tensor_bytes(tensor.dims, 1) <= _ONNX_SMALL * 4 else large).append(tensor)
    declared = {i.name for i in graph.input}
    extra_inputs = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in large if t.name not in declared
    ]
    light = helper.make_model(
        helper.make_graph(
            list(graph.node),
            graph.name or "g",
            [*graph.input, *extra_inputs],
            list(graph.output),
            initializer=small,
            value_info=list(graph.value_info),
        ),
        opset_imports=list(model.opset_import),
        functions=list(model.functions),
    )
    light.ir_version = model.ir_version
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # an invalid graph: the checker that runs next says why
        return {}
    types: dict[str, tuple[int, list[int] | None]] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = info.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims = [int(d.dim_value) for d in tensor_type.shape.dim if d.HasField("dim_value")]
        static = len(dims) == len(tensor_type.shape.dim)
        types[info.name] = (tensor_type.elem_type, dims if static else None)
    return types


def _folded_sizes(graph: Any, types: dict[str, tuple[int, list[int] | None]]) -> Iterator[tuple[str, int]]:
    """(tensor, bytes) for each tensor of ``graph`` that onnxruntime could fold, sized by shape inference."""
    graph_inputs = {i.name for i in graph.input}
    folded = {t.name for t in graph.initializer if t.name not in graph_inputs}
    for node in graph.node:
        if node.op_type in _ONNX_RANDOM or any(attr.HasField("g") or attr.graphs for attr in node.attribute):
            continue
        if node.op_type != "Constant" and not all(not i or i in folded for i in node.input):
            continue
        if not node.input and node.op_type != "Constant":
            continue
        for output in node.output:
            folded.add(output)
            elem_type, shape = types.get(output, (0, None))
            if shape is not None:
                yield output, _tensor_bytes(shape, elem_type)


# ai.onnx.ml classifier operators, whose outputs are (label, one score per class in classlabels order), and the
# operators that pass a tensor on with its columns unchanged.
_ONNX_CLASSIFIERS = frozenset({"LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier"})
_ONNX_PASS_THROUGH = frozenset({"Identity", "Cast"})


def _onnx_probability_classes(graph: Any, output: str) -> list[str] | None:
    """The classes of probability output ``output``, in column order, as the graph itself declares them.

    That is the class labels of the ZipMap producing it, or of the classifier node whose scores reach it unchanged
    (through Identity or Cast only), as skl2onnx writes classifiers. None when the graph does not say: the output
    is computed some other way (a neural network's softmax, say), and guessing the order could swap the classes.
    """
    producers = {name: node for node in graph.node for name in node.output}
    name = output
    for _ in range(len(graph.node)):  # bounded: a malformed graph could loop
        node = producers.get(name)
        if node is None:
            return None
        if node.domain in ("", "ai.onnx") and node.op_type in _ONNX_PASS_THROUGH and node.input:
            name = node.input[0]
            continue
        if node.domain != "ai.onnx.ml":
            return None
        if node.op_type == "ZipMap" or (node.op_type in _ONNX_CLASSIFIERS and list(node.output).index(name) == 1):
            return _onnx_class_labels(node)
        return None
    return None


def _onnx_class_labels(node: Any) -> list[str] | None:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name.startswith("classlabels_"):
            values = helper.get_attribute_value(attribute)
            if values:
                return [label_text(v.decode("utf-8") if isinstance(v, bytes) else v) for v in values]
    return None


# ---------------------------------------------------------------------------------------------
# skops
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LoadedSkops:
    estimator: Any
    types: frozenset[str]  # every type the file names, all allow-listed
    schema: dict[str, Any]  # the parsed schema.json
    warnings: list[str]  # what scikit-learn said while loading (e.g. a version mismatch)


def _inspect_skops(path: str, name: str, *, limits: ArtifactLimits) -> tuple[list[dict], list[dict], dict[str, Any]]:
    loaded = _load_skops(path, name, limits=limits)
    estimator, schema = loaded.estimator, loaded.schema
    with _library_errors("corrupt", f"{name} loaded but cannot be described"):
        input_schema = _skops_input_schema(estimator)
        output_schema, classes = _skops_output_schema(estimator)
    details: dict[str, Any] = {
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "sklearn_version": _recorded_sklearn_version(schema),
        "skops_version": schema.get("_skops_version") if isinstance(schema.get("_skops_version"), str) else None,
        "skops_protocol": schema.get("protocol"),
        "types": sorted(loaded.types),
        "load_warnings": loaded.warnings,
    }
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None:
        details["n_features_in"] = int(n_features)
    if classes is not None:
        details["classes"] = classes
    return input_schema, output_schema, details


def _load_skops(path: str, name: str, *, limits: ArtifactLimits) -> _LoadedSkops:
    """Check a skops file's size and types (against the allow-list), load it and verify its fitted state."""
    with _library_errors("corrupt", f"{name} is not a readable skops file"):
        # Bounded here too: load_predictor reaches this without _classify_zip, and skops reads every member.
        with _bounded_zip(path, name, limits) as archive:
            limit = min(limits.max_schema_bytes, limits.max_member_bytes)
            field = "max_schema_bytes" if limit == limits.max_schema_bytes else "max_member_bytes"
            schema = json.loads(_read_member(archive, "schema.json", name, limit=limit, field=field, limits=limits))
        if not isinstance(schema, dict):
            raise ArtifactError("corrupt", f"{name} is not a readable skops file: schema.json is not an object.")
        import skops.io

        # Two inventories, both without loading anything: every type named in schema.json, and what
        # skops reports as untrusted (which adds names it derives, such as bound methods). skops
        # trusts some types by default (any scikit-learn estimator, numpy functions); Assay does not.
        types = _schema_type_names(schema) | set(skops.io.get_untrusted_types(file=path))
    untrusted = sorted(types - SKOPS_ALLOWED_TYPES)
    if untrusted:
        shown = ", ".join(untrusted[:10]) + (f" and {len(untrusted) - 10} more" if len(untrusted) > 10 else "")
        raise ArtifactError(
            "untrusted_types",
            f"{name} asks to load types outside Assay's allow-list: {shown}. Loading a type runs its code, "
            "so only reviewed scikit-learn types are accepted. If they are safe, ask an administrator to "
            "review and add them; otherwise rebuild the model from allowed steps, or export it to ONNX.",
            details={"untrusted_types": untrusted},
        )
    with _library_errors("corrupt", f"{name} could not be loaded"):
        import skops.io

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Every type passed here is allow-listed and actually present in the file.
            estimator = skops.io.load(path, trusted=sorted(types))
        _check_fitted_state(estimator, name)
    said = sorted({_reason(w.message) for w in caught})
    return _LoadedSkops(estimator=estimator, types=frozenset(types), schema=schema, warnings=said)


def _schema_type_names(node: Any) -> set[str]:
    """Every "module.Class" named anywhere in a skops schema.json (conservative: extra names only refuse)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            module, cls = item.get("__module__"), item.get("__class__")
            if isinstance(module, str) and isinstance(cls, str):
                found.add(f"{module}.{cls}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _recorded_sklearn_version(schema: dict[str, Any]) -> str | None:
    # scikit-learn records its version in each estimator's state; read the top-level one as saved.
    try:
        raw = schema["content"]["content"]["_sklearn_version"]["content"]
        version = json.loads(raw)
    except (KeyError, TypeError, ValueError):
        return None
    return version if isinstance(version, str) else None


def _skops_input_schema(estimator: Any) -> list[dict[str, Any]]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [{"name": str(n), "type": "float", "shape": [None]} for n in names]
    n_features = getattr(estimator, "n_features_in_", None)
    return [{"name": "X", "type": "float", "shape": [None, int(n_features) if n_features is not None else None]}]


def _skops_output_schema(estimator: Any) -> tuple[list[dict[str, Any]], list[Any] | None]:
    import numpy as np

    classes = getattr(estimator, "classes_", None)
    if classes is not None and hasattr(estimator, "predict"):
        classes = np.asarray(classes)
        if classes.dtype.kind in "biu":
            label_type = "bool" if classes.dtype.kind == "b" else "int64"
        elif classes.dtype.kind == "f":
            label_type = "float"
        else:
            label_type = "string"
        outputs: list[dict[str, Any]] = [{"name": "label", "type": label_type, "shape": [None]}]
        if hasattr(estimator, "predict_proba"):
            outputs.append({"name": "probabilities", "type": "float", "shape": [None, len(classes)]})
        return outputs, classes.tolist()
    if hasattr(estimator, "predict"):
        n_outputs = getattr(estimator, "n_outputs_", 1)
        shape: list[int | None] = [None] if n_outputs == 1 else [None, int(n_outputs)]
        return [{"name": "prediction", "type": "float", "shape": shape}], None
    return [], None


class _SkopsPredictor(Predictor):
    """A scikit-learn estimator loaded from an allow-listed skops file."""

    def __init__(self, estimator: Any) -> None:
        self.framework = "skops"
        self._estimator = estimator
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names = [str(n) for n in names] if names is not None else None

    def predict(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        with warnings.catch_warnings():
            # Callers pass plain arrays in feature_names order; the reminder would fire on every call.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(self._estimator.predict(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        import numpy as np

        if not hasattr(self._estimator, "predict_proba"):
            return None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(self._estimator.predict_proba(X))

    def class_labels(self) -> list[str] | None:
        import numpy as np

        classes = getattr(self._estimator, "classes_", None)
        if classes is None or not hasattr(self._estimator, "predict_proba"):
            return None
        classes = np.asarray(classes)
        # scikit-learn orders predict_proba's columns as classes_; a multi-output model has one array per output.
        return [label_text(c) for c in classes] if classes.ndim == 1 else None

    def probability_of(self, X: np.ndarray, label: str) -> np.ndarray:
        kind = type(self._estimator).__name__
        if not hasattr(self._estimator, "predict_proba"):
            raise ProbabilitiesUnavailable(f"the model gives no class probabilities ({kind} has no predict_proba)")
        classes = self.class_labels()
        if classes is None:
            raise ProbabilitiesUnavailable(
                f"the model does not name its classes ({kind} has no one-dimensional classes_)"
            )
        column = _class_column(classes, label)
        return _checked_probabilities(self.predict_proba(X), classes=classes, output="predict_proba")[:, column]


# ---------------------------------------------------------------------------------------------
# Fitted-state checks for allow-listed types whose native code trusts its own arrays
# ---------------------------------------------------------------------------------------------
#
# skops proves that a file names only allowed types; it cannot prove the values are ones
# scikit-learn could have produced. Decision trees, HistGradientBoosting predictors, KD/ball
# trees, libsvm and gradient boosting follow indices stored in the file from compiled code
# without bounds checks, so a crafted file could make .predict() read or write out of bounds.
# The checks below hold for every model scikit-learn fits (each child node is created after its
# parent, so its index is larger) and bound every index those code paths follow.


class _StateError(Exception):
    """An inconsistency in a loaded estimator's fitted state."""


def _check_fitted_state(estimator: Any, name: str) -> None:
    try:
        _walk_fitted_state(estimator)
    except _StateError as exc:
        raise ArtifactError(
            "corrupt",
            f"{name} loaded, but its fitted state is inconsistent ({exc}). scikit-learn never writes such a "
            "file, so it may be damaged or tampered with; export the model again from the training code.",
        ) from exc


def _walk_fitted_state(root: Any) -> None:
    """Visit every object reachable from ``root`` and check the native structures among them."""
    deferred: list[Callable[[], None]] = []
    # (object, number of columns of the X it is applied to, or None when no ancestor fixes it)
    stack: list[tuple[Any, int | None]] = [(root, None)]
    seen: set[tuple[int, int | None]] = set()
    while stack:
        obj, width = stack.pop()
        if (id(obj), width) not in seen:
            seen.add((id(obj), width))
            stack.extend(_check_and_expand(obj, width, deferred))
    # These run the model's own code, so only once every tree in it has passed the checks.
    for check in deferred:
        check()


def _check_and_expand(obj: Any, width: int | None, deferred: list[Callable[[], None]]) -> list[tuple[Any, int | None]]:
    """Check ``obj`` if it is a native structure; return its children with the width they receive."""
    import numpy as np
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._tree import Tree

    if isinstance(obj, Tree):
        _check_tree(obj, width)
    elif isinstance(obj, TreePredictor):
        _check_tree_predictor(obj, width)
    elif isinstance(obj, KDTree | BallTree):
        _check_binary_tree(obj, width, n_bounds=2 if isinstance(obj, KDTree) else 1)
    elif isinstance(obj, dict):
        return [(value, width) for value in obj.values()]
    elif isinstance(obj, list | tuple):
        return [(value, width) for value in obj]
    elif isinstance(obj, np.ndarray):
        return [(value, width) for value in obj.ravel()] if obj.dtype == object else []
    elif isinstance(obj, BaseEstimator):
        child_width = _check_estimator(obj, width, deferred)
        return [(value, child_width) for value in vars(obj).values()]
    elif type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        return [(value, width) for value in vars(obj).values()]
    return []


def _check_estimator(estimator: Any, width: int | None, deferred: list[Callable[[], None]]) -> int | None:
    """Check one estimator; return the width of X its own sub-estimators and trees receive."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import SVC, SVR

    # Unfitted templates (a forest's `estimator`, a ColumnTransformer's `transformers`) have nothing to check.
    if isinstance(estimator, SVC | SVR) and hasattr(estimator, "support_vectors_"):
        _check_libsvm(estimator)
    if isinstance(estimator, GradientBoostingClassifier | GradientBoostingRegressor) and hasattr(
        estimator, "estimators_"
    ):
        deferred.append(lambda: _check_gradient_boosting(estimator))
    if isinstance(estimator, OneHotEncoder) and hasattr(estimator, "categories_"):
        deferred.append(lambda: _check_one_hot_encoder(estimator))
    if isinstance(estimator, Pipeline | ColumnTransformer):
        # Each step checks the width of what it receives, which is not the width of the input.
        return None
    own = getattr(estimator, "n_features_in_", None)
    if own is None:
        return width
    # An ensemble checks the width of X once, then hands X to its members unchecked: all must agree.
    own = _as_int(own, "n_features_in_")
    if width is not None and own != width:
        raise _StateError(f"{type(estimator).__name__} expects {own} features inside a model given {width}")
    return own


def _as_int(value: Any, what: str) -> int:
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _StateError(f"{what} is {value!r}, not an integer")
    return int(value)


def _check_tree(tree: Any, width: int | None) -> None:
    import numpy as np

    n = _as_int(tree.node_count, "node_count")
    if not 1 <= n <= tree.capacity:
        raise _StateError(f"a decision tree has {n} nodes for a capacity of {tree.capacity}")
    if width is None or tree.n_features != width:
        raise _StateError(f"a decision tree built for {tree.n_features} features sits in a model given {width}")
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    feature = np.asarray(tree.feature, dtype=np.int64)
    index = np.arange(n)
    leaf = left == -1
    if np.any(leaf & (right != -1)):
        raise _StateError("a decision tree has a node with a single child")
    internal = ~leaf
    bad_child = (left <= index) | (left >= n) | (right <= index) | (right >= n)
    if np.any(internal & bad_child):
        raise _StateError("a decision tree node points to a child outside the tree")
    if np.any(internal & ((feature < 0) | (feature >= width))):
        raise _StateError("a decision tree node splits on a feature that does not exist")


def _check_tree_predictor(predictor: Any, width: int | None) -> None:
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or not len(nodes):
        raise _StateError("a gradient boosting tree has a malformed node array")
    if width is None:
        raise _StateError("a gradient boosting tree sits outside a fitted model")
    n = len(nodes)
    index = np.arange(n)
    internal = nodes["is_leaf"] == 0
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    bad_child = (left <= index) | (left >= n) | (right <= index) | (right >= n)
    if np.any(internal & bad_child):
        raise _StateError("a gradient boosting tree node points to a child outside the tree")
    if np.any(internal & ((feature < 0) | (feature >= width))):
        raise _StateError("a gradient boosting tree node splits on a feature that does not exist")
    if np.any(internal & (nodes["is_categorical"] != 0)):
        # Categorical splits index bitsets held elsewhere in the model; such models also need
        # FunctionTransformer, which is not allowed, so no legitimate upload has them.
        raise _StateError("a gradient boosting tree uses categorical splits, which Assay does not accept")


def _check_binary_tree(tree: Any, width: int | None, *, n_bounds: int) -> None:
    import numpy as np

    # The state tuple is what the tree was loaded from: (data, idx_array, node_data, node_bounds,
    # leaf_size, n_levels, n_nodes, n_trims, n_leaves, n_splits, n_calls, dist_metric, sample_weight).
    state = tree.__getstate__()
    data, idx_array, node_data, node_bounds = (np.asarray(a) for a in state[:4])
    n_levels, n_nodes, sample_weight = state[5], state[6], state[12]
    if data.ndim != 2 or width is None or data.shape[1] != width:
        raise _StateError("a neighbours search tree does not match the model's features")
    n_samples = data.shape[0]
    if idx_array.shape != (n_samples,) or not np.array_equal(np.sort(idx_array), np.arange(n_samples)):
        raise _StateError("a neighbours search tree indexes samples that do not exist")
    n_nodes = _as_int(n_nodes, "n_nodes")
    if n_nodes < 1 or node_data.shape != (n_nodes,) or n_nodes != 2 ** _as_int(n_levels, "n_levels") - 1:
        raise _StateError("a neighbours search tree has an inconsistent node count")
    if node_bounds.shape != (n_bounds, n_nodes, width):
        raise _StateError("a neighbours search tree has bounds of the wrong shape")
    start = node_data["idx_start"].astype(np.int64)
    end = node_data["idx_end"].astype(np.int64)
    if np.any((start < 0) | (start > end) | (end > n_samples)):
        raise _StateError("a neighbours search tree node covers samples that do not exist")
    internal = np.flatnonzero(node_data["is_leaf"] == 0)
    if np.any(2 * internal + 2 >= n_nodes):
        raise _StateError("a neighbours search tree node has children outside the tree")
    if sample_weight is not None and np.asarray(sample_weight).shape != (n_samples,):
        raise _StateError("a neighbours search tree has weights for the wrong number of samples")


def _check_libsvm(model: Any) -> None:
    import numpy as np

    if model.kernel not in ("linear", "poly", "rbf", "sigmoid") or getattr(model, "_sparse", False) is not False:
        raise _StateError(f"an SVM with kernel {model.kernel!r} on {'sparse' if model._sparse else 'dense'} data")
    vectors = np.asarray(model.support_vectors_)
    n_support = np.asarray(model._n_support)
    if vectors.ndim != 2 or vectors.shape[1] != _as_int(model.n_features_in_, "n_features_in_"):
        raise _StateError("an SVM's support vectors do not match its features")
    n_vectors = vectors.shape[0]
    classes = getattr(model, "classes_", None)
    n_class = len(classes) if classes is not None else 2  # libsvm regression counts two "classes"
    pairs = n_class * (n_class - 1) // 2
    if n_support.shape != (n_class,) or np.any(n_support < 0):
        raise _StateError("an SVM has malformed support vector counts")
    counted = int(n_support.sum()) if classes is not None else int(n_support[0])
    expected = {
        "support_": (n_vectors,),
        "_dual_coef_": (n_class - 1, n_vectors),
        "dual_coef_": (n_class - 1, n_vectors),
        "_intercept_": (pairs,),
    }
    if counted != n_vectors or any(np.shape(getattr(model, a)) != s for a, s in expected.items()):
        raise _StateError("an SVM's support vectors, coefficients and counts disagree")
    for attribute in ("_probA", "_probB"):
        if np.size(getattr(model, attribute)) not in (0, pairs):
            raise _StateError("an SVM has probability calibration of the wrong size")


def _check_gradient_boosting(model: Any) -> None:
    import numpy as np
    from sklearn.tree import DecisionTreeRegressor

    stages = model.estimators_
    if not isinstance(stages, np.ndarray) or stages.ndim != 2 or stages.size == 0:
        raise _StateError("a gradient boosting model has a malformed list of trees")
    if not all(isinstance(tree, DecisionTreeRegressor) for tree in stages.ravel()):
        raise _StateError("a gradient boosting model holds something other than regression trees")
    # Compiled code adds tree k of each stage into column k of the initial prediction.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        initial = model._raw_predict_init(np.zeros((1, _as_int(model.n_features_in_, "n_features_in_"))))
    if np.ndim(initial) != 2 or np.shape(initial)[1] < stages.shape[1]:
        raise _StateError("a gradient boosting model has more trees per stage than outputs")


def _check_one_hot_encoder(encoder: Any) -> None:
    import numpy as np

    # Its output is a sparse matrix whose column indices come from fitted mappings; a wrong index
    # would be written out of bounds when densified. Encode every known category once and check.
    categories = [np.asarray(c) for c in encoder.categories_]
    if not categories or any(c.ndim != 1 or not len(c) for c in categories):
        raise _StateError("a OneHotEncoder has malformed categories")
    rows = max(len(c) for c in categories)
    probe_input = np.empty((rows, len(categories)), dtype=object)
    for j, column in enumerate(categories):
        values = list(column)
        probe_input[:, j] = values + [values[0]] * (rows - len(values))
    probe = copy.copy(encoder)
    probe.sparse_output = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoded = probe.transform(probe_input)
    if encoded.nnz and (encoded.indices.min() < 0 or encoded.indices.max() >= encoded.shape[1]):
        raise _StateError("a OneHotEncoder maps categories to columns that do not exist")
