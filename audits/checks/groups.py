"""Grouping shared by the group checks: each protected attribute alone, and their intersection when there are
several (and the policy asks for intersections), with confusion counts computed once per grouping.

Two rules live here, written once for both group checks (disparate impact and group fairness):

- **Unknown categories** (6 RCNY 5-301: individuals in an unknown category are not included in the calculations,
  and their number is stated separately). A row whose value is unknown in any column of a grouping is in no group
  of that grouping: it is counted in ``Grouping.unknown``, never compared and never a reference, and never part of
  an intersection. What counts as unknown is the Evaluation's ``unknown`` mask per role when it has one (empty
  cells, plus tokens the column roles declare), else an empty value.
- **Small groups** (:func:`small_group_status`): a group below the policy's ``min_group_size`` is never silently
  judged. Its comparisons are ``insufficient_small_group`` (and the check is insufficient evidence), unless the
  policy says ``small_groups: {handling: exclude, basis}``, when it is ``excluded_small_group``: listed with its
  count and rate, left out of the judgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from audits.checks.base import CheckContext, exact, exact_threshold, finite, rate
from audits.metrics import ConfusionCounts, GroupCounts, GroupIndex, confusion_by_group, encode_groups, wilson_interval
from audits.statistics.cells import confusion_from_cells, weighted_total

INSUFFICIENT_SMALL = "insufficient_small_group"
EXCLUDED_SMALL = "excluded_small_group"


@dataclass
class Grouping:
    """One way of splitting the rows into groups (known rows only), its confusion counts, and its unknown rows."""

    name: str  # "sex", or "sex x age" for an intersection
    columns: tuple[str, ...]  # role names (keys of Evaluation.protected)
    counts: GroupCounts
    unknown: int = 0  # rows whose value is unknown in any column of this grouping
    rows: int = 0  # every row of the evaluation, known or not

    @property
    def names(self) -> tuple[str, ...]:
        return self.counts.groups.names

    @property
    def sizes(self) -> np.ndarray:
        return np.asarray(self.counts.n, dtype=float)

    def unknown_summary(self) -> dict[str, Any]:
        """``{count, share, share_exact}`` of the rows in no group (share of all rows)."""
        share = rate(self.unknown, self.rows)
        return {
            "count": self.unknown,
            "share": finite(float(share)) if share is not None else None,
            "share_exact": exact(share),
        }


def unknown_mask(evaluation: Any, role: str) -> np.ndarray:
    """Which rows have an unknown value for ``role``: the Evaluation's own mask when it has one, else an empty (or
    null, or NaN) value."""
    masks = getattr(evaluation, "unknown", None)
    if masks and role in masks:
        return np.asarray(masks[role], dtype=bool)
    values = np.asarray(evaluation.protected[role])
    if values.dtype.kind in "US":
        return values == ""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        import pandas as pd

        return np.asarray(pd.isna(values) | (values == ""), dtype=bool)
    return np.zeros(values.shape[0], dtype=bool)


def groupings(evaluation: Any, *, intersections: bool | list[list[str]]) -> list[Grouping]:
    """Every grouping the checks judge: one per protected attribute, plus intersections: all protected columns
    together when ``intersections`` is true, or exactly the listed sets (those whose columns are all protected
    columns of this audit) when the policy lists them. Rows unknown in any column of a grouping are left out of
    its groups and counted as its ``unknown``."""
    columns = list(evaluation.protected)
    sets: list[tuple[str, ...]] = [(c,) for c in columns]
    if isinstance(intersections, list):
        sets += [tuple(chosen) for chosen in intersections if len(chosen) > 1 and set(chosen) <= set(columns)]
    elif intersections and len(columns) > 1:
        sets.append(tuple(columns))
    masks = {c: unknown_mask(evaluation, c) for c in columns}
    y_true, y_pred = np.asarray(evaluation.y_true), np.asarray(evaluation.y_pred)
    # Counted cells of a source (audits.statistics): each row stands for row_weights rows, counted in integers.
    weights = getattr(evaluation, "row_weights", None)
    found = []
    for chosen in sets:
        unknown = np.zeros(y_pred.shape[0], dtype=bool)
        for column in chosen:
            unknown |= masks[column]
        known = ~unknown
        if known.any():
            index = encode_groups({c: np.asarray(evaluation.protected[c])[known] for c in chosen})
            if weights is None:
                counts = confusion_by_group(y_true=y_true[known], y_pred=y_pred[known], groups=index)
            else:
                counts = confusion_from_cells(
                    y_true=y_true[known], y_pred=y_pred[known], groups=index, counts=weights[known]
                )
        else:
            counts = _no_groups(chosen)
        found.append(
            Grouping(
                name=" x ".join(chosen),
                columns=chosen,
                counts=counts,
                unknown=int(unknown.sum()) if weights is None else weighted_total(unknown, weights),
                rows=int(y_pred.shape[0]) if weights is None else int(np.sum(weights)),
            )
        )
    return found


def _no_groups(columns: tuple[str, ...]) -> GroupCounts:
    """The counts of a grouping in which every row is unknown: no group at all."""
    empty = np.zeros(0, dtype=np.int64)
    index = GroupIndex(columns=columns, codes=np.zeros(0, dtype=np.intp), labels=())
    overall = ConfusionCounts(tp=0, fp=0, tn=0, fn=0)
    return GroupCounts(groups=index, tp=empty, fp=empty, tn=empty, fn=empty, overall=overall, weighted=False)


def interval(successes: Any, n: Any, confidence: float) -> tuple[list[float | None], list[float | None]]:
    """Wilson intervals as JSON-ready lists (None where a group has no rows for the rate's denominator)."""
    low, high = wilson_interval(np.asarray(successes, dtype=float), np.asarray(n, dtype=float), confidence)
    as_list = lambda values: [None if not np.isfinite(v) else float(v) for v in values]  # noqa: E731
    return as_list(low), as_list(high)


def small_group_status(count: int, context: CheckContext) -> str | None:
    """The one small-group rule: None for a group of at least ``min_group_size`` rows; else
    ``excluded_small_group`` when the policy says ``small_groups: exclude`` (with a basis), else
    ``insufficient_small_group`` (never judged, and the check cannot pass on the other groups alone)."""
    if count >= context.min_group_size:
        return None
    return EXCLUDED_SMALL if context.small_groups == "exclude" else INSUFFICIENT_SMALL


def small_group_words(name: str, count: int, context: CheckContext) -> str:
    """Why a small group is not judged, in words for a reason."""
    return f"{name} has only {count} rows (minimum {context.min_group_size})"


def unknown_share_problem(grouping: Grouping, context: CheckContext) -> str | None:
    """Insufficient evidence when a grouping's share of unknown rows does not meet the policy's
    ``max_unknown_share`` (exact comparison of unknown/rows with the threshold), else None."""
    limit = (
        exact_threshold({"max_unknown_share": context.max_unknown_share}, "max_unknown_share", default_operator="<=")
        if context.max_unknown_share
        else None
    )
    share = rate(grouping.unknown, grouping.rows)
    if limit is None or share is None or limit.passes(share):
        return None
    return (
        f"{grouping.name}: {grouping.unknown} of {grouping.rows} rows ({float(share):.1%}) have an unknown "
        f"category, and the policy's max_unknown_share is {limit.passes_as}"
    )


def max_unknown_json(context: CheckContext) -> dict[str, Any] | None:
    """The ``max_unknown_share`` threshold as results echo it, or None."""
    if not context.max_unknown_share:
        return None
    limit = exact_threshold({"m": context.max_unknown_share}, "m", default_operator="<=")
    return limit.as_json() if limit else None


def reference_group(
    grouping: Grouping, *, explicit: str | None, rates: list[Fraction | None], eligible: np.ndarray
) -> int | None:
    """The position of the reference group: the one named (a value of a single attribute, such as ``<=25``, or a
    full name such as ``age_group=<=25``), else the eligible group with the highest selection rate (as NYC LL144
    does), compared exactly; None when no group is eligible. A named group that does not exist is an error, never
    silently replaced."""
    names = grouping.names
    if explicit:
        for wanted in (f"{grouping.columns[0]}={explicit}", explicit):
            if wanted in names:
                return names.index(wanted)
        raise ValueError(f"reference group {explicit!r} is not a group of {grouping.name}; groups: {', '.join(names)}")
    best: int | None = None
    for position, value in enumerate(rates):
        if eligible[position] and value is not None and (best is None or value > rates[best]):  # type: ignore[operator]
            best = position
    return best


def explicit_reference(grouping: Grouping, evaluation: Any, policy_reference: Any) -> str | None:
    """The reference group named for a single-attribute grouping, by the column roles or else the policy."""
    if len(grouping.columns) != 1:
        return None
    named = evaluation.roles.reference_groups.get(grouping.columns[0])
    if named is None and isinstance(policy_reference, Mapping):
        named = policy_reference.get(grouping.columns[0])
    return named
