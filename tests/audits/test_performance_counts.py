"""The performance check's accuracy, balanced accuracy, precision, recall and F1 come from confusion counts (no
scikit-learn import on a predictions-only audit); they must equal scikit-learn's own functions exactly, float for
float, on random and degenerate label sets (one class, no favourable decision, every decision favourable, one row)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics

from audits.checks.base import finite
from audits.checks.performance import _metrics


def _reference(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    """scikit-learn's figures, as the check computed them before it counted for itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "accuracy": finite(metrics.accuracy_score(y_true, y_pred)),
            "balanced_accuracy": finite(metrics.balanced_accuracy_score(y_true, y_pred))
            if len(np.unique(y_true)) == 2
            else None,
            "precision": finite(metrics.precision_score(y_true, y_pred, zero_division=np.nan)),
            "recall": finite(metrics.recall_score(y_true, y_pred, zero_division=np.nan)),
            "f1": finite(metrics.f1_score(y_true, y_pred, zero_division=np.nan)),
        }


CASES = [
    (n, p_true, p_pred, seed)
    for n in (1, 2, 3, 7, 31, 997, 100_003)
    for p_true in (0.0, 0.3, 1.0)
    for p_pred in (0.0, 0.5, 1.0)
    for seed in (1, 2)
]


@pytest.mark.parametrize(("n", "p_true", "p_pred", "seed"), CASES)
def test_counted_figures_equal_scikit_learn_exactly(n: int, p_true: float, p_pred: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = (rng.random(n) < p_true).astype(np.int8)
    y_pred = (rng.random(n) < p_pred).astype(np.int8)
    mine = _metrics(y_true, y_pred, None)
    assert mine == _reference(y_true, y_pred)  # == on floats: the same float64, not merely close


def test_a_million_rows_with_awkward_fractions_equal_scikit_learn() -> None:
    rng = np.random.default_rng(20261206)
    y_true = (rng.random(1_000_003) < 0.37).astype(np.int8)
    y_pred = (rng.random(1_000_003) < 0.61).astype(np.int8)
    assert _metrics(y_true, y_pred, None) == _reference(y_true, y_pred)


def test_with_scores_roc_auc_and_brier_are_still_scikit_learn_s() -> None:
    rng = np.random.default_rng(7)
    y_true = (rng.random(5000) < 0.4).astype(np.int8)
    scores = rng.random(5000)
    y_pred = (scores >= 0.5).astype(np.int8)
    figures = _metrics(y_true, y_pred, scores)
    assert figures["roc_auc"] == metrics.roc_auc_score(y_true, scores)
    assert figures["brier"] == metrics.brier_score_loss(y_true, scores)
    assert _metrics(np.zeros(10, np.int8), np.zeros(10, np.int8), rng.random(10))["roc_auc"] is None  # one class
