"""Performance: accuracy, precision, recall, F1, and with scores ROC-AUC and Brier score, overall and per group.

Scores are the score column's, or the model's probability of the favourable class when the model decides; without
them ROC-AUC is not computed, and a policy's ``roc_auc_min`` is then insufficient evidence saying why.

Numbers come from scikit-learn's metric functions. A policy threshold (``accuracy_min``, ``balanced_accuracy_min``,
``precision_min``, ``recall_min``, ``f1_min``, ``roc_auc_min``) is judged on the overall figure with the threshold's
``operator`` (the pass condition; ``>=`` unless the policy says otherwise). Accuracy, balanced accuracy, precision,
recall and F1 are ratios of confusion counts, so they are judged exactly: the fraction of the counts (accuracy =
correct/total) against the policy's decimal read exactly (``Fraction("0.7") == 7/10``), and the exact fraction is
shown beside the figure. ROC-AUC is not a ratio of counts (it is a rank statistic over scores, with ties counted as
halves), so it is compared as the float scikit-learn gives.

Per-group figures are reported for every group of each protected attribute, grouped as the group checks group them
(``audits.checks.groups.groupings``): rows whose value is unknown (an empty cell, or a token the column roles
declare) are in no group; their number and share are reported per attribute under ``unknown``. A group below the
minimum size is marked as such rather than judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from audits.checks.base import (
    FAIL,
    INSUFFICIENT,
    PASS,
    Check,
    CheckContext,
    CheckOutcome,
    Threshold,
    exact,
    exact_threshold,
    finite,
    rate,
)
from audits.checks.groups import groupings, unknown_mask

_MINIMUMS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc")


def exact_figures(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Fraction | None]:
    """The figures that are ratios of confusion counts, as exact fractions (None where a denominator is 0, or, for
    balanced accuracy, where the labels have one class only).

    Parameters
    ----------
    y_true
        Each row's label, 1 for the favourable value.
    y_pred
        Each row's decision, 1 for the favourable value.
    """
    truth, decided = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = int((truth & decided).sum())
    fp = int((~truth & decided).sum())
    tn = int((~truth & ~decided).sum())
    fn = int((truth & ~decided).sum())
    recall, specificity = rate(tp, tp + fn), rate(tn, tn + fp)
    return {
        "accuracy": rate(tp + tn, tp + fp + tn + fn),
        "balanced_accuracy": (recall + specificity) / 2 if recall is not None and specificity is not None else None,
        "precision": rate(tp, tp + fp),
        "recall": recall,
        "f1": rate(2 * tp, 2 * tp + fp + fn),
    }


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None) -> dict[str, float | None]:
    """The figures of one set of rows. Accuracy, balanced accuracy, precision, recall and F1 come from the confusion
    counts, computed in float64 as scikit-learn computes them (equal to its functions, tested); scikit-learn, whose
    import is a second of a command's start, is imported only for ROC-AUC and the Brier score, when there are scores."""
    truth, decided = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = int(np.count_nonzero(truth & decided))
    fp = int(np.count_nonzero(~truth & decided))
    fn = int(np.count_nonzero(truth & ~decided))
    tn = len(truth) - tp - fp - fn
    both = 0 < tp + fn < len(truth)  # the labels have two classes
    figures: dict[str, float | None] = {
        "accuracy": finite(_ratio(tp + tn, len(truth))),
        "balanced_accuracy": finite((_ratio(tn, tn + fp) + _ratio(tp, tp + fn)) / 2) if both else None,
        "precision": finite(_ratio(tp, tp + fp)),
        "recall": finite(_ratio(tp, tp + fn)),
        "f1": finite(_ratio(2 * tp, (tp + fn) + (tp + fp))),
    }
    if scores is not None:
        from sklearn import metrics

        # ROC-AUC is undefined when only one class is present: say so (None) instead of failing.
        figures["roc_auc"] = finite(metrics.roc_auc_score(y_true, scores)) if both else None
        in_unit = scores.min() >= 0 and scores.max() <= 1
        figures["brier"] = finite(metrics.brier_score_loss(y_true, scores)) if in_unit else None
    return figures


def _ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` correctly rounded, as numpy divides two exact float64 counts; NaN for 0/0
    (scikit-learn's ``zero_division=np.nan``)."""
    return numerator / denominator if denominator else float("nan")


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
        overall_exact = exact_figures(evaluation.y_true, evaluation.y_pred)
        per_group, unknown = self._per_group(evaluation, context)
        judged, failures, undefined = [], [], []
        for metric in _MINIMUMS:
            key = f"{metric}_min"
            limit = exact_threshold(settings, key, default_operator=">=")
            if limit is None:
                continue
            entry = {
                "metric": metric,
                "limit": limit.value,
                "limit_exact": exact(limit.exact),
                "operator": limit.operator,
                "value": overall.get(metric),
                "value_exact": exact(overall_exact.get(metric)),
                "passes": None,
                "basis": limit.basis,
            }
            judged.append(entry)
            passes = _judge(metric, limit, overall, overall_exact)
            entry["passes"] = passes
            if passes is None:
                undefined.append(f"{metric} could not be computed: {_why_undefined(metric, evaluation)}")
            elif not passes:
                exact_value = overall_exact.get(metric)
                shown = overall[metric] if overall.get(metric) is not None else float(exact_value or 0)
                failures.append(f"{metric} {shown:.3f} {limit.fails_as}")
        details = {
            "overall": overall,
            "overall_exact": {metric: exact(value) for metric, value in overall_exact.items()},
            "per_group": per_group,
            "unknown": unknown,
            "thresholds": judged,
            "rows": evaluation.rows,
        }
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if undefined:
            return self.outcome(INSUFFICIENT, "; ".join(undefined) + ".", **details)
        if not judged:
            return self.outcome(PASS, "Reported only: the policy sets no performance threshold.", **details)
        return self.outcome(PASS, "Every performance threshold is met.", **details)

    @staticmethod
    def _per_group(evaluation: Any, context: CheckContext) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Each known group's figures (by group name, ``sex=female``), and each attribute's unknown rows."""
        per_group: dict[str, dict[str, Any]] = {}
        unknown: dict[str, Any] = {}
        y_true, y_pred = np.asarray(evaluation.y_true), np.asarray(evaluation.y_pred)
        scores = None if evaluation.scores is None else np.asarray(evaluation.scores)
        for grouping in groupings(evaluation, intersections=False):
            (role,) = grouping.columns
            unknown[role] = grouping.unknown_summary()
            # The grouping's codes number its known rows in order: put them back in place to select each group.
            known = np.flatnonzero(~unknown_mask(evaluation, role))
            codes = np.asarray(grouping.counts.groups.codes)
            for code, name in enumerate(grouping.names):
                rows = known[codes == code]
                entry: dict[str, Any] = {"count": len(rows), "below_min_group_size": len(rows) < context.min_group_size}
                entry.update(_metrics(y_true[rows], y_pred[rows], None if scores is None else scores[rows]))
                per_group[name] = entry
        return per_group, unknown


def _judge(
    metric: str, limit: Threshold, overall: Mapping[str, float | None], overall_exact: Mapping[str, Fraction | None]
) -> bool | None:
    """Whether the overall ``metric`` meets ``limit`` (None: it is undefined). Ratios of counts are compared as
    exact fractions; ROC-AUC is not a ratio of counts (a rank statistic over float scores), so its float is compared
    with the threshold's exact value, which is as exact as that float allows."""
    if metric in overall_exact:
        measured = overall_exact[metric]
        return None if measured is None else limit.passes(measured)
    value = overall.get(metric)
    return None if value is None else limit.passes(Fraction(value))
