"""Disparate impact: each group's selection rate over the reference group's (the impact ratio), the four-fifths
test, and a significance test of each difference, so that "below 0.8 but not significant" and "above 0.8 but
significant" are both reported as what they are.

- Reference group: the one named in the column roles (or the policy), else the group with the highest selection rate
  among those large enough to judge (NYC LL144's "most selected category").
- Groups whose share of the rows is below ``exclude_groups_below_share`` (LL144 allows 2%) are reported but left
  out of the ratios that are judged.
- The difference test is Fisher's exact test when any expected cell count is below 5, else the pooled two-proportion
  z-test (``audits.metrics.difference_test``); significant means p below ``significance_alpha`` (default: one minus
  the policy's confidence level).
- Fail: a group large enough to judge has an impact ratio below ``impact_ratio_min``. Insufficient evidence: no
  group fails, but a group below ``min_group_size`` (and not excluded) has a ratio below it, or fewer than two groups
  can be judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold
from audits.checks.groups import groupings, interval, reference_group
from audits.metrics import difference_test, selection_rate


class DisparateImpactCheck(Check):
    name = "disparate_impact"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        minimum = threshold(settings, "impact_ratio_min")
        if minimum is None:
            minimum = 0.8
        alpha = threshold(settings, "significance_alpha")
        if alpha is None:
            alpha = round(1 - context.confidence_level, 10)
        exclude_share = threshold(settings, "exclude_groups_below_share") or 0.0
        policy_reference = settings.get("reference_group")
        rate_kind = _rate_kind(settings.get("rate", "selection_rate"), evaluation)
        if rate_kind == "scoring_rate" and evaluation.scores is None:
            return self.outcome(
                INSUFFICIENT, "The policy asks for scoring rates, and this audit has no score column.", rate=rate_kind
            )
        decisions = evaluation
        if rate_kind == "scoring_rate":
            # NYC LL144 (6 RCNY 5-300): the scoring rate is the share of a group scoring above the sample's median.
            from dataclasses import replace

            median = float(np.median(evaluation.scores))
            decisions = replace(evaluation, y_pred=(evaluation.scores > median).astype(np.int8))
        failures: list[str] = []
        unsure: list[str] = []
        limits = _Limits(minimum=minimum, alpha=alpha, exclude_share=exclude_share, reference=policy_reference)
        reports = [
            _judge(grouping, evaluation=evaluation, context=context, limits=limits, failures=failures, unsure=unsure)
            for grouping in groupings(decisions, intersections=context.intersections)
        ]
        details = {
            "groupings": reports,
            "rate": rate_kind,
            "impact_ratio_min": minimum,
            "basis": basis(settings, "impact_ratio_min"),
            "significance_alpha": alpha,
            "exclude_groups_below_share": exclude_share,
        }
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unsure:
            return self.outcome(INSUFFICIENT, "; ".join(unsure) + ".", **details)
        return self.outcome(
            PASS, f"Every group's impact ratio is at least {minimum:g} against its reference group.", **details
        )


def _rate_kind(setting: str, evaluation: Any) -> str:
    """selection_rate, or scoring_rate; ``by_output`` means scoring rate when the decisions come from a score
    column (no decision column), as LL144 distinguishes selection from scoring tools. A model that decides is a
    selection tool even when it also gives probabilities."""
    if setting == "by_output":
        scored = evaluation.scores is not None and evaluation.roles.score and not evaluation.roles.prediction
        return "scoring_rate" if scored else "selection_rate"
    return setting


@dataclass(frozen=True)
class _Limits:
    minimum: float
    alpha: float
    exclude_share: float
    reference: Any


def _judge(
    grouping: Any,
    *,
    evaluation: Any,
    context: CheckContext,
    limits: _Limits,
    failures: list[str],
    unsure: list[str],
) -> dict[str, Any]:
    """One grouping's table (every group's rate, ratio, test), adding what fails or cannot be judged."""
    minimum, alpha, exclude_share = limits.minimum, limits.alpha, limits.exclude_share
    policy_reference = limits.reference
    counts = grouping.counts
    sizes = grouping.sizes
    total = float(sizes.sum())
    rates = selection_rate(counts).by_group
    selected = np.asarray(counts.predicted_positives, dtype=float)
    excluded = sizes / total < exclude_share
    large = (sizes >= context.min_group_size) & ~excluded
    explicit = None
    if len(grouping.columns) == 1:
        explicit = evaluation.roles.reference_groups.get(grouping.columns[0])
        if explicit is None and isinstance(policy_reference, Mapping):
            explicit = policy_reference.get(grouping.columns[0])
    ref = reference_group(grouping, explicit=explicit, rates=rates, eligible=large)
    low, high = interval(selected, sizes, context.confidence_level)
    rows = []
    for i, name in enumerate(grouping.names):
        ratio = rates[i] / rates[ref] if rates[ref] > 0 else float("nan")
        row: dict[str, Any] = {
            "group": name,
            "count": int(sizes[i]),
            "share": finite(sizes[i] / total),
            "selected": int(selected[i]),
            "selection_rate": finite(float(rates[i])),
            "selection_rate_interval": [low[i], high[i]],
            "impact_ratio": finite(ratio),
            "reference": i == ref,
            "excluded_below_share": bool(excluded[i]),
            "below_min_group_size": bool(sizes[i] < context.min_group_size),
        }
        if i != ref:
            test = difference_test(x1=int(selected[i]), n1=int(sizes[i]), x2=int(selected[ref]), n2=int(sizes[ref]))
            row["test"] = test.test
            row["p_value"] = finite(test.p_value)
            row["significant"] = bool(test.p_value < alpha)
            row["passes_four_fifths"] = None if row["impact_ratio"] is None else bool(ratio >= minimum)
            below = row["impact_ratio"] is not None and ratio < minimum
            if below and not excluded[i]:
                words = "significant" if row["significant"] else "not statistically significant"
                if large[i] and large[ref]:
                    failures.append(
                        f"{name}: impact ratio {ratio:.3f} against {grouping.names[ref]} is below {minimum:g} "
                        f"({words}, {test.test.replace('_', ' ')} p={test.p_value:.3g})"
                    )
                else:
                    unsure.append(
                        f"{name}: impact ratio {ratio:.3f} is below {minimum:g}, but "
                        + (
                            f"the group has only {int(sizes[i])} rows (minimum {context.min_group_size})"
                            if not large[i]
                            else f"the reference group {grouping.names[ref]} has only {int(sizes[ref])} rows "
                            f"(minimum {context.min_group_size})"
                        )
                    )
            elif not below and row["significant"]:
                row["note"] = "at or above the ratio threshold, but the difference is statistically significant"
        rows.append(row)
    if not large[ref] or large.sum() < 2:
        unsure.append(f"{grouping.name}: fewer than two groups (the reference among them) are large enough to compare")
    if not np.isfinite(rates[ref]) or rates[ref] <= 0:
        unsure.append(f"{grouping.name}: no group received the favourable outcome, so impact ratios are undefined")
    return {"grouping": grouping.name, "reference_group": grouping.names[ref], "groups": rows}
