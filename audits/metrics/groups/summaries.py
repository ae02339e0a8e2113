"""Between-group summaries of the per-group rates: fairlearn's between-groups differences and ratios, aif360's
pairwise (unprivileged versus privileged) comparisons, LL144 impact ratios and the generalized entropy index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from audits.metrics.groups.counts import ConfusionCounts, GroupCounts
from audits.metrics.groups.encoding import FloatArray, GroupIndex, GroupSelector
from audits.metrics.groups.rates import (
    GroupRates,
    _ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

# ---------------------------------------------------------------------------------------------------------------
# Between-group summaries (fairlearn, method="between_groups")
# ---------------------------------------------------------------------------------------------------------------


def _defined(values: FloatArray) -> FloatArray:
    return values[~np.isnan(values)]


def _spread(rates: GroupRates) -> float:
    """Largest minus smallest defined group value; NaN if no group's value is defined."""
    values = _defined(rates.by_group)
    return float(values.max() - values.min()) if values.size else math.nan


def _min_over_max(rates: GroupRates) -> float:
    """Smallest over largest defined group value; NaN if none is defined or the largest is 0 (as fairlearn)."""
    values = _defined(rates.by_group)
    if not values.size or values.max() == 0:
        return math.nan
    return float(values.min() / values.max())


def _aggregate(first: float, second: float, agg: str, worst: Any) -> float:
    if agg not in ("worst_case", "mean"):
        raise ValueError(f"agg must be 'worst_case' or 'mean', not {agg!r}")
    if math.isnan(first) or math.isnan(second):
        return math.nan
    return float(worst(first, second)) if agg == "worst_case" else (first + second) / 2


def demographic_parity_difference(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Largest minus smallest group selection rate (fairlearn's ``demographic_parity_difference``, between groups).

    0 means every group is selected at the same rate.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Selection rate of a group with zero total weight; NaN (the default) leaves such a group out.

    Returns
    -------
    float
        In [0, 1]; NaN if no group's selection rate is defined.
    """
    return _spread(selection_rate(counts, zero_division=zero_division))


def demographic_parity_ratio(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Smallest over largest group selection rate (fairlearn's ``demographic_parity_ratio``, between groups).

    1 means every group is selected at the same rate. The US "four-fifths rule" compares this kind of ratio with 0.8.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Selection rate of a group with zero total weight; NaN (the default) leaves such a group out.

    Returns
    -------
    float
        In [0, 1]; NaN if no group is defined or no group is selected at all (0/0, as fairlearn).
    """
    return _min_over_max(selection_rate(counts, zero_division=zero_division))


def equalized_odds_difference(
    counts: GroupCounts, *, agg: Literal["worst_case", "mean"] = "worst_case", zero_division: float = math.nan
) -> float:
    """The larger (or mean) of the between-group spreads of true and false positive rates (fairlearn's definition).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    agg
        ``"worst_case"`` (fairlearn's default): the larger of the TPR spread and the FPR spread; ``"mean"``: their
        mean.
    zero_division
        Rate of a group with no positive (TPR) or no negative (FPR) labels. NaN (the default) leaves that group out
        of that spread; fairlearn counts it as 0.0 (pass ``zero_division=0.0`` to reproduce that).

    Returns
    -------
    float
        In [0, 1]; NaN if either spread is undefined because no group has that rate defined.
    """
    return _aggregate(
        _spread(true_positive_rate(counts, zero_division=zero_division)),
        _spread(false_positive_rate(counts, zero_division=zero_division)),
        agg,
        max,
    )


def equalized_odds_ratio(
    counts: GroupCounts, *, agg: Literal["worst_case", "mean"] = "worst_case", zero_division: float = math.nan
) -> float:
    """The smaller (or mean) of the min/max ratios of group true and false positive rates (fairlearn's definition).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    agg
        ``"worst_case"`` (fairlearn's default): the smaller of the TPR ratio and the FPR ratio; ``"mean"``: their
        mean.
    zero_division
        Rate of a group with no positive (TPR) or no negative (FPR) labels. NaN (the default) leaves that group out;
        fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if either ratio is undefined (no defined group, or the largest rate is 0).
    """
    return _aggregate(
        _min_over_max(true_positive_rate(counts, zero_division=zero_division)),
        _min_over_max(false_positive_rate(counts, zero_division=zero_division)),
        agg,
        min,
    )


def equal_opportunity_difference(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Largest minus smallest group true positive rate (fairlearn's ``equal_opportunity_difference``).

    Not aif360's ``equal_opportunity_difference``, which is the signed TPR difference unprivileged minus privileged.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        TPR of a group with no positive labels. NaN (the default) leaves it out; fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if no group has a positive label.
    """
    return _spread(true_positive_rate(counts, zero_division=zero_division))


def equal_opportunity_ratio(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Smallest over largest group true positive rate (fairlearn's ``equal_opportunity_ratio``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        TPR of a group with no positive labels. NaN (the default) leaves it out; fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if no group has a positive label or the largest TPR is 0.
    """
    return _min_over_max(true_positive_rate(counts, zero_division=zero_division))


# ---------------------------------------------------------------------------------------------------------------
# Pairwise summaries (aif360: unprivileged versus privileged)
# ---------------------------------------------------------------------------------------------------------------


def _pair(
    counts: GroupCounts, unprivileged: GroupSelector, privileged: GroupSelector
) -> tuple[ConfusionCounts, ConfusionCounts]:
    unprivileged_mask = counts.groups.select(unprivileged)
    privileged_mask = counts.groups.select(privileged)
    if np.any(unprivileged_mask & privileged_mask):
        raise ValueError("the privileged and unprivileged groups must be disjoint (as aif360 requires)")
    return counts.combined(unprivileged), counts.combined(privileged)


def _scalar_ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else math.nan


def _pair_rate(side: ConfusionCounts, rate: str) -> float:
    if rate == "selection_rate":
        return _scalar_ratio(side.tp + side.fp, side.n)
    if rate == "base_rate":
        return _scalar_ratio(side.tp + side.fn, side.n)
    raise ValueError(f"rate must be 'selection_rate' or 'base_rate', not {rate!r}")


def statistical_parity_difference(
    counts: GroupCounts,
    *,
    unprivileged: GroupSelector,
    privileged: GroupSelector,
    rate: Literal["selection_rate", "base_rate"] = "selection_rate",
) -> float:
    """Unprivileged minus privileged favourable-outcome rate (aif360's ``statistical_parity_difference``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select` (a list is a union, like aif360's list of dicts).
    privileged
        The privileged group(s), disjoint from ``unprivileged``.
    rate
        ``"selection_rate"`` compares predictions (aif360's ``ClassificationMetric``); ``"base_rate"`` compares
        true labels (aif360's ``BinaryLabelDatasetMetric``, a property of the data rather than the model).

    Returns
    -------
    float
        In [-1, 1]; negative means the unprivileged side receives the favourable outcome less often.
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)
    return _pair_rate(unprivileged_counts, rate) - _pair_rate(privileged_counts, rate)


def disparate_impact(
    counts: GroupCounts,
    *,
    unprivileged: GroupSelector,
    privileged: GroupSelector,
    rate: Literal["selection_rate", "base_rate"] = "selection_rate",
) -> float:
    """Unprivileged over privileged favourable-outcome rate (aif360's ``disparate_impact``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select`.
    privileged
        The privileged group(s), disjoint from ``unprivileged``.
    rate
        ``"selection_rate"`` (predictions, ``ClassificationMetric``) or ``"base_rate"`` (true labels,
        ``BinaryLabelDatasetMetric``).

    Returns
    -------
    float
        1 means parity; below 0.8 fails the four-fifths rule of thumb. NaN if the privileged rate is 0 (aif360
        returns inf or NaN there, with a ``RuntimeWarning``).
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)
    return _scalar_ratio(_pair_rate(unprivileged_counts, rate), _pair_rate(privileged_counts, rate))


def average_odds_difference(counts: GroupCounts, *, unprivileged: GroupSelector, privileged: GroupSelector) -> float:
    """Mean of the unprivileged-minus-privileged FPR and TPR differences (aif360's ``average_odds_difference``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select`.
    privileged
        The privileged group(s), disjoint from ``unprivileged``.

    Returns
    -------
    float
        In [-1, 1]; 0 means equal odds on average. NaN if either side has no positive or no negative labels
        (as aif360).
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)

    def rates(side: ConfusionCounts) -> tuple[float, float]:
        return _scalar_ratio(side.fp, side.fp + side.tn), _scalar_ratio(side.tp, side.tp + side.fn)

    unprivileged_fpr, unprivileged_tpr = rates(unprivileged_counts)
    privileged_fpr, privileged_tpr = rates(privileged_counts)
    return 0.5 * ((unprivileged_fpr - privileged_fpr) + (unprivileged_tpr - privileged_tpr))


@dataclass(frozen=True, eq=False)
class ImpactRatios:
    """Each group's rate over the reference group's rate (aligned with ``groups.names``)."""

    groups: GroupIndex
    reference: int
    """Position of the reference group."""
    by_group: FloatArray

    @property
    def reference_name(self) -> str:
        return self.groups.names[self.reference]

    def as_dict(self) -> dict[str, float]:
        """Group name to impact ratio."""
        return dict(zip(self.groups.names, self.by_group.tolist(), strict=True))


def impact_ratios(selection_rates: GroupRates, *, reference: int | str | None = None) -> ImpactRatios:
    """Each group's selection rate over the reference group's, as NYC Local Law 144 bias audits report them.

    Parameters
    ----------
    selection_rates
        Per-group selection rates from :func:`selection_rate` (LL144 uses the same ratio for scoring rates).
    reference
        The group to compare with, by position or name. By default the group with the highest selection rate
        (LL144's "most selected category"; the first one on a tie), so every ratio is at most 1.

    Returns
    -------
    ImpactRatios
        The ratio per group; NaN for every group if the reference rate is 0 or undefined.
    """
    rates = selection_rates.by_group
    if reference is None:
        if np.all(np.isnan(rates)):
            raise ValueError("no group has a defined selection rate to use as the reference")
        position = int(np.nanargmax(rates))
    else:
        position = int(np.flatnonzero(selection_rates.groups.select(reference))[0])
    # A reference rate of 0 gives NaN (0/0 and x/0 alike); a NaN reference propagates NaN.
    by_group = _ratio(rates, np.full_like(rates, rates[position]), math.nan)
    return ImpactRatios(groups=selection_rates.groups, reference=position, by_group=by_group)


# ---------------------------------------------------------------------------------------------------------------
# Inequality of individual benefit (aif360's generalized entropy index), from counts
# ---------------------------------------------------------------------------------------------------------------


def generalized_entropy_index(counts: GroupCounts, *, alpha: float = 2.0) -> float:
    r"""Generalized entropy index of the benefit ``b = y_pred - y_true + 1`` over all rows (aif360's definition).

    Each row's benefit is 0 for a false negative, 1 for a correct prediction and 2 for a false positive, so the index
    follows from the overall confusion counts: with :math:`\mu` the mean benefit,
    :math:`GE(\alpha) = \frac{1}{n\,\alpha(\alpha-1)}\sum_i[(b_i/\mu)^\alpha - 1]` and
    :math:`GE(1) = \frac{1}{n}\sum_i (b_i/\mu)\ln(b_i/\mu)` (the Theil index), with :math:`0 \ln 0 = 0`.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`; only the overall counts are used.
    alpha
        Greater than 0. (For alpha <= 0 the index is infinite as soon as there is one false negative, b = 0.)
        aif360's ``coefficient_of_variation`` is ``sqrt(2 * GE(2))``.

    Returns
    -------
    float
        0 when every row gets the same benefit; NaN if the mean benefit is 0 (every row a false negative).
        With sample weights the means are weighted; aif360 ignores instance weights in this index, so the two
        agree on unweighted data only.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be greater than 0, got {alpha}")
    overall = counts.overall
    correct, over_benefit, total = overall.tp + overall.tn, overall.fp, overall.n
    if total == 0:
        return math.nan
    mean = (correct + 2 * over_benefit) / total
    if mean == 0:
        return math.nan
    if alpha == 1:
        # Rows with b = 0 contribute 0 * ln 0 = 0.
        return float((correct * _x_log_x(1 / mean) + over_benefit * _x_log_x(2 / mean)) / total)
    power_mean = (correct * (1 / mean) ** alpha + over_benefit * (2 / mean) ** alpha) / total
    return float((power_mean - 1) / (alpha * (alpha - 1)))


def _x_log_x(x: float) -> float:
    return x * math.log(x) if x > 0 else 0.0


def theil_index(counts: GroupCounts) -> float:
    """The Theil index of the benefit ``b = y_pred - y_true + 1`` over all rows (aif360's ``theil_index``).

    It is :func:`generalized_entropy_index` with alpha = 1: 0 when every row gets the same benefit, larger when
    errors concentrate benefit (false positives) or withhold it (false negatives).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`; only the overall counts are used. With sample
        weights the means are weighted (aif360 ignores instance weights here).

    Returns
    -------
    float
        Between 0 and ln(n); NaN if every row is a false negative.
    """
    return generalized_entropy_index(counts, alpha=1.0)
