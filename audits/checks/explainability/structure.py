"""What the explainers attribute, and the model's own structure when Assay can read it (pure; no Django).

The explained output is the model's **score** for the favourable class, not its 0/1 decision:

- a linear classifier's or a tree-boosting classifier's **log-odds** of the favourable class (the quantity that is
  additive in the model: a weighted sum, or a sum of trees), read from the model's own coefficients or trees;
- a forest's or a single tree's **probability** of the favourable class (the average of its trees' leaf
  probabilities: additive in the trees);
- any other classifier's **probability** of the favourable class, from the loaded model (``probability_of``);
- a regressor's predicted **value**;
- the favourable **decision** (0 or 1) only when the model gives no probabilities (or the caller passed a decision
  function alone), as before.

``read_structure`` recognises two kinds of structure:

- **linear**: an ONNX graph that is ``[Cast/Identity] [Scaler ...] LinearClassifier|LinearRegressor`` followed only
  by Identity, Cast or ZipMap (skl2onnx's export of a scaler + logistic regression), or a skops ``LogisticRegression``
  (``CV``), ``SGDClassifier`` or linear regressor. The result is the weights and intercept of the score in the raw
  inputs (the scalers folded in).
- **tree**: a skops decision tree, random forest, extra trees, gradient boosting or histogram gradient boosting
  model, which shap's TreeExplainer reads itself; or an ONNX ``TreeEnsembleClassifier``/``TreeEnsembleRegressor``
  graph (skl2onnx's export of those), read into shap's tree format by ``onnx_trees``.

A structure is used only once it is seen to agree with the model: the score it gives on up to 1,000 of the
evaluation's rows must match the loaded model's own probability (or value) within float32 precision; otherwise the
model takes the generic path and the result says why.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.explainability.onnx_trees import TREE_OPERATORS, read_onnx_trees

CHECKED_ROWS = 1000  # rows on which a structure's score is compared with the model's own output
PROBABILITY_TOLERANCE = 1e-5  # float32 probabilities carry about 7 significant digits
VALUE_TOLERANCE = 1e-4  # relative, for a regressor's float32 output

LINEAR_SKOPS = frozenset(
    {
        "LogisticRegression",
        "LogisticRegressionCV",
        "SGDClassifier",
        "LinearRegression",
        "Ridge",
        "Lasso",
        "ElasticNet",
        "SGDRegressor",
        "LinearSVR",
    }
)
TREE_SKOPS = frozenset(
    {
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeRegressor",
        "RandomForestRegressor",
        "ExtraTreesRegressor",
        "GradientBoostingRegressor",
        "HistGradientBoostingRegressor",
    }
)
OUTPUTS = {
    "log_odds": "log-odds of class {favourable!r} (favourable)",
    "probability": "probability of class {favourable!r} (favourable)",
    "value": "the model's predicted value",
}
LOG_ODDS_TREES = frozenset({"GradientBoostingClassifier", "HistGradientBoostingClassifier"})
_PASS_THROUGH = frozenset({"Identity", "Cast"})


@dataclass(frozen=True)
class Score:
    """The number the explainers attribute, for any feature matrix (float64 in, float64 out)."""

    kind: str  # "log_odds", "probability", "value" or "decision"
    output: str  # for people: "log-odds of class '1' (favourable)"
    function: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Structure:
    """The model's own structure, when read: ``linear`` (weights and intercept of the score in the raw inputs) or
    ``tree`` (the estimator, for shap's TreeExplainer, and which output is the favourable class's)."""

    kind: str  # "linear" or "tree"
    source: str  # what was read: "ONNX Scaler + LinearClassifier", "skops GradientBoostingClassifier"
    score: Score
    weights: np.ndarray | None = None
    intercept: float = 0.0
    estimator: Any = None
    class_index: int | None = None  # the favourable class's column in a tree classifier's outputs
    negate: bool = False  # a binary log-odds model whose positive class is the unfavourable one


def _logit(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def model_score(
    model: Any, favourable: str, decide: Callable[[np.ndarray], np.ndarray], *, probabilities: bool, reason: str
) -> tuple[Score, str]:
    """The score of a model without readable structure: its probability of the favourable class when it gives one
    (``probabilities``), else the decision, with the reason it has no probability (``reason``, a clause)."""
    if model is not None and probabilities:

        def probability(matrix: np.ndarray) -> np.ndarray:
            own = model.probability_of(np.asarray(matrix, dtype=np.float32), favourable)
            return np.asarray(own, dtype=np.float64)

        return Score("probability", f"probability of class {favourable!r} (favourable)", probability), ""

    def decision(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(decide(matrix), dtype=np.float64)

    if model is None:
        reason = "no model object was given, only its decisions"
    return Score("decision", "favourable decision (1) or not (0)", decision), reason or "it gives no probabilities"


def read_structure(
    model: Any, favourable: str, features: np.ndarray, *, probabilities: bool
) -> tuple[Structure | None, str]:
    """The model's linear or tree structure, checked against the model's own outputs on ``features``; or None and
    why not (a clause). A classifier's structure is checked against its probability of the favourable class, so it
    is read only when the model gives one (``probabilities``); its classes are the model's own ``class_labels()``
    (the order of its probability columns, as the loaded model states it)."""
    if model is None:
        return None, "no model object was given, only its decisions"
    classes = model.class_labels() if probabilities else None
    try:
        if getattr(model, "framework", "") == "onnx" and getattr(model, "onnx_model", None) is not None:
            found, why = _onnx_structure(model.onnx_model, favourable, classes)
        elif getattr(model, "framework", "") == "skops" and getattr(model, "estimator", None) is not None:
            found, why = _skops_structure(model.estimator, favourable, classes)
        else:
            return None, "the model's structure is not available to read"
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return None, f"its structure could not be read ({exc})"
    if found is None:
        return None, why
    disagreement = _disagreement(found, model, favourable, features[:CHECKED_ROWS])
    if disagreement:
        return None, f"the {found.source} read from it does not reproduce its outputs ({disagreement})"
    return found, ""


def _disagreement(found: Structure, model: Any, favourable: str, sample: np.ndarray) -> str:
    """Empty when ``found``'s score matches the model's own probability (or value) on ``sample``, else how not."""
    if not len(sample):
        return ""
    score = found.score.function(np.asarray(sample, dtype=np.float64))
    if found.score.kind == "value":
        own = np.asarray(model.predict(np.asarray(sample, dtype=np.float32)), dtype=np.float64).reshape(-1)
        gap = float(np.max(np.abs(score - own) / np.maximum(1.0, np.abs(own))))
        return "" if gap <= VALUE_TOLERANCE else f"largest relative difference {gap:.2g}"
    own = np.asarray(model.probability_of(np.asarray(sample, dtype=np.float32), favourable), dtype=np.float64)
    mine = _sigmoid(score) if found.score.kind == "log_odds" else score
    gap = float(np.max(np.abs(mine - own)))
    return "" if gap <= PROBABILITY_TOLERANCE else f"largest probability difference {gap:.2g}"


def _linear_score(weights: np.ndarray, intercept: float, kind: str, output: str) -> Score:
    def linear(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(matrix, dtype=np.float64) @ weights + intercept

    return Score(kind, output, linear)


def _onnx_structure(model: Any, favourable: str, classes: list[str] | None) -> tuple[Structure | None, str]:
    """An ONNX graph's tree ensemble (``onnx_trees``) or scaled linear model."""
    if not any(node.op_type in TREE_OPERATORS for node in model.graph.node):
        return _onnx_linear(model, favourable, classes)
    found = read_onnx_trees(model, favourable, classes)
    if isinstance(found, str):
        return None, found
    output = OUTPUTS[found.kind].format(favourable=favourable)
    score = Score(found.kind, output, found.score)
    return Structure("tree", f"ONNX {found.operator}", score, estimator=found.model), ""


def _onnx_linear(model: Any, favourable: str, classes: list[str] | None) -> tuple[Structure | None, str]:
    """An ONNX graph of scalers and one LinearClassifier or LinearRegressor as the weights of its score."""
    from onnx import helper

    graph = model.graph
    kinds = sorted({node.op_type for node in graph.node})
    linear = [node for node in graph.node if node.op_type in ("LinearClassifier", "LinearRegressor")]
    allowed = {"Scaler", "LinearClassifier", "LinearRegressor", "ZipMap", *_PASS_THROUGH}
    if len(linear) != 1 or not set(kinds) <= allowed or len(graph.input) != 1:
        return None, f"its ONNX graph ({', '.join(kinds)}) is not a scaled linear model Assay reads"
    node = linear[0]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    scalers = _onnx_scalers(graph, node.input[0])
    if scalers is None:
        return None, "its linear node does not read the model's input through scalers only"
    read = (
        _onnx_regressor(attributes)
        if node.op_type == "LinearRegressor"
        else _onnx_classifier(attributes, favourable, classes)
    )
    if isinstance(read, str):
        return None, read
    weights, intercept, kind, output = read
    # Composed in the order they run: ((x - O) * S - o) * s = (x - (O + o / S)) * (S * s).
    offset_total: Any = 0.0
    scale_total: Any = 1.0
    for offset, scale in scalers:
        offset_total = offset_total + offset / scale_total
        scale_total = scale_total * scale
    width = len(weights)
    raw_weights = weights * np.broadcast_to(np.asarray(scale_total, dtype=np.float64), (width,))
    raw_intercept = intercept - float(
        np.sum(raw_weights * np.broadcast_to(np.asarray(offset_total, dtype=np.float64), (width,)))
    )
    source = f"ONNX {'Scaler + ' if scalers else ''}{node.op_type}"
    return Structure(
        "linear", source, _linear_score(raw_weights, raw_intercept, kind, output), raw_weights, raw_intercept
    ), ""


def _onnx_scalers(graph: Any, name: str) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The Scaler nodes (offset, scale) between the graph's input and the tensor ``name``, in the order they run;
    None when anything but a Scaler, Cast or Identity stands between them."""
    from onnx import helper

    producers = {output: n for n in graph.node for output in n.output}
    scalers: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(len(graph.node) + 1):  # bounded: a malformed graph could loop
        if name == graph.input[0].name:
            return scalers[::-1]
        before = producers.get(name)
        if before is None or before.op_type not in ("Scaler", *_PASS_THROUGH):
            return None
        if before.op_type == "Scaler":
            scaler = {a.name: helper.get_attribute_value(a) for a in before.attribute}
            offset = np.asarray(scaler.get("offset", [0.0]), dtype=np.float64)
            scales = np.asarray(scaler.get("scale", [1.0]), dtype=np.float64)
            scalers.append((offset, scales))
        name = before.input[0]
    return None


def _onnx_regressor(attributes: dict[str, Any]) -> tuple[np.ndarray, float, str, str] | str:
    """A LinearRegressor's weights and intercept, or why they are not a single linear output."""
    post = attributes.get("post_transform", b"NONE")
    if int(attributes.get("targets", 1)) != 1 or (post.decode() if isinstance(post, bytes) else str(post)) != "NONE":
        return "its LinearRegressor has more than one target or a post-transform"
    weights = np.asarray(attributes.get("coefficients", []), dtype=np.float64)
    intercepts = np.asarray(attributes.get("intercepts", [0.0]), dtype=np.float64)
    return weights, float(intercepts[0]) if len(intercepts) else 0.0, "value", "the model's predicted value"


def _onnx_classifier(
    attributes: dict[str, Any], favourable: str, classes: list[str] | None
) -> tuple[np.ndarray, float, str, str] | str:
    """A binary LinearClassifier's log-odds of the favourable class as weights and intercept, or why not."""
    labels = attributes.get("classlabels_ints") or attributes.get("classlabels_strings") or []
    if classes is None:
        return "it gives no probabilities of named classes to check its LinearClassifier against"
    if len(labels) != 2 or len(classes) != 2 or classes.count(favourable) != 1:
        return f"its classes ({classes}) are not two with {favourable!r} once"
    index = classes.index(favourable)
    post = attributes.get("post_transform", b"NONE")
    post = post.decode() if isinstance(post, bytes) else str(post)
    coefficients = np.asarray(attributes.get("coefficients", []), dtype=np.float64)
    intercepts = np.asarray(attributes.get("intercepts", [0.0]), dtype=np.float64)
    rows = coefficients.reshape(len(intercepts), -1)
    output = f"log-odds of class {favourable!r} (favourable)"
    if len(rows) == 2 and post == "LOGISTIC":  # p_c = sigmoid(z_c): the log-odds of class c is z_c
        return rows[index], float(intercepts[index]), "log_odds", output
    if len(rows) == 2 and post == "SOFTMAX":  # p_c = softmax(z)_c: the log-odds of class c is z_c - z_other
        return rows[index] - rows[1 - index], float(intercepts[index] - intercepts[1 - index]), "log_odds", output
    if len(rows) == 1 and post == "LOGISTIC":  # one row scores the second class
        sign = 1.0 if index == 1 else -1.0
        return sign * rows[0], sign * float(intercepts[0]), "log_odds", output
    return f"its LinearClassifier's probabilities ({len(rows)} rows, {post}) are not a logistic link"


def _skops_structure(estimator: Any, favourable: str, classes: list[str] | None) -> tuple[Structure | None, str]:
    """A skops estimator's linear weights, or the estimator itself for shap's TreeExplainer."""
    kind_name = type(estimator).__name__
    index = None
    if getattr(estimator, "classes_", None) is not None:
        if classes is None:
            return None, f"{kind_name} gives no probabilities of named classes to check its structure against"
        if len(classes) != 2 or classes.count(favourable) != 1:
            return None, f"{kind_name} has classes {classes}, not two with {favourable!r} once"
        index = classes.index(favourable)
    if kind_name in LINEAR_SKOPS:
        return _skops_linear(estimator, kind_name, favourable, index)
    if kind_name in TREE_SKOPS:
        return _tree_structure(estimator, kind_name, favourable, index), ""
    return None, f"{kind_name} is neither a linear model nor a tree ensemble Assay reads"


def _skops_linear(estimator: Any, kind_name: str, favourable: str, index: int | None) -> tuple[Structure | None, str]:
    coefficients = np.asarray(estimator.coef_, dtype=np.float64)
    intercept = float(np.ravel(np.asarray(getattr(estimator, "intercept_", 0.0), dtype=np.float64))[0])
    if coefficients.ndim == 2 and coefficients.shape[0] != 1:
        return None, f"{kind_name} has {coefficients.shape[0]} coefficient rows"
    weights = coefficients.reshape(-1)
    source = f"skops {kind_name}"
    if index is None:
        score = _linear_score(weights, intercept, "value", "the model's predicted value")
        return Structure("linear", source, score, weights, intercept), ""
    if not hasattr(estimator, "predict_proba"):
        return None, f"{kind_name} gives no class probabilities"
    sign = 1.0 if index == 1 else -1.0  # decision_function is the log-odds of classes_[1]
    output = f"log-odds of class {favourable!r} (favourable)"
    score = _linear_score(sign * weights, sign * intercept, "log_odds", output)
    return Structure("linear", source, score, sign * weights, sign * intercept), ""


def _tree_structure(estimator: Any, kind_name: str, favourable: str, index: int | None) -> Structure:
    def quiet(call: Callable[[Any], Any], matrix: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(call(np.asarray(matrix, dtype=np.float32)), dtype=np.float64)

    if index is None:
        output = "the model's predicted value"
        return Structure(
            "tree",
            f"skops {kind_name}",
            Score("value", output, lambda m: quiet(estimator.predict, m).reshape(-1)),
            estimator=estimator,
        )
    if kind_name in LOG_ODDS_TREES:
        sign = 1.0 if index == 1 else -1.0  # decision_function is the log-odds of classes_[1]

        def log_odds(matrix: np.ndarray) -> np.ndarray:
            return sign * quiet(estimator.decision_function, matrix).reshape(-1)

        output = f"log-odds of class {favourable!r} (favourable)"
        return Structure(
            "tree", f"skops {kind_name}", Score("log_odds", output, log_odds), estimator=estimator, negate=index == 0
        )

    def probability(matrix: np.ndarray) -> np.ndarray:
        return quiet(estimator.predict_proba, matrix)[:, index]

    output = f"probability of class {favourable!r} (favourable)"
    return Structure(
        "tree", f"skops {kind_name}", Score("probability", output, probability), estimator=estimator, class_index=index
    )
