"""Per-group rates, each a ratio of confusion counts (selection rate, TPR, FPR, precision...), and the Wilson
interval of a proportion.

An undefined rate (0/0) is NaN by default; ``zero_division`` gives another value (the package docstring says where
fairlearn and aif360 differ).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from audits.metrics.groups.counts import GroupCounts
from audits.metrics.groups.encoding import FloatArray, GroupIndex

# ---------------------------------------------------------------------------------------------------------------
# Rates, from counts only
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupRates:
    """One rate per group (aligned with ``groups.names``) and over all rows."""

    metric: str
    groups: GroupIndex
    by_group: FloatArray
    overall: float

    def as_dict(self) -> dict[str, float]:
        """Group name to rate."""
        return dict(zip(self.groups.names, self.by_group.tolist(), strict=True))

    def __getitem__(self, group: int | str) -> float:
        """The rate of one group, by position or name."""
        return float(self.by_group[self.groups.select(group)][0])

    def __iter__(self) -> Iterator[float]:
        return iter(self.by_group.tolist())


def _ratio(numerator: npt.ArrayLike, denominator: npt.ArrayLike, zero_division: float) -> FloatArray:
    """numerator / denominator, with ``zero_division`` where the denominator is 0 (and no warning)."""
    top = np.asarray(numerator, dtype=np.float64)
    bottom = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(top, bottom).shape, zero_division, dtype=np.float64)
    np.divide(top, bottom, out=out, where=bottom != 0)
    return out


def _rate(counts: GroupCounts, metric: str, numerator: str, denominator: str, zero_division: float) -> GroupRates:
    def total(expression: str, source: Any) -> Any:
        return sum(getattr(source, part) for part in expression.split("+"))

    overall = counts.overall
    return GroupRates(
        metric=metric,
        groups=counts.groups,
        by_group=_ratio(total(numerator, counts), total(denominator, counts), zero_division),
        overall=float(_ratio(total(numerator, overall), total(denominator, overall), zero_division)),
    )


def selection_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted favourable, (TP + FP) / n: fairlearn's ``selection_rate``, aif360's ``selection_rate``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default.

    Returns
    -------
    GroupRates
        Per group and overall.
    """
    return _rate(counts, "selection_rate", "tp+fp", "tp+fp+tn+fn", zero_division)


def base_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows whose true label is favourable, (TP + FN) / n: aif360's ``base_rate``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default.
    """
    return _rate(counts, "base_rate", "tp+fn", "tp+fp+tn+fn", zero_division)


def true_positive_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly favourable rows predicted favourable, TP / (TP + FN) (recall, sensitivity).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable true labels. NaN by default (aif360's answer); fairlearn's
        ``true_positive_rate`` gives 0.0 there.
    """
    return _rate(counts, "true_positive_rate", "tp", "tp+fn", zero_division)


def false_negative_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly favourable rows predicted unfavourable, FN / (TP + FN) (miss rate).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "false_negative_rate", "fn", "tp+fn", zero_division)


def false_positive_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly unfavourable rows predicted favourable, FP / (FP + TN) (fall-out).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no unfavourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "false_positive_rate", "fp", "fp+tn", zero_division)


def true_negative_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly unfavourable rows predicted unfavourable, TN / (FP + TN) (specificity).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no unfavourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "true_negative_rate", "tn", "fp+tn", zero_division)


def precision(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted favourable that truly are, TP / (TP + FP) (positive predictive value).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable predictions. NaN by default; aif360's ``positive_predictive_value``
        gives 0.0, and scikit-learn's ``precision_score`` gives 0.0 with an ``UndefinedMetricWarning``.
    """
    return _rate(counts, "precision", "tp", "tp+fp", zero_division)


def accuracy(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted correctly, (TP + TN) / n: scikit-learn's ``accuracy_score``, aif360's ``accuracy``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default;
        aif360 gives 0.0.
    """
    return _rate(counts, "accuracy", "tp+tn", "tp+fp+tn+fn", zero_division)


# ---------------------------------------------------------------------------------------------------------------
# Confidence intervals
# ---------------------------------------------------------------------------------------------------------------


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    r"""Wilson score interval for a binomial proportion, vectorised over any number of proportions.

    :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}` with :math:`\hat p = x/n`
    and :math:`z` the two-sided normal quantile (Wilson 1927; Newcombe 1998, method 3). Unlike the Wald interval it
    stays inside [0, 1] and keeps its coverage near 0 and 1, which is where small groups' rates often are.

    Parameters
    ----------
    successes
        Number of successes (e.g. a group's ``tp + fp`` for its selection rate); scalar or array.
    n
        Number of trials (e.g. the group's ``n``); broadcast against ``successes``. ``0 <= successes <= n``.
    confidence
        Two-sided confidence level, strictly between 0 and 1.

    Returns
    -------
    (lower, upper)
        Arrays of the broadcast shape (0-d for scalar input); NaN where ``n`` is 0.
    """
    from scipy.special import ndtri

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    x = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(n, dtype=np.float64)
    if np.any(x < 0) or np.any(x > trials):
        raise ValueError("successes must satisfy 0 <= successes <= n")
    z = float(ndtri(1 - (1 - confidence) / 2))
    z2 = z * z
    p = _ratio(x, trials, math.nan)
    safe_n = np.where(trials > 0, trials, np.nan)
    with np.errstate(invalid="ignore"):
        denominator = 1 + z2 / safe_n
        centre = (p + z2 / (2 * safe_n)) / denominator
        half_width = z * np.sqrt(p * (1 - p) / safe_n + z2 / (4 * safe_n * safe_n)) / denominator
    lower = np.clip(centre - half_width, 0.0, 1.0)
    upper = np.clip(centre + half_width, 0.0, 1.0)
    return lower, upper
