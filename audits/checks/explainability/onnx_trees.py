"""An ONNX tree ensemble (``TreeEnsembleClassifier`` or ``TreeEnsembleRegressor`` of ai.onnx.ml, as skl2onnx
writes scikit-learn's trees, forests and gradient boosting) read into the tree format shap's TreeExplainer takes
(a dict of trees), with a numpy evaluator of the same trees (pure; no Django).

Read only when the graph is one such node on the graph's single input (through Cast or Identity), its outputs
passed on unchanged (Identity, Cast, ZipMap), every split is ``BRANCH_LEQ`` (x <= threshold goes to the true
branch, as in scikit-learn and shap) and the score is one number per row:

- a binary classifier whose leaves all score one class (skl2onnx's binary form: ``class_ids`` all 0, which
  onnxruntime reads as the score of the second class): with ``post_transform`` LOGISTIC the sum of leaves and base
  value is the second class's log-odds (gradient boosting); with NONE it is the second class's probability (a
  forest, whose leaf weights are already divided by the number of trees);
- a regressor with one target and SUM or AVERAGE aggregation.

The favourable class's output is the second class's, or its opposite (log-odds negated; probability 1 - p). The
caller checks the result against the loaded model's own outputs before using it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

_PASS_THROUGH = frozenset({"Identity", "Cast"})
TREE_OPERATORS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})


@dataclass(frozen=True)
class OnnxTrees:
    """The trees as shap's dict format, their score for the favourable class and what it is."""

    model: dict[str, Any]  # {"trees": [...], "base_offset": float, "tree_output": str}
    score: Callable[[np.ndarray], np.ndarray]
    kind: str  # "log_odds", "probability" or "value"
    operator: str = ""  # the ONNX operator read


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_onnx_trees(model: Any, favourable: str, classes: list[str] | None) -> OnnxTrees | str:
    """The graph's tree ensemble, or why it is not read (a clause)."""
    from onnx import helper

    graph = model.graph
    kinds = sorted({node.op_type for node in graph.node})
    trees = [node for node in graph.node if node.op_type in TREE_OPERATORS]
    if len(trees) != 1 or not set(kinds) <= {*TREE_OPERATORS, "ZipMap", *_PASS_THROUGH} or len(graph.input) != 1:
        return f"its ONNX graph ({', '.join(kinds)}) is not a single tree ensemble Assay reads"
    node = trees[0]
    producers = {output: n for n in graph.node for output in n.output}
    name = node.input[0]
    for _ in range(len(graph.node) + 1):
        if name == graph.input[0].name:
            break
        before = producers.get(name)
        if before is None or before.op_type not in _PASS_THROUGH:
            return "its tree ensemble does not read the model's input directly"
        name = before.input[0]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if any(_text(mode) not in ("BRANCH_LEQ", "LEAF") for mode in attributes.get("nodes_modes", [])):
        return "its tree ensemble has splits other than BRANCH_LEQ"
    post = _text(attributes.get("post_transform", b"NONE"))
    base_values = list(attributes.get("base_values", []) or [0.0])
    if node.op_type == "TreeEnsembleRegressor":
        found = _regressor(attributes, post, base_values)
    else:
        found = _classifier(attributes, post, base_values, favourable, classes)
    return found if isinstance(found, str) else replace(found, operator=node.op_type)


def _regressor(attributes: dict[str, Any], post: str, base_values: list[float]) -> OnnxTrees | str:
    if int(attributes.get("n_targets", 1)) != 1 or post != "NONE" or len(base_values) != 1:
        return "its TreeEnsembleRegressor has more than one target or a post-transform"
    aggregate = _text(attributes.get("aggregate_function", b"SUM"))
    if aggregate not in ("SUM", "AVERAGE"):
        return f"its TreeEnsembleRegressor aggregates by {aggregate}"
    tree_ids = list(attributes["target_treeids"])
    scale = 1.0 / len(set(attributes["nodes_treeids"])) if aggregate == "AVERAGE" else 1.0
    weights = [scale * w for w in attributes["target_weights"]]
    return _built(attributes, (tree_ids, list(attributes["target_nodeids"]), weights), float(base_values[0]), "value")


def _classifier(
    attributes: dict[str, Any], post: str, base_values: list[float], favourable: str, classes: list[str] | None
) -> OnnxTrees | str:
    if classes is None or len(classes) != 2 or classes.count(favourable) != 1:
        return f"its classes ({classes}) are not two named classes with {favourable!r} once"
    if set(attributes.get("class_ids", [])) != {0} or len(base_values) != 1:
        return "its TreeEnsembleClassifier does not score one class (the binary form)"
    if post not in ("LOGISTIC", "NONE"):
        return f"its TreeEnsembleClassifier's post-transform is {post}"
    second = classes.index(favourable) == 1
    kind = "log_odds" if post == "LOGISTIC" else "probability"
    sign = 1.0 if second else -1.0
    weights = [sign * w for w in attributes["class_weights"]]
    base = float(base_values[0])
    # The favourable class's output: the second class's log-odds or probability, or their opposite.
    offset = sign * base if kind == "log_odds" or second else 1.0 - base
    leaves = (list(attributes["class_treeids"]), list(attributes["class_nodeids"]), weights)
    return _built(attributes, leaves, offset, kind)


def _built(
    attributes: dict[str, Any], leaves: tuple[list[int], list[int], list[float]], offset: float, kind: str
) -> OnnxTrees:
    """shap's dict of trees from the node arrays and the leaf weights (tree id, node id, weight)."""
    tree_ids = np.asarray(attributes["nodes_treeids"], dtype=np.int64)
    node_ids = np.asarray(attributes["nodes_nodeids"], dtype=np.int64)
    features = np.asarray(attributes["nodes_featureids"], dtype=np.int64)
    thresholds = np.asarray(attributes["nodes_values"], dtype=np.float64)
    modes = [_text(m) for m in attributes["nodes_modes"]]
    true_ids = np.asarray(attributes["nodes_truenodeids"], dtype=np.int64)
    false_ids = np.asarray(attributes["nodes_falsenodeids"], dtype=np.int64)
    missing_true = np.asarray(attributes.get("nodes_missing_value_tracks_true") or [0] * len(modes), dtype=np.int64)
    trees: list[dict[str, np.ndarray]] = []
    for tree in np.unique(tree_ids):
        mine = np.flatnonzero(tree_ids == tree)
        size = int(node_ids[mine].max()) + 1
        left = np.full(size, -1, dtype=np.int32)
        right = np.full(size, -1, dtype=np.int32)
        default = np.full(size, -1, dtype=np.int32)
        feature = np.full(size, -2, dtype=np.int32)
        threshold = np.zeros(size, dtype=np.float64)
        for i in mine:
            n = node_ids[i]
            if modes[i] == "LEAF":
                continue
            left[n], right[n], feature[n], threshold[n] = true_ids[i], false_ids[i], features[i], thresholds[i]
            default[n] = true_ids[i] if missing_true[i] else false_ids[i]
        trees.append(
            {
                "children_left": left,
                "children_right": right,
                "children_default": default,
                "features": feature,
                "thresholds": threshold,
                "values": np.zeros((size, 1), dtype=np.float64),
                "node_sample_weight": np.ones(size, dtype=np.float64),
            }
        )
    index = {int(t): k for k, t in enumerate(np.unique(tree_ids))}
    for tree, n, weight in zip(*leaves, strict=True):
        trees[index[int(tree)]]["values"][int(n), 0] += float(weight)
    output = {"log_odds": "log_odds", "probability": "probability", "value": "raw_value"}[kind]
    shap_model = {"trees": trees, "base_offset": offset, "tree_output": output}

    def score(matrix: np.ndarray) -> np.ndarray:
        return evaluate(trees, np.asarray(matrix, dtype=np.float64)) + offset

    return OnnxTrees(shap_model, score, kind)


def evaluate(trees: list[dict[str, np.ndarray]], matrix: np.ndarray) -> np.ndarray:
    """The sum of the trees' leaf values reached by each row of ``matrix`` (x <= threshold goes left; a NaN goes
    the default way)."""
    total = np.zeros(len(matrix))
    rows = np.arange(len(matrix))
    for tree in trees:
        node = np.zeros(len(matrix), dtype=np.int64)
        left, right, default = tree["children_left"], tree["children_right"], tree["children_default"]
        for _ in range(len(left)):
            inner = left[node] >= 0
            if not inner.any():
                break
            value = matrix[rows, np.where(inner, tree["features"][node], 0)]
            step = np.where(value <= tree["thresholds"][node], left[node], right[node])
            step = np.where(np.isnan(value), default[node], step)
            node = np.where(inner, step, node)
        total += tree["values"][node, 0]
    return total
