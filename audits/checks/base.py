"""What every check is: a small class with one job, reading an Evaluation and its policy settings, returning pass,
fail or insufficient evidence with the reason in words and every number it computed (pure: no Django)."""

from __future__ import annotations

import math
import operator as _operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

PASS = "pass"  # noqa: S105 - an outcome, not a password
FAIL = "fail"
INSUFFICIENT = "insufficient_evidence"


@dataclass(frozen=True)
class CheckContext:
    """Policy-wide settings every check obeys."""

    confidence_level: float = 0.95
    min_group_size: int = 30
    seed: int = 20261127
    intersections: bool | list[list[str]] = True  # all protected columns together, or the listed sets
    # A group below min_group_size: "insufficient" (its comparisons are insufficient evidence, the default) or
    # "exclude" (listed as excluded with its count and rate; only when the policy says so, with a basis).
    small_groups: str = "insufficient"
    small_groups_basis: Mapping[str, Any] | None = None
    # The policy's ``max_unknown_share`` threshold entry ({value, operator, basis}), or None.
    max_unknown_share: Mapping[str, Any] | None = None


@dataclass
class CheckOutcome:
    """A check's result: the outcome, why (in words), and the full details (passed results as well as failed)."""

    name: str
    outcome: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    required: bool = True


class Check:
    """One measurement under a policy's thresholds. Subclasses set ``name`` and implement ``run``."""

    name: ClassVar[str] = ""

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        raise NotImplementedError

    def outcome(self, outcome: str, reason: str, **details: Any) -> CheckOutcome:
        return CheckOutcome(name=self.name, outcome=outcome, reason=reason, details=details)


def threshold(settings: Mapping[str, Any], key: str) -> float | None:
    """A threshold's value from the policy (``{value, operator, basis}``), or None when the policy sets none.

    A float, for settings that bound a float measurement; a judgement on a ratio or difference of counts uses
    :func:`exact_threshold` instead."""
    entry = settings.get(key)
    if entry is None:
        return None
    if isinstance(entry, Mapping):
        return float(entry["value"])
    return float(entry)


def basis(settings: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The basis a policy gives for a threshold (its rule or regulation), for the report."""
    entry = settings.get(key)
    return dict(entry.get("basis", {})) if isinstance(entry, Mapping) else None


def finite(value: float) -> float | None:
    """A JSON-safe number: NaN and infinities become None (undefined), never a silent 0."""
    return None if value is None or not math.isfinite(value) else float(value)


# --- exact thresholds --------------------------------------------------------------------------------------------

#: The pass conditions a policy may state, as ``measured <operator> value``.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": _operator.ge,
    ">": _operator.gt,
    "<=": _operator.le,
    "<": _operator.lt,
}
#: Policies written before operators existed said ``comparison: min`` (at least) or ``max`` (at most).
LEGACY_COMPARISONS = {"min": ">=", "max": "<="}
# How a measurement that does not meet the condition is described ("is below 0.8").
_FAILS_AS = {">=": "is below", ">": "is not above", "<=": "exceeds", "<": "is not below"}
_PASSES_AS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}


def exact(value: Fraction | None) -> str | None:
    """A fraction as the text results carry (``"4/5"``, ``"0/1"``), or None when it is undefined."""
    return None if value is None else f"{value.numerator}/{value.denominator}"


def rate(numerator: Any, denominator: Any) -> Fraction | None:
    """The exact rate of two counts; None (undefined, never 0) when the denominator is 0."""
    numerator, denominator = int(numerator), int(denominator)
    return None if denominator == 0 else Fraction(numerator, denominator)


@dataclass(frozen=True)
class Threshold:
    """One threshold as judged: ``measured <operator> exact`` passes. ``exact`` is read from the policy's decimal
    text (``Fraction("0.8") == 4/5``), never from a binary float, so a ratio of exactly four-fifths meets it."""

    key: str
    value: float
    exact: Fraction
    operator: str
    basis: dict[str, Any] | None = None

    def passes(self, measured: Fraction) -> bool:
        """Whether an exact measurement meets the pass condition."""
        return bool(OPERATORS[self.operator](measured, self.exact))

    @property
    def fails_as(self) -> str:
        """Words for a measurement that does not pass: ``is below 0.8``."""
        return f"{_FAILS_AS[self.operator]} {self.value:g}"

    @property
    def passes_as(self) -> str:
        """Words for the pass condition: ``at least 0.8``."""
        return f"{_PASSES_AS[self.operator]} {self.value:g}"

    def as_json(self) -> dict[str, Any]:
        """The threshold as results echo it: value, exact fraction, operator and basis."""
        return {"value": self.value, "exact": exact(self.exact), "operator": self.operator, "basis": self.basis}


def operator_of(entry: Mapping[str, Any], *, default: str) -> str:
    """The pass condition a threshold entry states (``operator``, else the legacy ``comparison``, else
    ``default``, the check's own direction for entries built in code)."""
    if "operator" in entry:
        found = str(entry["operator"])
    elif "comparison" in entry:
        found = LEGACY_COMPARISONS.get(str(entry["comparison"]), "")
    else:
        found = default
    if found not in OPERATORS:
        raise ValueError(f"unknown threshold operator {found!r}; one of {', '.join(OPERATORS)}")
    return found


def exact_threshold(
    settings: Mapping[str, Any] | None, key: str, *, default_operator: str, default: float | None = None
) -> Threshold | None:
    """The threshold ``key`` of ``settings`` for exact judgement, or one of ``default`` when the policy sets none
    (None when there is no default either). A bare number is accepted for settings built in code."""
    entry = (settings or {}).get(key)
    if entry is None:
        if default is None:
            return None
        entry = {"value": default}
    if not isinstance(entry, Mapping):
        entry = {"value": entry}
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: the threshold value must be a number, got {value!r}")
    # str() of a float is its shortest round-trip decimal, i.e. the text the policy wrote: 0.8 -> "0.8" -> 4/5.
    exact_value = Fraction(str(value))
    return Threshold(
        key=key,
        value=float(value),
        exact=exact_value,
        operator=operator_of(entry, default=default_operator),
        basis=dict(entry["basis"]) if isinstance(entry.get("basis"), Mapping) else None,
    )
