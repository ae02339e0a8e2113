"""The adversarial check's two probes that need no search: random noise inside the epsilon ball, and the
counterfactual flip test on the protected attributes (pure; no Django)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from audits.checks.base import finite

COUNTERFACTUAL_MAX_VALUES = 10


def noise_flip_rate(
    *,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    scale: np.ndarray,
    radius: float,
    draws: int,
    rng: np.random.Generator,
) -> float:
    """The share of noisy copies of ``features`` whose decision differs from the row's own decision.

    Parameters
    ----------
    predict
        The model's favourable decision for each row of a matrix.
    features
        The rows to perturb.
    scale
        Each feature's standard deviation: noise on feature j is uniform in ``[-radius, radius] * scale[j]``.
    radius
        The noise's L-infinity radius in standard deviations (0 leaves every row unchanged).
    draws
        Noisy copies of each row.
    rng
        The seeded generator the noise comes from.
    """
    if len(features) == 0 or draws < 1:
        return float("nan")
    original = np.asarray(predict(features), dtype=bool)
    noisy = np.repeat(features, draws, axis=0)
    noisy = noisy + rng.uniform(-radius, radius, size=noisy.shape) * scale
    changed = np.asarray(predict(noisy), dtype=bool) != np.repeat(original, draws)
    return float(changed.mean())


def counterfactual_flips(
    *,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    column: int,
    groups: np.ndarray,
    decisions: np.ndarray,
    min_group_size: int,
    unknown: np.ndarray | None = None,
) -> dict[str, Any]:
    """Rows whose decision changes when only feature ``column`` is set to another value it takes in the data.

    Parameters
    ----------
    predict
        The model's favourable decision for each row of a matrix.
    features
        All rows' features.
    column
        The protected attribute's feature index.
    groups
        Each row's group of the protected attribute (for the per-group counts).
    decisions
        Each row's own decision (``predict(features)``).
    min_group_size
        Groups smaller than this are marked (reported, not judged separately).
    unknown
        True where the row's group is unknown: such rows are in no group, and are counted apart (``unknown``).
    """
    values = features[:, column]
    distinct = np.unique(values[~np.isnan(values)])
    if len(distinct) > COUNTERFACTUAL_MAX_VALUES:
        distinct = np.unique(np.quantile(values[~np.isnan(values)], np.linspace(0.1, 0.9, 9), method="nearest"))
    flipped = np.zeros(len(features), dtype=bool)
    for value in distinct:
        changed_rows = values != value
        if not changed_rows.any():
            continue
        altered = features[changed_rows].copy()
        altered[:, column] = value
        flipped[changed_rows] |= np.asarray(predict(altered), dtype=bool) != decisions[changed_rows]
    unknown = np.zeros(len(features), dtype=bool) if unknown is None else np.asarray(unknown, dtype=bool)
    by_group = []
    for group in sorted(set(groups[~unknown].tolist())):
        mask = (groups == group) & ~unknown
        count = int(mask.sum())
        by_group.append(
            {
                "group": group,
                "count": count,
                "flipped": int(flipped[mask].sum()),
                "flip_rate": finite(flipped[mask].mean()) if count else None,
                "below_min_group_size": count < min_group_size,
            }
        )
    return {
        "values_tried": [float(v) for v in distinct],
        "flipped": int(flipped.sum()),
        "flip_rate": finite(flipped.mean()),
        "became_favourable": int((flipped & ~decisions).sum()),
        "became_unfavourable": int((flipped & decisions).sum()),
        "groups": by_group,
        "unknown": {"count": int(unknown.sum()), "flipped": int(flipped[unknown].sum())},
    }
