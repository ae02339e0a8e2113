"""``build_evaluation``: the table and its column roles (and a model) to the ``Evaluation`` every check reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audits.evaluation.columns import _labels, _missing, _predicted, _protected, _scores, _thresholded
from audits.evaluation.model import _model_scorer, _model_scores
from audits.evaluation.roles import ColumnRoles, EvaluationError


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
    # The loaded model (a registry.artifacts Predictor) that ``predict`` asks, so that explainers can read its
    # structure and score its probability; None when the decisions came from the dataset's columns.
    model: Any = None
    profile: Mapping[str, Any] = field(default_factory=dict)
    rows: int = 0
    no_scores_reason: str = ""  # why ``scores`` is None, as a clause ("the model gives no class probabilities")
    # Whether the model version has an artifact, when the caller says; checks that need the model use it to say
    # what to change when the decisions came from the dataset's columns instead.
    model_artifact: bool | None = None
    # Role -> the data's column it was read from (``protected`` is keyed by role).
    protected_columns: dict[str, str] = field(default_factory=dict)
    # Role -> True where the row's value is unknown (an empty cell, or a token declared in unknown_values): such
    # rows form no group (6 RCNY 5-301). Built by hand without it, a consumer treats "" as unknown.
    unknown: dict[str, np.ndarray] = field(default_factory=dict)
    # How many rows each row stands for, when the evaluation holds counted cells of a source (audits.statistics):
    # the group counts are then sums of these (in integers); None when every row is one row.
    row_weights: np.ndarray | None = None


def build_evaluation(
    table: Any, roles: ColumnRoles, *, predictor: Any = None, model_artifact: bool | None = None
) -> Evaluation:
    """The evaluation arrays from a pyarrow ``table`` and the column ``roles`` (and a model, for predictions).

    Decisions come from the prediction column, else the score column and threshold, else the ``predictor``, which
    then gives the scores too (its probability of the favourable class) when it can. ``model_artifact`` says
    whether the model version has an artifact (None: not said), for the reasons of checks that need the model.

    Values are compared as text, exactly: the decisions (and a model's outputs) may take only the label's values,
    and the favourable value must be one of them, so that a third spelling ('Yes' beside 'yes') is refused rather
    than counted as unfavourable. Numbers in numeric columns are written one way (1.0 is "1"); a text column
    keeps its spelling, so '1.0' against '1' is refused, naming both.

    Raises EvaluationError naming the problem: a missing column, a label or prediction that is not binary, a value
    outside the label's vocabulary, a threshold outside the scores' range, NaN scores, no way to get decisions, a
    protected column whose known values form one group, a reference or excluded group that does not exist.
    """
    if table.num_rows == 0:
        raise EvaluationError("The evaluation dataset has no rows.", field="dataset")
    _missing(table, [roles.label], "label")
    _missing(table, list(roles.protected), "protected")
    _missing(table, [roles.prediction, roles.score], "prediction/score")
    if not roles.protected:
        raise EvaluationError("Name at least one protected attribute column.")
    y_true, values, favourable = _labels(table, roles)
    scores = _scores(table, roles)
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    predict: Any = None
    no_scores_reason = ""
    if roles.prediction:
        y_pred = _predicted(table, roles, values, favourable)
        if scores is None:
            no_scores_reason = (
                f"the audit has no scores: its decisions come from the prediction column {roles.prediction!r} "
                "(name a score column as well)"
            )
    elif scores is not None:
        y_pred = _thresholded(scores, roles)
    elif predictor is not None:
        features, feature_names, predict = _model_scorer(table, roles, predictor, labels=values, favourable=favourable)
        y_pred = predict(features).astype(np.int8)
        scores, no_scores_reason = _model_scores(predictor, features, favourable=favourable)
    else:
        raise EvaluationError(
            "prediction: give a prediction column, or a score column and threshold, or audit a version with a model "
            "artifact."
        )
    protected, unknown = _protected(table, roles)
    return Evaluation(
        y_true=y_true,
        y_pred=y_pred,
        scores=scores,
        protected=protected,
        roles=roles,
        features=features,
        feature_names=feature_names,
        predict=predict,
        model=predictor if predict is not None else None,
        rows=table.num_rows,
        no_scores_reason=no_scores_reason,
        model_artifact=True if predictor is not None else model_artifact,
        protected_columns=roles.protected_columns,
        unknown=unknown,
    )
