"""Turning an evaluation table and column roles into the arrays every check reads (pure: no Django).

Outcomes are binary and favourable-first: ``y_true`` is 1 where the label is the favourable value, ``y_pred`` is 1
where the decision is favourable (the prediction column equals the favourable value, or the score is at least the
threshold, or the model predicts the favourable class). Selection rate is therefore the rate of favourable
decisions, as in the EEOC guidelines and NYC LL144.

Scores come from the score column, or, when the model decides, from the model: its probability of the favourable
class, with the class found by the model's own metadata (a skops estimator's ``classes_``, an ONNX graph's class
labels). A model that gives no probabilities, or does not say which column is which class, leaves the scores out,
and ``no_scores_reason`` says why, so that a check needing scores (ROC-AUC) can say so instead of guessing.

The package follows those steps, and everything is importable from ``audits.evaluation``: ``roles`` (the column
roles and their parsing), ``vocabulary`` (values as text, and one spelling per value), ``columns`` (labels,
decisions, scores, protected values and unknown masks), ``model`` (the model's decisions and scores) and ``build``
(``build_evaluation`` and the ``Evaluation`` it returns).
"""

from audits.evaluation.build import Evaluation, build_evaluation
from audits.evaluation.roles import (
    MAX_EXCLUSIONS,
    MAX_JUSTIFICATION,
    MAX_NAME,
    MAX_PROTECTED,
    MAX_UNKNOWN_TOKENS,
    ROLE_NAME,
    ColumnRoles,
    EvaluationError,
)

__all__ = [
    "MAX_EXCLUSIONS",
    "MAX_JUSTIFICATION",
    "MAX_NAME",
    "MAX_PROTECTED",
    "MAX_UNKNOWN_TOKENS",
    "ROLE_NAME",
    "ColumnRoles",
    "Evaluation",
    "EvaluationError",
    "build_evaluation",
]
