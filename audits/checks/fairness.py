"""Group fairness: per group (each protected attribute and their intersection) the count, selection rate, true and
false positive and negative rates and precision, each rate with a Wilson interval; and the between-group summaries
under fairlearn's definitions (demographic parity difference and ratio, equalized odds difference, equal
opportunity difference) and aif360's average odds difference against the reference group.

Thresholds (``demographic_parity_difference_max``, ``equalized_odds_difference_max``) are judged among groups
with at least ``min_group_size`` rows; smaller groups
are reported and marked. Fewer than two groups large enough, or a selection-rate interval wider than
``max_interval_width``, is insufficient evidence, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold
from audits.checks.groups import Grouping, groupings, interval, reference_group
from audits.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    precision,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)

SUMMARIES = ("demographic_parity_difference", "equalized_odds_difference")


def _subset(grouping: Grouping, keep: np.ndarray) -> Any:
    """The counts restricted to the groups in ``keep`` (a boolean mask over groups)."""
    from dataclasses import replace

    from audits.metrics import ConfusionCounts

    counts = grouping.counts
    index = counts.groups
    kept = replace(
        index,
        labels=tuple(label for label, k in zip(index.labels, keep, strict=True) if k),
    )
    overall = ConfusionCounts(
        tp=float(counts.tp[keep].sum()),
        fp=float(counts.fp[keep].sum()),
        tn=float(counts.tn[keep].sum()),
        fn=float(counts.fn[keep].sum()),
    )
    return replace(
        counts,
        groups=kept,
        tp=counts.tp[keep],
        fp=counts.fp[keep],
        tn=counts.tn[keep],
        fn=counts.fn[keep],
        overall=overall,
    )


def describe_groups(grouping: Grouping, confidence: float, min_size: int) -> list[dict[str, Any]]:
    """Every group's count and rates with intervals (the table a report prints)."""
    counts = grouping.counts
    rates = {
        "selection_rate": (selection_rate(counts).by_group, counts.predicted_positives, counts.n),
        "true_positive_rate": (true_positive_rate(counts).by_group, counts.tp, counts.positives),
        "false_positive_rate": (false_positive_rate(counts).by_group, counts.fp, counts.negatives),
        "false_negative_rate": (false_negative_rate(counts).by_group, counts.fn, counts.positives),
        "true_negative_rate": (true_negative_rate(counts).by_group, counts.tn, counts.negatives),
        "precision": (precision(counts).by_group, counts.tp, counts.predicted_positives),
    }
    intervals = {name: interval(x, n, confidence) for name, (_, x, n) in rates.items()}
    rows = []
    for position, name in enumerate(grouping.names):
        n = int(counts.n[position])
        row: dict[str, Any] = {"group": name, "count": n, "below_min_group_size": n < min_size}
        for metric, (values, _, _) in rates.items():
            row[metric] = finite(float(values[position]))
            low, high = intervals[metric]
            row[f"{metric}_interval"] = [low[position], high[position]]
        rows.append(row)
    return rows


class GroupFairnessCheck(Check):
    name = "group_fairness"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        failures: list[str] = []
        unsure: list[str] = []
        reports = []
        max_width = threshold(settings, "max_interval_width")
        for grouping in groupings(evaluation, intersections=context.intersections):
            groups = describe_groups(grouping, context.confidence_level, context.min_group_size)
            large = grouping.sizes >= context.min_group_size
            report: dict[str, Any] = {"grouping": grouping.name, "groups": groups}
            reports.append(report)
            if large.sum() < 2:
                unsure.append(
                    f"{grouping.name}: fewer than two groups have {context.min_group_size} rows or more, so groups "
                    "cannot be compared"
                )
                continue
            judged = _subset(grouping, large)
            summary: dict[str, Any] = {
                "demographic_parity_difference": finite(demographic_parity_difference(judged)),
                "demographic_parity_ratio": finite(demographic_parity_ratio(judged)),
                "equalized_odds_difference": finite(equalized_odds_difference(judged)),
                "equal_opportunity_difference": finite(equal_opportunity_difference(judged)),
            }
            rates = selection_rate(grouping.counts).by_group
            ref = reference_group(
                grouping,
                explicit=evaluation.roles.reference_groups.get(grouping.columns[0])
                if len(grouping.columns) == 1
                else None,
                rates=rates,
                eligible=large,
            )
            tpr = true_positive_rate(grouping.counts).by_group
            fpr = false_positive_rate(grouping.counts).by_group
            summary["reference_group"] = grouping.names[ref]
            # aif360's average odds difference of each group against the reference: mean of the FPR and TPR gaps.
            summary["average_odds_difference"] = {
                name: finite(0.5 * ((fpr[i] - fpr[ref]) + (tpr[i] - tpr[ref])))
                for i, name in enumerate(grouping.names)
                if i != ref and large[i]
            }
            report["summary"] = summary
            for metric in SUMMARIES:
                limit = threshold(settings, f"{metric}_max")
                value = summary[metric]
                if limit is None:
                    continue
                if value is None:
                    unsure.append(f"{grouping.name}: {metric} is undefined (a group has no positives or negatives)")
                elif value > limit:
                    failures.append(f"{grouping.name}: {metric} {value:.3f} exceeds {limit:g}")
            if max_width is not None:
                wide = [
                    g["group"]
                    for g in groups
                    if not g["below_min_group_size"]
                    and None not in g["selection_rate_interval"]
                    and g["selection_rate_interval"][1] - g["selection_rate_interval"][0] > max_width
                ]
                if wide:
                    unsure.append(
                        f"{grouping.name}: the selection-rate interval of {', '.join(wide)} is wider than {max_width:g}"
                    )
        thresholds = {
            f"{m}_max": {"value": threshold(settings, f"{m}_max"), "basis": basis(settings, f"{m}_max")}
            for m in SUMMARIES
            if threshold(settings, f"{m}_max") is not None
        }
        details = {"groupings": reports, "thresholds": thresholds, "confidence_level": context.confidence_level}
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unsure:
            return self.outcome(INSUFFICIENT, "; ".join(unsure) + ".", **details)
        if not thresholds:
            return self.outcome(PASS, "Reported only: the policy sets no group-fairness threshold.", **details)
        return self.outcome(
            PASS, "Every group-fairness threshold is met among groups large enough to judge.", **details
        )
