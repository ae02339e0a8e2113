"""Confusion counts per group from counted cells (pure: numpy only, no Django, no engine)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from audits.metrics import ConfusionCounts, GroupCounts, GroupIndex


def confusion_from_cells(
    *, y_true: npt.ArrayLike, y_pred: npt.ArrayLike, groups: GroupIndex, counts: npt.ArrayLike
) -> GroupCounts:
    """Per-group confusion counts when each row stands for ``counts`` rows (a cell of a GROUP BY).

    Parameters
    ----------
    y_true
        Each cell's label, 0 or 1 (1 favourable).
    y_pred
        Each cell's decision, 0 or 1 (1 favourable).
    groups
        Each cell's group, from ``encode_groups`` over the cells' protected values (groups are sorted by value, so
        the order is the one the rows themselves would give).
    counts
        How many rows each cell holds: non-negative integers.

    Returns
    -------
    GroupCounts
        Integer counts (``weighted`` False): summed in int64 with ``numpy.add.at``, never through floats, so they
        equal ``confusion_by_group`` over the rows exactly.
    """
    truth = np.asarray(y_true).astype(np.int64)
    decided = np.asarray(y_pred).astype(np.int64)
    weights = np.asarray(counts, dtype=np.int64)
    if not (truth.shape == decided.shape == weights.shape == (groups.n_rows,)):
        raise ValueError("y_true, y_pred and counts need one value per cell")
    if ((truth != 0) & (truth != 1)).any() or ((decided != 0) & (decided != 1)).any():
        raise ValueError("y_true and y_pred must hold only 0 and 1")
    if (weights < 0).any():
        raise ValueError("counts must not be negative")
    flat = np.zeros(4 * groups.n_groups, dtype=np.int64)
    np.add.at(flat, np.asarray(groups.codes, dtype=np.int64) * 4 + 2 * truth + decided, weights)
    table = flat.reshape(groups.n_groups, 4)
    tn, fp, fn, tp = (np.ascontiguousarray(table[:, cell]) for cell in range(4))
    overall = ConfusionCounts(tp=int(tp.sum()), fp=int(fp.sum()), tn=int(tn.sum()), fn=int(fn.sum()))
    return GroupCounts(groups=groups, tp=tp, fp=fp, tn=tn, fn=fn, overall=overall, weighted=False)


def weighted_total(mask: npt.NDArray[np.bool_], counts: Any) -> int:
    """The rows the cells selected by ``mask`` stand for."""
    return int(np.asarray(counts, dtype=np.int64)[mask].sum())
