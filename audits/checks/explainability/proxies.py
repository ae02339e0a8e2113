"""Features that stand in for a protected attribute (pure; no Django): each feature's association with each
protected attribute (Cramér's V, mutual information), how far a feature determines one (``proxy_measure``), the
policy's rule for counting it (``proxy_association_min``), and the features counted for protected attributes, each
with every reason it counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.base import basis, finite, threshold
from audits.metrics import cramers_v, mutual_information

PROXY_MIN_CRAMERS_V = 0.3  # a "moderate" association or stronger (Cohen's convention for one degree of freedom)
PROXY_MAX_RANK = 5
QUANTILE_BINS = 5
CATEGORICAL_MAX_VALUES = 10
# Determination of a protected attribute by a feature (the measures a policy's ``proxy_measure`` may name), and the
# candidate cut points of a numeric feature with many values: its percentiles (a cut inside one moves at most 1% of
# the rows, so a column binned from the feature still scores about 0.98 or more).
PROXY_MEASURES = ("cramers_v",)
PERCENTILE_BINS = 100
# The operator a threshold must meet to pass, from the policy's ``operator`` or its older ``comparison`` word.
COMPARISON_OPERATORS = {"min": ">=", "max": "<="}


def categories(column: np.ndarray) -> np.ndarray:
    """A numeric column as category codes: its values when there are at most ten, else its quintile (missing = -1)."""
    values = np.asarray(column, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    codes = np.full(len(values), -1, dtype=np.int64)
    if len(present) == 0:
        return codes
    distinct = np.unique(present)
    if len(distinct) <= CATEGORICAL_MAX_VALUES:
        codes[~missing] = np.searchsorted(distinct, present)
        return codes
    edges = np.unique(np.quantile(present, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1]))
    codes[~missing] = np.searchsorted(edges, present, side="right")
    return codes


def separating_intervals(column: np.ndarray, attribute: np.ndarray, *, intervals: int) -> np.ndarray:
    r"""A numeric column as interval codes (missing = -1): its values, or its percentiles when it has more than
    ``PERCENTILE_BINS`` values, grouped into at most ``intervals`` consecutive intervals, those whose contingency
    table with ``attribute`` has the largest chi-squared statistic.

    Parameters
    ----------
    column
        One number per row (NaN for missing).
    attribute
        One category per row (the protected attribute, known rows only), same length as ``column``.
    intervals
        The most intervals the cut may make.

    Notes
    -----
    With the attribute's category totals fixed, :math:`\chi^2/n + 1 = \sum_i \sum_j n_{ij}^2 / (n_i n_j)` is a sum
    over the intervals, so the best cut into ``intervals`` pieces is found exactly by dynamic programming over the
    candidate cut points (at most 100 of them: a few milliseconds).
    """
    values = np.asarray(column, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    codes = np.full(len(values), -1, dtype=np.int64)
    if len(present) == 0:
        return codes
    distinct, fine = np.unique(present, return_inverse=True)
    if len(distinct) > PERCENTILE_BINS:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, PERCENTILE_BINS + 1)[1:-1]))
        fine = np.searchsorted(edges, present, side="right")
    bins = int(fine.max()) + 1
    if bins <= intervals:
        codes[~missing] = fine
        return codes
    labels, category = np.unique(np.asarray(attribute)[~missing], return_inverse=True)
    counts = np.zeros((bins, len(labels)))
    np.add.at(counts, (fine, category), 1.0)
    cumulative = np.vstack([np.zeros((1, len(labels))), np.cumsum(counts, axis=0)])  # rows 0..bins
    totals = cumulative.sum(axis=1)
    per_category = counts.sum(axis=0)
    # score[a, b]: the sum over categories of n_ij^2 / (n_i n_j) for the interval of fine bins a .. b-1.
    inside = cumulative[None, :, :] - cumulative[:, None, :]
    size = totals[None, :] - totals[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(size > 0, (inside**2 / per_category).sum(axis=2) / size, -np.inf)
    best = score[0]  # one interval covering bins 0 .. b-1
    choices = []
    for _ in range(intervals - 1):
        total = best[:, None] + score
        choice = np.argmax(total, axis=0)
        choices.append(choice)
        best = total[choice, np.arange(bins + 1)]
    cuts, end = [], bins
    for choice in reversed(choices):
        end = int(choice[end])
        cuts.append(end)
    codes[~missing] = np.searchsorted(np.asarray(sorted(cuts)), fine, side="right")
    return codes


def determination(column: np.ndarray, attribute: np.ndarray, *, measure: str) -> dict[str, Any]:
    """How far ``column`` (a feature) determines ``attribute`` (a protected attribute, known rows only), by
    ``measure`` (one of ``PROXY_MEASURES``): the value (None when undefined) and the categories compared."""
    if measure not in PROXY_MEASURES:
        raise ValueError(f"proxy_measure {measure!r} is not one of {', '.join(PROXY_MEASURES)}.")
    present = np.asarray(column, dtype=np.float64)
    present = present[~np.isnan(present)]
    if len(np.unique(present)) <= CATEGORICAL_MAX_VALUES:
        codes, categorised = categories(column), "values"
    else:
        intervals = max(len(np.unique(attribute)) + 1, QUANTILE_BINS)
        codes, categorised = separating_intervals(column, attribute, intervals=intervals), "separating intervals"
    return {
        "measure": measure,
        "value": finite(cramers_v(attribute, codes, bias_correction=True)),
        "categorised_by": categorised,
        "categories": len(np.unique(codes)),
    }


def known_values(evaluation: Any, role: str) -> np.ndarray:
    """Whether each row's value of the protected attribute ``role`` is known (the evaluation's unknown mask when it
    has one, else: not empty)."""
    unknown = (getattr(evaluation, "unknown", None) or {}).get(role)
    if unknown is not None:
        return ~np.asarray(unknown, dtype=bool)
    values = np.asarray(evaluation.protected[role])
    return ~((values == "") | (values == None))  # noqa: E711 - elementwise: a None cell in an object column


def associations(
    *,
    features: np.ndarray,
    names: tuple[str, ...],
    protected: Mapping[str, np.ndarray],
    known: Mapping[str, np.ndarray] | None = None,
    skip: frozenset[str] | set[str] = frozenset(),
    measure: str | None = None,
) -> list[dict[str, Any]]:
    """Every (feature, protected attribute) pair's Cramér's V (bias-corrected) and mutual information (nats), over
    the rows where the attribute is known (``known``: a mask per attribute; all rows without it), for the features
    that are not themselves protected attributes (named in ``protected`` or ``skip``); with ``measure``, also how far
    the feature determines the attribute (``determination``)."""
    found = []
    for j, name in enumerate(names):
        if name in protected or name in skip:
            continue
        for attribute, column in protected.items():
            rows = np.ones(len(column), dtype=bool) if known is None else np.asarray(known[attribute], dtype=bool)
            values, attribute_values = features[rows, j], np.asarray(column)[rows]
            codes = categories(values)
            pair: dict[str, Any] = {
                "feature": name,
                "attribute": attribute,
                "cramers_v": finite(cramers_v(attribute_values, codes, bias_correction=True)),
                "mutual_information": finite(mutual_information(attribute_values, codes)),
                "categories": len(np.unique(codes)),
            }
            if measure is not None:
                pair["determination"] = determination(values, attribute_values, measure=measure)
            found.append(pair)
    return found


@dataclass(frozen=True)
class ProxyRule:
    """The policy's rule for counting a feature as a protected attribute: ``measure`` meets ``operator`` ``value``."""

    measure: str
    value: float
    operator: str
    basis: dict[str, Any]

    def met(self, measured: float | None) -> bool:
        if measured is None:
            return False
        return measured >= self.value if self.operator == ">=" else measured > self.value


def operator_of(settings: Mapping[str, Any], key: str, default: str) -> str:
    """The operator a threshold's value must meet to pass (its ``operator``, or its ``comparison`` word)."""
    entry = settings.get(key)
    if not isinstance(entry, Mapping):
        return default
    return str(entry.get("operator") or COMPARISON_OPERATORS.get(entry.get("comparison", ""), default))


def proxy_rule(settings: Mapping[str, Any]) -> ProxyRule | None:
    """The policy's ``proxy_measure`` and ``proxy_association_min``, or None when it sets no cut-off."""
    value = threshold(settings, "proxy_association_min")
    if value is None:
        return None
    measure = settings.get("proxy_measure")
    if measure not in PROXY_MEASURES:
        raise ValueError(
            f"explainability: proxy_association_min needs proxy_measure, one of {', '.join(PROXY_MEASURES)}; "
            f"got {measure!r}."
        )
    operator = operator_of(settings, "proxy_association_min", ">=")
    if operator not in (">=", ">"):
        raise ValueError(f"explainability: proxy_association_min's operator must be '>=' or '>', not {operator!r}.")
    return ProxyRule(measure, value, operator, basis(settings, "proxy_association_min") or {})


def counted_features(
    *,
    columns: Mapping[str, str],
    derived_from: Mapping[str, tuple[str, ...]],
    pairs: list[dict[str, Any]],
    rule: ProxyRule | None,
    by_feature: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The features whose attribution counts as a protected attribute's, each once (by importance rank), with every
    reason it counts: ``model_input`` (the attribute's own column), ``declared`` (the column roles' derived_from) or
    ``association`` (the rule's measure met, with its value)."""
    reasons: dict[str, list[dict[str, Any]]] = {}
    for role, column in columns.items():
        if column in by_feature:
            reasons.setdefault(column, []).append({"attribute": role, "why": "model_input"})
        for source in derived_from.get(role, ()):
            if source in by_feature:
                reasons.setdefault(source, []).append({"attribute": role, "why": "declared"})
    if rule is not None:
        for pair in pairs:
            measured = pair.get("determination", {}).get("value")
            if rule.met(measured):
                reasons.setdefault(pair["feature"], []).append(
                    {"attribute": pair["attribute"], "why": "association", "measure": rule.measure, "value": measured}
                )
    counted = [{**by_feature[feature], "because": because} for feature, because in reasons.items()]
    return sorted(counted, key=lambda entry: entry["rank"])


def _declared_sources(evaluation: Any, columns: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The column roles' ``derived_from`` keyed by protected role (the roles may name a role or its column)."""
    declared = getattr(evaluation.roles, "derived_from", None) or {}
    by_role: dict[str, tuple[str, ...]] = {}
    for role, column in columns.items():
        sources = [*declared.get(role, ()), *(declared.get(column, ()) if column != role else ())]
        if sources:
            by_role[role] = tuple(dict.fromkeys(sources))
    return by_role
