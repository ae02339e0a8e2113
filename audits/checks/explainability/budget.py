"""What the checks that query the model share (pure; no Django): why a check needs the model when an audit has
none, the wall-clock time budget that stops a long model call, and the seeded sample of rows. The adversarial check
uses these too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_TIME_BUDGET_SECONDS = 30.0


def model_needed(evaluation: Any, *, consequence: str) -> str:
    """The reason a check that queries the model cannot run on ``evaluation``: where the audit's decisions came from
    instead, ``consequence`` (what cannot be done), and what would let the check run."""
    roles = evaluation.roles
    columns = [f"prediction column {roles.prediction!r}" if roles.prediction else ""]
    columns.append(f"score column {roles.score!r}" if roles.score else "")
    used = " and ".join(c for c in columns if c)
    if not used:
        no_model = "The check needs the model artifact: this audit has predictions only (no model to query)"
        return f"{no_model}, so {consequence}."
    reason = f"The check needs the model, and this audit used the dataset's {used} instead of it, so {consequence}."
    if evaluation.model_artifact is False:
        advice = "The version has no model artifact (predictions only): register one with its ONNX or skops artifact."
    elif evaluation.model_artifact:
        advice = "The version has a model artifact: leave prediction and score out of column_roles to audit the model."
    else:
        advice = "Leaving prediction and score out of column_roles audits the model itself (the version's artifact)."
    return f"{reason} {advice}"


class OutOfTime(Exception):
    """The check's time budget ran out; raised by a guarded model call so that a long library call stops."""


@dataclass
class TimeBudget:
    """Wall-clock seconds a check may use, counted from its creation."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def expired(self) -> bool:
        return self.elapsed() >= self.seconds

    def guard(self, function: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
        """``function``, refusing to start (raising OutOfTime) once the budget has run out."""

        def guarded(matrix: np.ndarray) -> Any:
            if self.expired():
                raise OutOfTime
            return function(matrix)

        return guarded


def seeded_rows(total: int, wanted: int, rng: np.random.Generator) -> np.ndarray:
    """``wanted`` distinct row indices out of ``total`` (all of them when there are fewer), in ascending order."""
    if wanted >= total:
        return np.arange(total)
    return np.sort(rng.choice(total, size=wanted, replace=False))


def budget_settings(settings: Mapping[str, Any], *, default_rows: int) -> tuple[int, float]:
    """The policy's ``sample_rows`` and ``time_budget_seconds``, or the defaults."""
    rows = int(settings.get("sample_rows") or default_rows)
    seconds = float(settings.get("time_budget_seconds") or DEFAULT_TIME_BUDGET_SECONDS)
    return rows, seconds
