"""Disparate impact: each group's selection rate over the reference group's (the impact ratio), the four-fifths
test, and a significance test of each difference, so that "below 0.8 but not significant" and "above 0.8 but
significant" are both reported as what they are.

- Every judgement is exact: rates are fractions of counts (``selected/count``), the ratio a fraction of fractions,
  the threshold the policy's decimal read exactly, compared with the policy's ``operator`` (the pass condition).
  20 of 30 against 25 of 30 is exactly 4/5, which meets ``>= 0.8`` (29 CFR 1607.4(D): adverse only "less than
  four-fifths").
- Unknown categories are in no group (``audits.checks.groups``); their number and share are reported per grouping.
- Reference group: the one named in the column roles (or the policy), else the group with the highest selection rate
  among those that can be judged (NYC LL144's "most selected category").
- A group whose share of all the rows does not meet ``exclude_groups_below_share`` (LL144 allows 2%) is left out of
  the judged ratios only when the column roles' ``exclusions`` give the auditor's justification for it (6 RCNY
  5-301(d)); it is then ``excluded_below_share``, with its count, rate and the justification. Without one it is judged
  like any other group. The share is the category's count over every row of the data, unknowns included, as the
  rule says ("less than 2% of the data being used for the bias audit"), exactly (``share_of_rows_exact``); the row's
  ``share`` stays its share of the rows whose category is known.
- A group below ``min_group_size`` follows the one small-group rule (``groups.small_group_status``).
- The difference test is Fisher's exact test when any expected cell count is below 5, else the pooled two-proportion
  z-test (``audits.metrics.difference_test``); significant means p meets ``significance_alpha`` by its operator
  (default: below one minus the policy's confidence level).
- Fail: a judged group's impact ratio does not meet ``impact_ratio_min``. Insufficient evidence: no group fails, but a
  group is too small to judge, a ratio is undefined (0/0, or a reference rate of 0), fewer than two groups can be
  judged, or unknown categories exceed ``max_unknown_share``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    EXCLUDED_SMALL,
    Grouping,
    explicit_reference,
    groupings,
    interval,
    max_unknown_json,
    reference_group,
    small_group_status,
    small_group_words,
    unknown_share_problem,
)
from audits.metrics import difference_test

JUDGED = "judged"
REFERENCE = "reference"
UNDEFINED = "undefined"
EXCLUDED_SHARE = "excluded_below_share"


class DisparateImpactCheck(Check):
    name = "disparate_impact"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        minimum = exact_threshold(settings, "impact_ratio_min", default_operator=">=", default=0.8)
        alpha = exact_threshold(
            settings, "significance_alpha", default_operator="<", default=round(1 - context.confidence_level, 10)
        )
        share = exact_threshold(settings, "exclude_groups_below_share", default_operator=">=")
        assert minimum is not None
        assert alpha is not None
        rate_kind = _rate_kind(settings.get("rate", "selection_rate"), evaluation)
        if rate_kind == "scoring_rate" and evaluation.scores is None:
            return self.outcome(
                INSUFFICIENT, "The policy asks for scoring rates, and this audit has no score column.", rate=rate_kind
            )
        decisions = evaluation
        if rate_kind == "scoring_rate":
            # NYC LL144 (6 RCNY 5-300): the scoring rate is the share of a group scoring above the sample's median.
            median = float(np.median(evaluation.scores))
            decisions = replace(evaluation, y_pred=(evaluation.scores > median).astype(np.int8))
        verdicts = _Verdicts()
        limits = _Limits(
            minimum=minimum,
            alpha=alpha,
            share=share,
            reference=settings.get("reference_group"),
            exclusions=_exclusions(evaluation),
        )
        reports = [
            _judge(grouping, evaluation=evaluation, context=context, limits=limits, verdicts=verdicts)
            for grouping in groupings(decisions, intersections=context.intersections)
        ]
        thresholds = {"impact_ratio_min": minimum.as_json(), "significance_alpha": alpha.as_json()}
        if share is not None:
            thresholds["exclude_groups_below_share"] = share.as_json()
        unknown_limit = max_unknown_json(context)
        if unknown_limit is not None:
            thresholds["max_unknown_share"] = unknown_limit
        details = {
            "groupings": reports,
            "rate": rate_kind,
            "thresholds": thresholds,
            "small_groups": {"handling": context.small_groups, "basis": context.small_groups_basis},
            "min_group_size": context.min_group_size,
            # The plain numbers, as earlier results carried them (reports and monitoring read these).
            "impact_ratio_min": minimum.value,
            "basis": minimum.basis,
            "significance_alpha": alpha.value,
            "exclude_groups_below_share": share.value if share is not None else 0.0,
        }
        if verdicts.failures:
            return self.outcome(FAIL, "; ".join(verdicts.failures) + ".", **details)
        if verdicts.unsure:
            return self.outcome(INSUFFICIENT, "; ".join(verdicts.unsure) + ".", **details)
        return self.outcome(
            PASS, f"Every judged group's impact ratio is {minimum.passes_as} against its reference group.", **details
        )


def _rate_kind(setting: str, evaluation: Any) -> str:
    """selection_rate, or scoring_rate; ``by_output`` means scoring rate when the decisions come from a score
    column (no decision column), as LL144 distinguishes selection from scoring tools. A model that decides is a
    selection tool even when it also gives probabilities."""
    if setting == "by_output":
        scored = evaluation.scores is not None and evaluation.roles.score and not evaluation.roles.prediction
        return "scoring_rate" if scored else "selection_rate"
    return setting


def _exclusions(evaluation: Any) -> dict[str, str]:
    """The auditor's justifications for leaving a category under the share threshold out, by group name."""
    found = getattr(evaluation, "exclusions", None) or getattr(evaluation.roles, "exclusions", None) or {}
    return {str(k): str(v) for k, v in dict(found).items() if str(v).strip()}


@dataclass(frozen=True)
class _Limits:
    minimum: Threshold
    alpha: Threshold
    share: Threshold | None
    reference: Any
    exclusions: Mapping[str, str]


@dataclass
class _Verdicts:
    failures: list[str] = field(default_factory=list)
    unsure: list[str] = field(default_factory=list)


def _status(
    grouping: Grouping, position: int, *, context: CheckContext, limits: _Limits
) -> tuple[str | None, str | None]:
    """A group's status before the reference is chosen (None: can be judged), and an exclusion's justification."""
    name = grouping.names[position]
    count = int(grouping.counts.n[position])
    # 6 RCNY 5-301(d): "less than 2% of the data being used for the bias audit", i.e. of every row, unknowns too.
    if limits.share is not None and grouping.rows and not limits.share.passes(Fraction(count, grouping.rows)):
        justification = limits.exclusions.get(name)
        if justification:
            return EXCLUDED_SHARE, justification
    small = small_group_status(count, context)
    if small == EXCLUDED_SMALL:
        basis = context.small_groups_basis or {}
        return small, str(basis.get("text") or "the policy excludes groups below the minimum group size")
    return small, None


def _judge(
    grouping: Grouping, *, evaluation: Any, context: CheckContext, limits: _Limits, verdicts: _Verdicts
) -> dict[str, Any]:
    """One grouping's table (every group's rate, ratio, test and status), adding what fails or cannot be judged."""
    counts = grouping.counts
    sizes = [int(n) for n in counts.n]
    selected = [int(s) for s in counts.predicted_positives]
    known = sum(sizes)
    rates = [rate(s, n) for s, n in zip(selected, sizes, strict=True)]
    statuses = [_status(grouping, i, context=context, limits=limits) for i in range(len(sizes))]
    eligible = np.array([status is None for status, _ in statuses], dtype=bool)
    ref = reference_group(
        grouping,
        explicit=explicit_reference(grouping, evaluation, limits.reference),
        rates=rates,
        eligible=eligible,
    )
    low, high = interval(selected, sizes, context.confidence_level)
    problem = unknown_share_problem(grouping, context)
    if problem:
        verdicts.unsure.append(problem)
    rows = [
        _row(
            grouping,
            i,
            ref=ref,
            statuses=statuses,
            rates=rates,
            sizes=sizes,
            selected=selected,
            known=known,
            interval=(low[i], high[i]),
            limits=limits,
            context=context,
            verdicts=verdicts,
        )
        for i in range(len(sizes))
    ]
    if ref is None or not eligible[ref] or int(eligible.sum()) < 2:
        verdicts.unsure.append(
            f"{grouping.name}: fewer than two groups (the reference among them) are large enough to compare and not "
            "excluded"
            + (
                f" ({_reference_problem(grouping, ref, statuses, context)})"
                if ref is not None and not eligible[ref]
                else ""
            )
        )
    elif rates[ref] == 0:
        verdicts.unsure.append(
            f"{grouping.name}: the reference group {grouping.names[ref]} has a selection rate of 0 (no group "
            "received the favourable outcome), so impact ratios are undefined"
        )
    return {
        "grouping": grouping.name,
        "columns": list(grouping.columns),
        "reference_group": grouping.names[ref] if ref is not None else None,
        "unknown": grouping.unknown_summary(),
        "groups": rows,
    }


def _reference_problem(grouping: Grouping, ref: int, statuses: list[Any], context: CheckContext) -> str:
    status = statuses[ref][0]
    name, count = grouping.names[ref], int(grouping.counts.n[ref])
    if status == EXCLUDED_SHARE:
        return f"the reference group {name} is excluded below the share threshold"
    return "the reference group " + small_group_words(name, count, context)


def _row(
    grouping: Grouping,
    i: int,
    *,
    ref: int | None,
    statuses: list[tuple[str | None, str | None]],
    rates: list[Fraction | None],
    sizes: list[int],
    selected: list[int],
    known: int,
    interval: tuple[float | None, float | None],
    limits: _Limits,
    context: CheckContext,
    verdicts: _Verdicts,
) -> dict[str, Any]:
    name = grouping.names[i]
    status, justification = statuses[i]
    ratio: Fraction | None = None
    if ref is not None and rates[i] is not None and rates[ref]:
        ratio = rates[i] / rates[ref]  # type: ignore[operator]
    share = Fraction(sizes[i], known)
    own_rate = rates[i]
    row: dict[str, Any] = {
        "group": name,
        "count": sizes[i],
        "selected": selected[i],
        "share": finite(float(share)),
        "share_exact": exact(share),
        # Of every row of the data, unknowns included: the base of LL144's 2% exclusion rule (5-301(d)).
        "share_of_rows": finite(sizes[i] / grouping.rows) if grouping.rows else None,
        "share_of_rows_exact": exact(rate(sizes[i], grouping.rows)),
        "selection_rate": finite(float(own_rate)) if own_rate is not None else None,
        "selection_rate_exact": exact(rates[i]),
        "selection_rate_interval": list(interval),
        "impact_ratio": float(ratio) if ratio is not None else None,
        "impact_ratio_exact": exact(ratio),
        "reference": i == ref,
        "passes": None,
        # Earlier results' flags, kept for their readers.
        "excluded_below_share": status == EXCLUDED_SHARE,
        "below_min_group_size": sizes[i] < context.min_group_size,
    }
    if justification is not None:
        row["exclusion_justification"] = justification
    if i == ref:
        row["status"] = REFERENCE if status is None else status
        return row
    if ref is not None:
        test = difference_test(x1=selected[i], n1=sizes[i], x2=selected[ref], n2=sizes[ref])
        row["test"] = test.test
        row["p_value"] = finite(test.p_value)
        significant = bool(np.isfinite(test.p_value)) and limits.alpha.passes(Fraction(float(test.p_value)))
        row["significant"] = significant
    reference_judgeable = ref is not None and statuses[ref][0] is None
    if status is not None:
        row["status"] = status
        if status not in (EXCLUDED_SHARE, EXCLUDED_SMALL):
            verdicts.unsure.append(_small_reason(grouping, i, ratio=ratio, sizes=sizes, limits=limits, context=context))
        row["passes_four_fifths"] = None
        return row
    if ratio is None:
        row["status"] = "undefined"
        if ref is not None and rates[ref]:
            verdicts.unsure.append(f"{name}: its selection rate is undefined")
        row["passes_four_fifths"] = None
        return row
    if not reference_judgeable:
        # The reference itself cannot be judged: so no comparison with it can be.
        row["status"] = statuses[ref][0] if ref is not None else "undefined"  # type: ignore[index]
        row["passes_four_fifths"] = None
        return row
    passes = limits.minimum.passes(ratio)
    row["status"] = JUDGED
    row["passes"] = passes
    row["passes_four_fifths"] = passes
    if not passes:
        words = "significant" if row["significant"] else "not statistically significant"
        verdicts.failures.append(
            f"{name}: impact ratio {float(ratio):.3f} against {grouping.names[ref]} {limits.minimum.fails_as} "  # type: ignore[index]
            f"({words}, {row['test'].replace('_', ' ')} p={row['p_value']:.3g})"
        )
    elif row["significant"]:
        row["note"] = "at or above the ratio threshold, but the difference is statistically significant"
    return row


def _small_reason(
    grouping: Grouping,
    i: int,
    *,
    ratio: Fraction | None,
    sizes: list[int],
    limits: _Limits,
    context: CheckContext,
) -> str:
    name = grouping.names[i]
    shown = f"impact ratio {float(ratio):.3f}" if ratio is not None else "an undefined impact ratio"
    if ratio is not None and not limits.minimum.passes(ratio):
        return (
            f"{name}: {shown} {limits.minimum.fails_as}, but the group has only {sizes[i]} rows "
            f"(minimum {context.min_group_size})"
        )
    return f"{name}: {shown} is not judged: the group has only {sizes[i]} rows (minimum {context.min_group_size})"
