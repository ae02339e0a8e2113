"""SHAP attributions (pure; no Django): what every explainer returns, shap's model-agnostic KernelExplainer (the
explainer for models whose structure is not read and that have more than ten inputs), one row at a time within the
time budget, and the global importance of each feature (see the package docstring for the method and its cost).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.base import finite
from audits.checks.explainability.budget import OutOfTime, TimeBudget

BACKGROUND_ROWS = 100  # shap's advice: a background of about 100 rows; cost grows linearly with it
EXTRA_COALITIONS = 512  # coalitions per row beyond twice the number of features (see the package docstring)


@dataclass
class Attributions:
    """SHAP values of the explained rows (those the time budget allowed, in sample order)."""

    rows: np.ndarray  # indices into the evaluation's rows
    values: np.ndarray  # (len(rows), features)
    outputs: np.ndarray  # the explained output (score or decision) of each explained row
    base_value: float  # the background's mean output, E f
    coalitions: int | None  # coalitions evaluated per row (None: the explainer reads the model, it evaluates none)
    exact: bool  # exact Shapley values (every coalition evaluated, or computed from the model's structure)
    rows_sampled: int
    background_rows: int
    stopped_by_time_budget: bool


def kernel_shap(
    *,
    decide: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    background: np.ndarray,
    budget: TimeBudget,
    seed: int,
) -> Attributions:
    """Kernel SHAP values of ``decide`` (matrix to the explained output) for ``features[rows]``, one row at a time
    until ``budget`` runs out.

    Parameters
    ----------
    decide
        The explained output for each row of a matrix: the model's score of the favourable class, or its favourable
        decision as 0.0 or 1.0.
    features
        The evaluation's feature matrix.
    rows
        The rows to explain, in order.
    background
        The rows standing in for "feature unknown" (shap's background data).
    budget
        The time budget; a model call past it raises OutOfTime and the row in progress is dropped.
    seed
        Seeds numpy's global generator (restored afterwards), which shap uses to sample coalitions.
    """
    with warnings.catch_warnings():  # shap's plotting module warns at import about matplotlib deprecations
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    width = features.shape[1]
    coalitions = min(2 * width + EXTRA_COALITIONS, 2**width - 2) if width <= 30 else 2 * width + EXTRA_COALITIONS
    guarded = budget.guard(lambda matrix: np.asarray(decide(matrix), dtype=np.float64))
    explained: list[int] = []
    values: list[np.ndarray] = []
    stopped = False
    base_value = math.nan
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        # The explainer evaluates the model on the background once (the base value), then each row on its own.
        explainer = shap.KernelExplainer(guarded, background)
        base_value = float(np.ravel(explainer.expected_value)[0])
        for row in rows:
            row_values = explainer.shap_values(
                features[row : row + 1], silent=True, l1_reg=False, nsamples=max(coalitions, 1)
            )
            explained.append(int(row))
            values.append(np.asarray(row_values, dtype=np.float64).reshape(-1))
    except OutOfTime:
        stopped = True
    finally:
        np.random.set_state(state)
    index = np.asarray(explained, dtype=np.intp)
    outputs = np.asarray(decide(features[index]), dtype=np.float64) if len(index) else np.zeros(0)
    return Attributions(
        rows=index,
        values=np.vstack(values) if values else np.zeros((0, features.shape[1])),
        outputs=outputs,
        base_value=base_value,
        coalitions=coalitions,
        exact=width <= 30 and coalitions == 2**width - 2,
        rows_sampled=len(rows),
        background_rows=len(background),
        stopped_by_time_budget=stopped,
    )


def importance_table(values: np.ndarray, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each feature's mean absolute SHAP value, share of the total and rank (1 = most important), by rank."""
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(names))
    total = float(mean_abs.sum())
    order = np.argsort(-mean_abs, kind="stable")
    return [
        {
            "feature": names[j],
            "mean_abs_shap": float(mean_abs[j]),
            "share": finite(mean_abs[j] / total) if total > 0 else None,
            "rank": rank,
        }
        for rank, j in enumerate(order, start=1)
    ]
