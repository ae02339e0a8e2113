"""Per-group confusion counts in one ``numpy.bincount`` pass: ``confusion_by_group``, ``GroupCounts``.

Labels and predictions are binary (0/1 or booleans, 1 the favourable outcome); anything else, NaN included, is
refused with a ``ValueError`` that names the values found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from audits.metrics.groups.encoding import FloatArray, GroupIndex, GroupSelector


@dataclass(frozen=True)
class ConfusionCounts:
    """One confusion matrix: counts of rows, or sums of their weights."""

    tp: float
    fp: float
    tn: float
    fn: float

    @property
    def n(self) -> float:
        return self.tp + self.fp + self.tn + self.fn


@dataclass(frozen=True, eq=False)
class GroupCounts:
    """Per group (aligned with ``groups.names``) the confusion counts; integers, or float weight sums if weighted."""

    groups: GroupIndex
    tp: npt.NDArray[Any]
    fp: npt.NDArray[Any]
    tn: npt.NDArray[Any]
    fn: npt.NDArray[Any]
    overall: ConfusionCounts
    """The same counts over all rows."""
    weighted: bool
    """Whether the counts are sums of sample weights rather than numbers of rows."""

    @property
    def n(self) -> npt.NDArray[Any]:
        """Rows (or total weight) per group."""
        return self.tp + self.fp + self.tn + self.fn

    @property
    def positives(self) -> npt.NDArray[Any]:
        """Rows with a favourable true label, per group."""
        return self.tp + self.fn

    @property
    def negatives(self) -> npt.NDArray[Any]:
        return self.fp + self.tn

    @property
    def predicted_positives(self) -> npt.NDArray[Any]:
        """Rows with a favourable prediction, per group."""
        return self.tp + self.fp

    def combined(self, selector: GroupSelector) -> ConfusionCounts:
        """The counts of the union of the groups ``selector`` names (see :meth:`GroupIndex.select`)."""
        mask = self.groups.select(selector)
        return ConfusionCounts(
            tp=self.tp[mask].sum().item(),
            fp=self.fp[mask].sum().item(),
            tn=self.tn[mask].sum().item(),
            fn=self.fn[mask].sum().item(),
        )


def confusion_by_group(
    *,
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    groups: GroupIndex,
    sample_weight: npt.ArrayLike | None = None,
) -> GroupCounts:
    """Count true/false positives/negatives per group in one pass (``numpy.bincount``).

    Parameters
    ----------
    y_true
        The true outcome per row: 0/1 integers, 0.0/1.0 floats or booleans; 1 is the favourable outcome.
        Any other value, NaN included, raises a ``ValueError`` naming the values found.
    y_pred
        The predicted outcome per row, with the same rules as ``y_true``.
    groups
        Each row's group, from :func:`encode_groups`; same length as ``y_true``.
    sample_weight
        Optional weight per row (finite, not negative). Counts then become sums of weights, as in fairlearn's
        ``sample_params={"sample_weight": ...}`` and aif360's ``instance_weights``.

    Returns
    -------
    GroupCounts
        Per group and overall: tp, fp, tn, fn (and n, positives, predicted positives as properties).
    """
    truth = _as_binary("y_true", y_true)
    predicted = _as_binary("y_pred", y_pred)
    n_rows = groups.n_rows
    for name, values in (("y_true", truth), ("y_pred", predicted)):
        if values.shape[0] != n_rows:
            raise ValueError(f"{name} has {values.shape[0]} rows but the groups have {n_rows}")
    if n_rows == 0:
        raise ValueError("there are no rows to count")
    weights = None if sample_weight is None else _as_weights(sample_weight, n_rows)

    # Cell index: group * 4 + 2 * y_true + y_pred, so each group owns four consecutive cells (tn, fp, fn, tp).
    cell = groups.codes * 4
    cell += truth * np.uint8(2)
    cell += predicted
    table = np.bincount(cell, weights=weights, minlength=4 * groups.n_groups).reshape(groups.n_groups, 4)
    if weights is None:
        table = table.astype(np.int64, copy=False)
    tn, fp, fn, tp = (np.ascontiguousarray(table[:, cell_index]) for cell_index in range(4))
    overall = ConfusionCounts(tp=tp.sum().item(), fp=fp.sum().item(), tn=tn.sum().item(), fn=fn.sum().item())
    return GroupCounts(groups=groups, tp=tp, fp=fp, tn=tn, fn=fn, overall=overall, weighted=weights is not None)


def _as_binary(name: str, values: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """``values`` as a 0/1 uint8 array, or a ValueError that names what else was found."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.view(np.uint8)
    if array.size == 0:
        return np.zeros(0, dtype=np.uint8)
    if array.dtype.kind == "f":
        n_nan = int(np.count_nonzero(np.isnan(array)))
        if n_nan:
            raise ValueError(f"{name} contains {n_nan} NaN value(s); it must hold only 0 and 1")
    if array.dtype.kind in "iuf":
        if array.min() >= 0 and array.max() <= 1 and (array.dtype.kind != "f" or np.all(array == array.astype(bool))):
            return array.astype(np.uint8)
    else:
        try:
            only_binary = bool(np.all((array == 0) | (array == 1)))
        except (TypeError, ValueError):
            only_binary = False
        if only_binary:
            return array.astype(np.uint8)
    raise ValueError(f"{name} must hold only 0 and 1 (or booleans); found {_describe_unexpected(array)}")


def _describe_unexpected(array: npt.NDArray[Any]) -> str:
    import pandas as pd

    unexpected = [value for value in pd.unique(array.ravel()).tolist() if value not in (0, 1)]
    shown = ", ".join(repr(value) for value in unexpected[:10])
    more = f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else ""
    return f"{shown}{more}"


def _as_weights(sample_weight: npt.ArrayLike, n_rows: int) -> FloatArray:
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_rows,):
        raise ValueError(f"sample_weight must have one value per row ({n_rows}), got shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinite values")
    if n_rows and weights.min() < 0:
        raise ValueError("sample_weight contains negative values")
    return weights
