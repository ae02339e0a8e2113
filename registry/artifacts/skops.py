"""skops files: the allow-list of types an upload may name, inspection and loading (types checked before anything is
loaded, fitted state checked after), and scoring the loaded scikit-learn estimator.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from registry.artifacts.bounds import _bounded_zip, _read_member
from registry.artifacts.common import ArtifactError, ArtifactLimits, _library_errors, _reason
from registry.artifacts.fitted_state import _check_fitted_state
from registry.artifacts.predictors import (
    Predictor,
    ProbabilitiesUnavailable,
    _checked_probabilities,
    _class_column,
    label_text,
)

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
        self.estimator = estimator  # read by the explainability check (linear weights, trees for TreeSHAP)
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names = [str(n) for n in names] if names is not None else None

    def predict(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # Callers pass plain arrays in feature_names order; the reminder would fire on every call.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(self._estimator.predict(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        if not hasattr(self._estimator, "predict_proba"):
            return None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(self._estimator.predict_proba(X))

    def class_labels(self) -> list[str] | None:
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
