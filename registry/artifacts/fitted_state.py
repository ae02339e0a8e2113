"""Fitted-state checks for allow-listed types whose native code trusts its own arrays.

skops proves that a file names only allowed types; it cannot prove the values are ones
scikit-learn could have produced. Decision trees, HistGradientBoosting predictors, KD/ball
trees, libsvm and gradient boosting follow indices stored in the file from compiled code
without bounds checks, so a crafted file could make .predict() read or write out of bounds.
The checks below hold for every model scikit-learn fits (each child node is created after its
parent, so its index is larger) and bound every index those code paths follow.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from registry.artifacts.common import ArtifactError


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
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _StateError(f"{what} is {value!r}, not an integer")
    return int(value)


def _check_tree(tree: Any, width: int | None) -> None:
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
