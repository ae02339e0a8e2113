"""Performance: accuracy, precision, recall, F1, and with scores ROC-AUC and Brier score, overall and per group.

Scores are the score column's, or the model's probability of the favourable class when the model decides; without
them ROC-AUC is not computed, and a policy's ``roc_auc_min`` is then insufficient evidence saying why.

Numbers come from scikit-learn's metric functions. A policy threshold (``accuracy_min``, ``balanced_accuracy_min``,
``precision_min``, ``recall_min``, ``f1_min``, ``roc_auc_min``) is judged on the overall figure; per-group figures are
reported for every group, and a group below the minimum size is marked as such rather than judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold

_MINIMUMS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc")


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None) -> dict[str, float | None]:
    from sklearn import metrics

    figures: dict[str, float | None] = {
        "accuracy": finite(metrics.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": finite(metrics.balanced_accuracy_score(y_true, y_pred))
        if len(np.unique(y_true)) == 2
        else None,
        "precision": finite(metrics.precision_score(y_true, y_pred, zero_division=np.nan)),
        "recall": finite(metrics.recall_score(y_true, y_pred, zero_division=np.nan)),
        "f1": finite(metrics.f1_score(y_true, y_pred, zero_division=np.nan)),
    }
    if scores is not None:
        # ROC-AUC is undefined when only one class is present: say so (None) instead of failing.
        both = len(np.unique(y_true)) == 2
        figures["roc_auc"] = finite(metrics.roc_auc_score(y_true, scores)) if both else None
        in_unit = scores.min() >= 0 and scores.max() <= 1
        figures["brier"] = finite(metrics.brier_score_loss(y_true, scores)) if in_unit else None
    return figures


def _why_undefined(metric: str, evaluation: Any) -> str:
    """Why the overall ``metric`` has no value, in words."""
    if metric == "roc_auc" and evaluation.scores is None:
        return evaluation.no_scores_reason or "the audit has no scores"
    if len(np.unique(evaluation.y_true)) < 2:
        return "the labels have one class only"
    return "it is undefined for these decisions (no favourable decision, for example)"


class PerformanceCheck(Check):
    name = "performance"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        overall = _metrics(evaluation.y_true, evaluation.y_pred, evaluation.scores)
        per_group: dict[str, dict[str, Any]] = {}
        for attribute, column in evaluation.protected.items():
            for value in sorted(set(column.tolist())):
                mask = column == value
                n = int(mask.sum())
                entry: dict[str, Any] = {"count": n, "below_min_group_size": n < context.min_group_size}
                entry.update(
                    _metrics(
                        evaluation.y_true[mask],
                        evaluation.y_pred[mask],
                        None if evaluation.scores is None else evaluation.scores[mask],
                    )
                )
                per_group[f"{attribute}={value}"] = entry
        judged, failures, unknown = [], [], []
        for metric in _MINIMUMS:
            key = f"{metric}_min"
            limit = threshold(settings, key)
            if limit is None:
                continue
            value = overall.get(metric)
            entry = {"metric": metric, "limit": limit, "value": value, "basis": basis(settings, key)}
            judged.append(entry)
            if value is None:
                unknown.append(f"{metric} could not be computed: {_why_undefined(metric, evaluation)}")
            elif value < limit:
                failures.append(f"{metric} {value:.3f} is below {limit:g}")
        details = {"overall": overall, "per_group": per_group, "thresholds": judged, "rows": evaluation.rows}
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unknown:
            return self.outcome(INSUFFICIENT, "; ".join(unknown) + ".", **details)
        if not judged:
            return self.outcome(PASS, "Reported only: the policy sets no performance threshold.", **details)
        return self.outcome(PASS, "Every performance threshold is met.", **details)
