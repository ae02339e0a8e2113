"""Group fairness: per group (each protected attribute and their intersection) the count, the confusion counts
(tp, fp, tn, fn), selection rate, true and false positive and negative rates and precision, each rate with a Wilson
interval; and the between-group summaries under fairlearn's definitions (demographic parity difference and ratio,
equalized odds difference, equal opportunity difference) and aif360's average odds difference against the
reference group.

Thresholds (``demographic_parity_difference_max``, ``equalized_odds_difference_max``) are judged exactly: each rate
is a fraction of counts, a summary the difference of the largest and smallest fraction, compared with the policy's
decimal read exactly by its ``operator``. They are judged among the groups of at least ``min_group_size`` rows;
smaller groups follow the one small-group rule (``groups.small_group_status``): insufficient evidence, or excluded
when the policy says so. Unknown categories are in no group.

A rate that is undefined for a judged group (0/0: no positives, so no true positive rate) leaves that group out of
the summary's figure, and the summary names it; a threshold on that summary then cannot pass on the remaining groups
alone (insufficient evidence). It can fail on them: a spread over more groups is never smaller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
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
from audits.checks.groups import (
    Grouping,
    explicit_reference,
    groupings,
    interval,
    max_unknown_json,
    reference_group,
    small_group_status,
    unknown_share_problem,
)
from audits.metrics import (
    ConfusionCounts,
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
# The exact rates each judged summary is the spread of: (rate name, numerator, denominator) over confusion counts.
_SPREADS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "demographic_parity_difference": (("selection_rate", "predicted_positives", "n"),),
    "equalized_odds_difference": (
        ("true_positive_rate", "tp", "positives"),
        ("false_positive_rate", "fp", "negatives"),
    ),
}


def _subset(grouping: Grouping, keep: np.ndarray) -> Any:
    """The counts restricted to the groups in ``keep`` (a boolean mask over groups)."""
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


def describe_groups(grouping: Grouping, context: CheckContext) -> list[dict[str, Any]]:
    """Every group's count, confusion counts and rates with intervals (the table a report prints), and its status
    under the small-group rule (``judged``, ``insufficient_small_group`` or ``excluded_small_group``)."""
    counts = grouping.counts
    rates = {
        "selection_rate": (selection_rate(counts).by_group, counts.predicted_positives, counts.n),
        "true_positive_rate": (true_positive_rate(counts).by_group, counts.tp, counts.positives),
        "false_positive_rate": (false_positive_rate(counts).by_group, counts.fp, counts.negatives),
        "false_negative_rate": (false_negative_rate(counts).by_group, counts.fn, counts.positives),
        "true_negative_rate": (true_negative_rate(counts).by_group, counts.tn, counts.negatives),
        "precision": (precision(counts).by_group, counts.tp, counts.predicted_positives),
    }
    intervals = {name: interval(x, n, context.confidence_level) for name, (_, x, n) in rates.items()}
    rows = []
    for position, name in enumerate(grouping.names):
        n = int(counts.n[position])
        row: dict[str, Any] = {
            "count": n,
            "below_min_group_size": n < context.min_group_size,
            "status": small_group_status(n, context) or "judged",
            "tp": int(counts.tp[position]),
            "fp": int(counts.fp[position]),
            "tn": int(counts.tn[position]),
            "fn": int(counts.fn[position]),
        }
        for metric, (values, x, denominator) in rates.items():
            row[metric] = finite(float(values[position]))
            row[f"{metric}_exact"] = exact(rate(x[position], denominator[position]))
            low, high = intervals[metric]
            row[f"{metric}_interval"] = [low[position], high[position]]
        rows.append({"group": name, **row})
    return rows


def exact_spread(grouping: Grouping, metric: str, judged: np.ndarray) -> tuple[Fraction | None, list[str]]:
    """A summary's exact value over the ``judged`` groups (largest minus smallest rate; for equalized odds, the
    larger of the TPR and FPR spreads), and the judged groups whose rate is undefined (0/0), which it leaves out.
    None when a spread has fewer than one defined rate."""
    counts = grouping.counts
    spreads: list[Fraction] = []
    undefined: list[str] = []
    for _name, numerator, denominator in _SPREADS[metric]:
        top = getattr(counts, numerator)
        bottom = getattr(counts, denominator)
        values = []
        for position in np.flatnonzero(judged):
            value = rate(top[position], bottom[position])
            if value is None:
                undefined.append(grouping.names[position])
            else:
                values.append(value)
        if not values:
            return None, sorted(set(undefined))
        spreads.append(max(values) - min(values))
    return max(spreads), sorted(set(undefined))


class GroupFairnessCheck(Check):
    name = "group_fairness"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        failures: list[str] = []
        unsure: list[str] = []
        reports = []
        max_width = exact_threshold(settings, "max_interval_width", default_operator="<=")
        limits = {
            metric: exact_threshold(settings, f"{metric}_max", default_operator="<=")
            for metric in SUMMARIES
            if settings.get(f"{metric}_max") is not None
        }
        for grouping in groupings(evaluation, intersections=context.intersections):
            groups = describe_groups(grouping, context)
            report: dict[str, Any] = {
                "grouping": grouping.name,
                "columns": list(grouping.columns),
                "unknown": grouping.unknown_summary(),
                "groups": groups,
            }
            reports.append(report)
            problem = unknown_share_problem(grouping, context)
            if problem:
                unsure.append(problem)
            small = [g for g in groups if g["status"] == "insufficient_small_group"]
            if small:
                unsure.append(
                    f"{grouping.name}: {', '.join(g['group'] for g in small)} "
                    f"{'has' if len(small) == 1 else 'have'} fewer than {context.min_group_size} rows, so "
                    f"{'its' if len(small) == 1 else 'their'} rates are not judged"
                )
            large = np.array([g["status"] == "judged" for g in groups], dtype=bool)
            if large.sum() < 2:
                report["reference_group"] = None
                unsure.append(
                    f"{grouping.name}: fewer than two groups have {context.min_group_size} rows or more, so groups "
                    "cannot be compared"
                )
                continue
            report["summary"] = summary = self._summary(grouping, evaluation, settings, large)
            report["reference_group"] = summary["reference_group"]
            for metric, limit in limits.items():
                self._judge(
                    grouping, metric, limit=limit, large=large, summary=summary, failures=failures, unsure=unsure
                )
            if max_width is not None:
                wide = [
                    g["group"]
                    for g in groups
                    if g["status"] == "judged"
                    and None not in g["selection_rate_interval"]
                    # A width is a float (Wilson bounds); compared exactly as the float it is.
                    and not max_width.passes(
                        Fraction(g["selection_rate_interval"][1]) - Fraction(g["selection_rate_interval"][0])
                    )
                ]
                if wide:
                    unsure.append(
                        f"{grouping.name}: the selection-rate interval of {', '.join(wide)} is wider than "
                        f"{max_width.value:g}"
                    )
        thresholds = {f"{m}_max": limit.as_json() for m, limit in limits.items() if limit is not None}
        if max_width is not None:
            thresholds["max_interval_width"] = max_width.as_json()
        unknown_limit = max_unknown_json(context)
        if unknown_limit is not None:
            thresholds["max_unknown_share"] = unknown_limit
        details = {
            "groupings": reports,
            "thresholds": thresholds,
            "confidence_level": context.confidence_level,
            "min_group_size": context.min_group_size,
            "small_groups": {"handling": context.small_groups, "basis": context.small_groups_basis},
        }
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unsure:
            return self.outcome(INSUFFICIENT, "; ".join(unsure) + ".", **details)
        if not limits:
            return self.outcome(PASS, "Reported only: the policy sets no group-fairness threshold.", **details)
        return self.outcome(
            PASS, "Every group-fairness threshold is met among groups large enough to judge.", **details
        )

    @staticmethod
    def _summary(grouping: Grouping, evaluation: Any, settings: Mapping[str, Any], large: np.ndarray) -> dict:
        judged = _subset(grouping, large)
        summary: dict[str, Any] = {
            "demographic_parity_difference": finite(demographic_parity_difference(judged)),
            "demographic_parity_ratio": finite(demographic_parity_ratio(judged)),
            "equalized_odds_difference": finite(equalized_odds_difference(judged)),
            "equal_opportunity_difference": finite(equal_opportunity_difference(judged)),
            "judged_groups": [name for name, k in zip(grouping.names, large, strict=True) if k],
        }
        for metric in SUMMARIES:
            value, undefined = exact_spread(grouping, metric, large)
            summary[f"{metric}_exact"] = exact(value)
            summary[f"{metric}_undefined_groups"] = undefined
        counts = grouping.counts
        rates = [rate(s, n) for s, n in zip(counts.predicted_positives, counts.n, strict=True)]
        ref = reference_group(
            grouping,
            explicit=explicit_reference(grouping, evaluation, settings.get("reference_group")),
            rates=rates,
            eligible=large,
        )
        tpr = true_positive_rate(counts).by_group
        fpr = false_positive_rate(counts).by_group
        summary["reference_group"] = grouping.names[ref] if ref is not None else None
        if ref is not None:
            # aif360's average odds difference of each group against the reference: mean of the FPR and TPR gaps.
            summary["average_odds_difference"] = {
                name: finite(0.5 * ((fpr[i] - fpr[ref]) + (tpr[i] - tpr[ref])))
                for i, name in enumerate(grouping.names)
                if i != ref and large[i]
            }
        return summary

    @staticmethod
    def _judge(
        grouping: Grouping,
        metric: str,
        *,
        limit: Threshold | None,
        large: np.ndarray,
        summary: dict[str, Any],
        failures: list[str],
        unsure: list[str],
    ) -> None:
        if limit is None:
            return
        value, undefined = exact_spread(grouping, metric, large)
        passes: bool | None = None
        if value is not None and not limit.passes(value):
            # Failing on the defined groups is final: adding the undefined groups' rates can only widen a spread.
            passes = False
            failures.append(f"{grouping.name}: {metric} {float(value):.3f} {limit.fails_as}")
        elif value is None:
            unsure.append(f"{grouping.name}: {metric} is undefined (a group has no positives or negatives)")
        elif undefined:
            unsure.append(
                f"{grouping.name}: {metric} cannot be judged on the other groups alone: a rate is undefined (0/0) "
                f"for {', '.join(undefined)}"
            )
        else:
            passes = True
        summary.setdefault("passes", {})[metric] = passes
