"""Turning an evaluation table and column roles into the arrays every check reads (pure: no Django).

Outcomes are binary and favourable-first: ``y_true`` is 1 where the label is the favourable value, ``y_pred`` is 1
where the decision is favourable (the prediction column equals the favourable value, or the score is at least the
threshold, or the model predicts the favourable class). Selection rate is therefore the rate of favourable
decisions, as in the EEOC guidelines and NYC LL144.

Scores come from the score column, or, when the model decides, from the model: its probability of the favourable
class, with the class found by the model's own metadata (a skops estimator's ``classes_``, an ONNX graph's class
labels). A model that gives no probabilities, or does not say which column is which class, leaves the scores out,
and ``no_scores_reason`` says why, so that a check needing scores (ROC-AUC) can say so instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from registry.artifacts import ProbabilitiesUnavailable, label_text


class EvaluationError(ValueError):
    """Inputs that cannot be audited as given (a missing column, a non-binary label...); the message says why."""

    def __init__(self, message: str, *, field: str = "column_roles") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ColumnRoles:
    """Which columns play which part in an audit."""

    label: str
    protected: tuple[str, ...]
    favourable: str = "1"
    prediction: str = ""
    score: str = ""
    threshold: float | None = None
    reference_groups: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ColumnRoles:
        """From the API's JSON (validated there); lists become tuples."""
        return cls(
            label=value["label"],
            protected=tuple(value["protected"]),
            favourable=str(value.get("favourable", "1")),
            prediction=value.get("prediction", "") or "",
            score=value.get("score", "") or "",
            threshold=value.get("threshold"),
            reference_groups=dict(value.get("reference_groups") or {}),
            features=tuple(value.get("features") or ()),
        )

    def as_json(self) -> dict[str, Any]:
        """The canonical JSON form (stored with the run, and hashed into its inputs)."""
        return {
            "label": self.label,
            "protected": list(self.protected),
            "favourable": self.favourable,
            "prediction": self.prediction,
            "score": self.score,
            "threshold": self.threshold,
            "reference_groups": dict(sorted(self.reference_groups.items())),
            "features": list(self.features),
        }


@dataclass
class Evaluation:
    """Everything a check reads: binary outcomes, scores when there are any, protected columns, and (for checks
    that need the model) the feature matrix and a scorer."""

    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray | None
    protected: dict[str, np.ndarray]
    roles: ColumnRoles
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    predict: Any = None  # callable: feature matrix -> binary favourable decisions, when a model artifact exists
    profile: Mapping[str, Any] = field(default_factory=dict)
    rows: int = 0
    no_scores_reason: str = ""  # why ``scores`` is None, as a clause ("the model gives no class probabilities")
    # Whether the model version has an artifact, when the caller says; checks that need the model use it to say
    # what to change when the decisions came from the dataset's columns instead.
    model_artifact: bool | None = None


def _text(column: Any) -> np.ndarray:
    """A column's values as strings (missing values as ""), for comparison with the favourable value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        # 1.0 in a float column is "1" for comparisons with a favourable value given as text.
        values = column.to_numpy(zero_copy_only=False)
        return np.array(["" if math.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(v)) for v in values])
    filled = pc.fill_null(pc.cast(column, pa.string()), "")
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=object).astype(str)


def _missing(table: Any, names: Sequence[str], role: str) -> None:
    absent = [name for name in names if name and name not in table.column_names]
    if absent:
        raise EvaluationError(
            f"{role}: no column named {', '.join(repr(a) for a in absent)}. Columns: {', '.join(table.column_names)}.",
        )


def build_evaluation(
    table: Any, roles: ColumnRoles, *, predictor: Any = None, model_artifact: bool | None = None
) -> Evaluation:
    """The evaluation arrays from a pyarrow ``table`` and the column ``roles`` (and a model, for predictions).

    Decisions come from the prediction column, else the score column and threshold, else the ``predictor``, which
    then gives the scores too (its probability of the favourable class) when it can. ``model_artifact`` says
    whether the model version has an artifact (None: not said), for the reasons of checks that need the model.
    Raises EvaluationError naming the problem: a missing column, a label or prediction that is not binary, a
    threshold outside the scores' range, NaN scores, no way to get decisions, a protected column with one group.
    """
    if table.num_rows == 0:
        raise EvaluationError("The evaluation dataset has no rows.", field="dataset")
    _missing(table, [roles.label], "label")
    _missing(table, list(roles.protected), "protected")
    _missing(table, [roles.prediction, roles.score], "prediction/score")
    if not roles.protected:
        raise EvaluationError("Name at least one protected attribute column.")
    y_true, values = _labels(table, roles)
    scores = _scores(table, roles)
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    predict: Any = None
    no_scores_reason = ""
    if roles.prediction:
        y_pred = _predicted(table, roles, values)
        if scores is None:
            no_scores_reason = (
                f"the audit has no scores: its decisions come from the prediction column {roles.prediction!r} "
                "(name a score column as well)"
            )
    elif scores is not None:
        y_pred = _thresholded(scores, roles)
    elif predictor is not None:
        features, feature_names, predict = _model_scorer(table, roles, predictor, labels=values)
        y_pred = predict(features).astype(np.int8)
        scores, no_scores_reason = _model_scores(predictor, features, favourable=roles.favourable)
    else:
        raise EvaluationError(
            "prediction: give a prediction column, or a score column and threshold, or audit a version with a model "
            "artifact."
        )
    return Evaluation(
        y_true=y_true,
        y_pred=y_pred,
        scores=scores,
        protected=_protected(table, roles),
        roles=roles,
        features=features,
        feature_names=feature_names,
        predict=predict,
        rows=table.num_rows,
        no_scores_reason=no_scores_reason,
        model_artifact=True if predictor is not None else model_artifact,
    )


def _labels(table: Any, roles: ColumnRoles) -> tuple[np.ndarray, list[str]]:
    label = _text(table.column(roles.label))
    if (label == "").any():
        raise EvaluationError(f"label: {int((label == '').sum())} rows have no label value.")
    values = sorted(set(label.tolist()))
    if len(values) > 2:
        shown = ", ".join(repr(v) for v in values[:6])
        raise EvaluationError(f"label: binary checks need two values; {roles.label!r} has {len(values)}: {shown}.")
    if roles.favourable not in values:
        raise EvaluationError(
            f"favourable: {roles.favourable!r} is not a value of {roles.label!r} (values: {', '.join(values)})."
        )
    return (label == roles.favourable).astype(np.int8), values


def _scores(table: Any, roles: ColumnRoles) -> np.ndarray | None:
    import pyarrow.compute as pc

    if not roles.score:
        return None
    try:
        scores = pc.cast(table.column(roles.score), "float64").to_numpy(zero_copy_only=False)
    except Exception:
        raise EvaluationError(f"score: {roles.score!r} is not numeric.") from None
    if np.isnan(scores).any():
        raise EvaluationError(f"score: {int(np.isnan(scores).sum())} rows have no score (NaN or empty).")
    return scores


def _predicted(table: Any, roles: ColumnRoles, values: list[str]) -> np.ndarray:
    prediction = _text(table.column(roles.prediction))
    if (prediction == "").any():
        raise EvaluationError(f"prediction: {int((prediction == '').sum())} rows have no prediction.")
    predicted_values = set(prediction.tolist())
    if len(predicted_values | set(values)) > 2:
        raise EvaluationError(
            f"prediction: values {sorted(predicted_values)} do not match the label's {values} (binary only)."
        )
    return (prediction == roles.favourable).astype(np.int8)


def _thresholded(scores: np.ndarray, roles: ColumnRoles) -> np.ndarray:
    if roles.threshold is None:
        raise EvaluationError("threshold: a score column needs a decision threshold.", field="threshold")
    low, high = float(scores.min()), float(scores.max())
    if not low <= roles.threshold <= high:
        raise EvaluationError(
            f"threshold: {roles.threshold} is outside the scores' range [{low:g}, {high:g}], so every decision "
            "would be the same.",
            field="threshold",
        )
    return (scores >= roles.threshold).astype(np.int8)


def _model_scorer(
    table: Any, roles: ColumnRoles, predictor: Any, *, labels: list[str]
) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """The feature matrix and a function giving the model's favourable decisions for any such matrix."""
    import pyarrow.compute as pc

    feature_names = roles.features or tuple(predictor.feature_names or ())
    if not feature_names:
        raise EvaluationError("features: name the model's input columns (the artifact does not say).")
    _missing(table, list(feature_names), "features (the model's inputs)")
    try:
        features = np.column_stack(
            [pc.cast(table.column(name), "float32").to_numpy(zero_copy_only=False) for name in feature_names]
        )
    except Exception:
        raise EvaluationError("features: the model's input columns must be numeric.") from None
    favourable = roles.favourable

    def outputs(matrix: np.ndarray) -> np.ndarray:
        predicted = np.asarray(predictor.predict(np.asarray(matrix, dtype=np.float32)))
        return np.array([label_text(v) for v in predicted])

    def predict(matrix: np.ndarray) -> np.ndarray:
        return outputs(matrix) == favourable

    # The model must speak the label's language: a model answering "yes"/"no" against labels "1"/"2" would make
    # every decision unfavourable, and equal rates would look fair.
    produced = set(outputs(features[: min(len(features), 5000)]).tolist())
    if not produced <= set(labels):
        raise EvaluationError(
            f"The model's outputs {sorted(produced)[:6]} are not values of the label ({', '.join(labels)}): check "
            "favourable and the label column."
        )
    return features, feature_names, predict


def _model_scores(predictor: Any, features: np.ndarray, *, favourable: str) -> tuple[np.ndarray | None, str]:
    """The model's probability of the ``favourable`` class for each row, or None and the reason it has none."""
    probability_of = getattr(predictor, "probability_of", None)
    if probability_of is None:
        return None, "the model gives no class probabilities"
    try:
        scores = np.asarray(probability_of(np.asarray(features, dtype=np.float32), favourable), dtype=np.float64)
    except ProbabilitiesUnavailable as exc:
        return None, str(exc)
    if scores.shape != (len(features),):
        return None, f"the model gave {scores.shape} probabilities for {len(features)} rows"
    return scores, ""


def _protected(table: Any, roles: ColumnRoles) -> dict[str, np.ndarray]:
    protected = {name: _text(table.column(name)) for name in roles.protected}
    for name, column in protected.items():
        if len(set(column.tolist())) < 2:
            raise EvaluationError(f"protected: every row of {name!r} is in one group; there is nothing to compare.")
    for name, reference in roles.reference_groups.items():
        if name not in protected:
            raise EvaluationError(f"reference_groups: {name!r} is not a protected column.")
        if reference not in set(protected[name].tolist()):
            raise EvaluationError(f"reference_groups: {name!r} has no group {reference!r}.")
    return protected
