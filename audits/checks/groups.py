"""Grouping shared by the group checks: each protected attribute alone, and their intersection when there are
several (and the policy asks for intersections), with confusion counts computed once per grouping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.metrics import GroupCounts, confusion_by_group, encode_groups, wilson_interval


@dataclass
class Grouping:
    """One way of splitting the rows into groups, and its confusion counts."""

    name: str  # "sex", or "sex x age" for an intersection
    columns: tuple[str, ...]
    counts: GroupCounts

    @property
    def names(self) -> tuple[str, ...]:
        return self.counts.groups.names

    @property
    def sizes(self) -> np.ndarray:
        return np.asarray(self.counts.n, dtype=float)


def groupings(evaluation: Any, *, intersections: bool | list[list[str]]) -> list[Grouping]:
    """Every grouping the checks judge: one per protected attribute, plus intersections: all protected columns
    together when ``intersections`` is true, or exactly the listed sets (those whose columns are all protected
    columns of this audit) when the policy lists them."""
    columns = list(evaluation.protected)
    sets: list[tuple[str, ...]] = [(c,) for c in columns]
    if isinstance(intersections, list):
        sets += [tuple(chosen) for chosen in intersections if len(chosen) > 1 and set(chosen) <= set(columns)]
    elif intersections and len(columns) > 1:
        sets.append(tuple(columns))
    found = []
    for chosen in sets:
        index = encode_groups({c: evaluation.protected[c] for c in chosen}, missing="group")
        counts = confusion_by_group(y_true=evaluation.y_true, y_pred=evaluation.y_pred, groups=index)
        found.append(Grouping(name=" x ".join(chosen), columns=chosen, counts=counts))
    return found


def interval(successes: Any, n: Any, confidence: float) -> tuple[list[float | None], list[float | None]]:
    """Wilson intervals as JSON-ready lists (None where a group has no rows for the rate's denominator)."""
    low, high = wilson_interval(np.asarray(successes, dtype=float), np.asarray(n, dtype=float), confidence)
    as_list = lambda values: [None if not np.isfinite(v) else float(v) for v in values]  # noqa: E731
    return as_list(low), as_list(high)


def reference_group(grouping: Grouping, *, explicit: str | None, rates: np.ndarray, eligible: np.ndarray) -> int:
    """The position of the reference group: the one named (a value of a single attribute, such as ``<=25``, or a
    full name such as ``age_group=<=25``), else the eligible group with the highest selection rate (as NYC LL144
    does). A named group that does not exist is an error, never silently replaced."""
    names = grouping.names
    if explicit:
        for wanted in (f"{grouping.columns[0]}={explicit}", explicit):
            if wanted in names:
                return names.index(wanted)
        raise ValueError(f"reference group {explicit!r} is not a group of {grouping.name}; groups: {', '.join(names)}")
    candidates = np.where(eligible & np.isfinite(rates), rates, -np.inf)
    if not np.isfinite(candidates).any():
        candidates = np.where(np.isfinite(rates), rates, -np.inf)
    return int(np.argmax(candidates))
