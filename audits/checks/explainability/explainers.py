"""Choosing the explainer from the model's own structure, and the fast exact explainers (pure; no Django).

Every explainer computes the same quantity: the Shapley values of the game v(S) = the mean, over the background
rows, of the model's score with the features in S set to the explained row's values and the others to the background
row's (shap's "interventional" or "independent" masking). They differ only in how they get there:

- ``linear`` (a linear score, w.x + b): v is linear, so phi_j = w_j (x_j - mean of the background's x_j), exactly;
  shap's LinearExplainer with independent features computes the same numbers (tests check to 1e-6).
- ``tree`` (a tree ensemble): shap's TreeExplainer, interventional TreeSHAP over the background rows, exact and
  polynomial in the trees' size.
- ``exact`` (any other model with at most ``EXACT_MAX_FEATURES`` inputs): every one of the 2^M coalitions is
  evaluated over the background rows, batched, and the Shapley formula applied; shap's ExactExplainer with an
  Independent masker on the same background gives the same numbers (tests check to 1e-6).
- ``kernel`` (the rest): shap's KernelExplainer, an estimate from ``2 M + 512`` sampled coalitions per row
  (``attribution.kernel_shap``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.explainability.attribution import EXTRA_COALITIONS, Attributions, kernel_shap
from audits.checks.explainability.budget import OutOfTime, TimeBudget
from audits.checks.explainability.structure import Score, Structure, model_score, read_structure

EXACT_MAX_FEATURES = 10  # 2^10 coalitions x 100 background rows: about 10^5 model rows per explained row
EXACT_BATCH_ROWS = 2_000_000  # model rows per call of the exact explainer at most (16 MB per feature)
EXACT_BATCH_EXPLAINED = 10  # explained rows per call at most, so that the time budget is looked at often
TREE_BATCH_ROWS = 50  # rows per TreeExplainer call, so that the time budget is looked at between calls


@dataclass(frozen=True)
class Choice:
    """The explainer chosen for a model, why, and the score it explains."""

    explainer: str  # "linear", "tree", "exact" or "kernel"
    reason: str
    score: Score
    structure: Structure | None


def choose(
    *,
    model: Any,
    favourable: str,
    decide: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    probabilities: bool,
    no_probability_reason: str,
) -> Choice:
    """The explainer for ``model`` (a loaded Predictor, or None when only ``decide`` is known) and why."""
    structure, why_not = read_structure(model, favourable, features, probabilities=probabilities)
    width = features.shape[1]
    if structure is not None:
        score = structure.score
        if structure.kind == "linear":
            reason = (
                f"The model is linear in its inputs ({structure.source}): its {score.output} is a weighted sum "
                "w.x + b, so each feature's Shapley value over the background rows is exactly w_j (x_j - the "
                "background's mean of x_j), the values shap's LinearExplainer gives with independent features."
            )
        else:
            reason = (
                f"The model is a tree ensemble ({structure.source}): shap's TreeExplainer computes the Shapley "
                f"values of its {score.output} exactly from the trees (interventional TreeSHAP over the background "
                "rows)."
            )
        return Choice(structure.kind, reason, score, structure)
    score, no_score = model_score(model, favourable, decide, probabilities=probabilities, reason=no_probability_reason)
    explained = f"its {score.output}" if not no_score else f"its decision, because {no_score}"
    if width <= EXACT_MAX_FEATURES:
        reason = (
            f"The model's structure is not read ({why_not}), so it is queried as a black box for {explained}; with "
            f"{width} inputs (at most {EXACT_MAX_FEATURES}) every one of the {2**width} coalitions is evaluated over "
            "the background rows, so the values are exact Shapley values."
        )
        return Choice("exact", reason, score, None)
    coalitions = 2 * width + EXTRA_COALITIONS
    reason = (
        f"The model's structure is not read ({why_not}), so it is queried as a black box for {explained}; with "
        f"{width} inputs (more than {EXACT_MAX_FEATURES}) the 2^{width} coalitions are too many to enumerate, so "
        f"shap's KernelExplainer estimates the values from {coalitions} sampled coalitions per row."
    )
    return Choice("kernel", reason, score, None)


def explain(
    choice: Choice,
    *,
    features: np.ndarray,
    rows: np.ndarray,
    background: np.ndarray,
    budget: TimeBudget,
    seed: int,
) -> Attributions:
    """The Shapley values of ``choice``'s score for ``features[rows]``, by the chosen explainer, within ``budget``."""
    if choice.explainer == "linear" and choice.structure is not None and choice.structure.weights is not None:
        return linear_shap(
            weights=choice.structure.weights,
            intercept=choice.structure.intercept,
            features=features,
            rows=rows,
            background=background,
        )
    if choice.explainer == "tree" and choice.structure is not None:
        return tree_shap(choice.structure, features=features, rows=rows, background=background, budget=budget)
    if choice.explainer == "exact":
        return exact_shap(
            score=choice.score.function, features=features, rows=rows, background=background, budget=budget
        )
    return kernel_shap(
        decide=choice.score.function, features=features, rows=rows, background=background, budget=budget, seed=seed
    )


def linear_shap(
    *, weights: np.ndarray, intercept: float, features: np.ndarray, rows: np.ndarray, background: np.ndarray
) -> Attributions:
    """Exact Shapley values of the linear score ``features @ weights + intercept`` over ``background``."""
    matrix = np.asarray(features[rows], dtype=np.float64)
    mean = np.asarray(background, dtype=np.float64).mean(axis=0)
    values = (matrix - mean) * weights
    return Attributions(
        rows=np.asarray(rows, dtype=np.intp),
        values=values,
        outputs=matrix @ weights + intercept,
        base_value=float(mean @ weights + intercept),
        coalitions=None,
        exact=True,
        rows_sampled=len(rows),
        background_rows=len(background),
        stopped_by_time_budget=False,
    )


def tree_shap(
    structure: Structure, *, features: np.ndarray, rows: np.ndarray, background: np.ndarray, budget: TimeBudget
) -> Attributions:
    """shap's TreeExplainer (interventional, over ``background``) on the tree ensemble, a batch of rows at a time
    until ``budget`` runs out; the values of the favourable class's output."""
    with warnings.catch_warnings():  # shap's plotting module warns at import about matplotlib deprecations
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    explainer = shap.TreeExplainer(
        structure.estimator,
        data=np.asarray(background, dtype=np.float64),
        feature_perturbation="interventional",
        model_output="raw",
    )
    expected = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))
    index = structure.class_index if structure.class_index is not None and len(expected) > 1 else 0
    sign = -1.0 if structure.negate else 1.0
    explained: list[np.ndarray] = []
    done = 0
    stopped = False
    while done < len(rows):
        if budget.expired():
            stopped = True
            break
        batch = np.asarray(features[rows[done : done + TREE_BATCH_ROWS]], dtype=np.float64)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            values = np.asarray(explainer.shap_values(batch), dtype=np.float64)
        if values.ndim == 3:  # (rows, features, outputs): one output per class
            values = values[:, :, index]
        explained.append(sign * values)
        done += len(batch)
    index_rows = np.asarray(rows[:done], dtype=np.intp)
    return Attributions(
        rows=index_rows,
        values=np.vstack(explained) if explained else np.zeros((0, features.shape[1])),
        outputs=structure.score.function(features[index_rows]) if done else np.zeros(0),
        base_value=float(sign * expected[index]),
        coalitions=None,
        exact=True,
        rows_sampled=len(rows),
        background_rows=len(background),
        stopped_by_time_budget=stopped,
    )


def shapley_weights(width: int) -> np.ndarray:
    """The weight |S|! (M - |S| - 1)! / M! of a coalition of each size |S| = 0 .. M - 1 (M = ``width``)."""
    return np.array(
        [math.factorial(s) * math.factorial(width - s - 1) / math.factorial(width) for s in range(width)],
        dtype=np.float64,
    )


def exact_shap(
    *,
    score: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    background: np.ndarray,
    budget: TimeBudget,
) -> Attributions:
    """Exact Shapley values of ``score`` over ``background`` by evaluating every coalition: for each row and each
    subset S of the features (coded by the bits of an integer), v(S) is the mean score of the background rows with
    S set to the row's values; phi_j sums the weighted differences v(S + j) - v(S). Rows go in batches, and a model
    call past ``budget`` stops the batch in progress (the rows already done are kept)."""
    width = features.shape[1]
    codes = np.arange(2**width)
    masks = ((codes[:, None] >> np.arange(width)) & 1).astype(bool)  # (2^M, M)
    sizes = masks.sum(axis=1)
    weights = shapley_weights(width)
    back = np.asarray(background, dtype=np.float64)
    guarded = budget.guard(lambda matrix: np.asarray(score(matrix), dtype=np.float64))
    per_row = len(codes) * len(back)
    batch_rows = max(1, min(EXACT_BATCH_EXPLAINED, EXACT_BATCH_ROWS // per_row))
    values: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    done = 0
    stopped = False
    base_value = math.nan
    try:
        base_value = float(guarded(back).mean())
        while done < len(rows):
            chosen = np.asarray(features[rows[done : done + batch_rows]], dtype=np.float64)
            # (rows, coalitions, background, features): the row's value where the coalition has the feature.
            mixed = np.where(masks[None, :, None, :], chosen[:, None, None, :], back[None, None, :, :])
            game = guarded(mixed.reshape(-1, width)).reshape(len(chosen), len(codes), len(back)).mean(axis=2)
            phi = np.zeros((len(chosen), width))
            for j in range(width):
                without = codes[~masks[:, j]]
                phi[:, j] = (game[:, without | (1 << j)] - game[:, without]) @ weights[sizes[without]]
            values.append(phi)
            outputs.append(game[:, -1])  # the full coalition: the row itself
            done += len(chosen)
    except OutOfTime:
        stopped = True
    return Attributions(
        rows=np.asarray(rows[:done], dtype=np.intp),
        values=np.vstack(values) if values else np.zeros((0, width)),
        outputs=np.concatenate(outputs) if outputs else np.zeros(0),
        base_value=base_value,
        coalitions=len(codes),
        exact=True,
        rows_sampled=len(rows),
        background_rows=len(background),
        stopped_by_time_budget=stopped,
    )
