"""What every check is: a small class with one job, reading an Evaluation and its policy settings, returning pass,
fail or insufficient evidence with the reason in words and every number it computed (pure: no Django)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    """A threshold's value from the policy (``{value, comparison, basis}``), or None when the policy sets none."""
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
    import math

    return None if value is None or not math.isfinite(value) else float(value)
