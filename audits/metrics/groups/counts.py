"""Per-group confusion counts in one ``numpy.bincount`` pass: ``confusion_by_group``, ``GroupCounts``.

Labels and predictions are binary (0/1 or booleans, 1 the favourable outcome); anything else, NaN included, is
refused with a ``ValueError`` that names the values found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from audits.metrics.groups.encoding import CHUNK_ROWS, FloatArray, GroupIndex, GroupSelector


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
    n_rows = groups.n_rows
    if sample_weight is None:
        truth, predicted = _binary_columns("y_true", y_true), _binary_columns("y_pred", y_pred)
    else:
        truth, predicted = _as_binary("y_true", y_true), _as_binary("y_pred", y_pred)
    for name, values in (("y_true", truth), ("y_pred", predicted)):
        if values.shape[0] != n_rows:
            raise ValueError(f"{name} has {values.shape[0]} rows but the groups have {n_rows}")
    if n_rows == 0:
        raise ValueError("there are no rows to count")
    weights = None if sample_weight is None else _as_weights(sample_weight, n_rows)

    # Cell index: group * 4 + 2 * y_true + y_pred, so each group owns four consecutive cells (tn, fp, fn, tp).
    if weights is None:
        table = _count_cells(groups, truth, predicted, y_true=y_true, y_pred=y_pred)
    else:
        # Weighted sums in one bincount over all rows, as before: summing per step would round differently.
        cell = groups.codes * 4
        cell += truth * np.uint8(2)
        cell += predicted
        table = np.bincount(cell, weights=weights, minlength=4 * groups.n_groups)
    table = table.reshape(groups.n_groups, 4)
    tn, fp, fn, tp = (np.ascontiguousarray(table[:, cell_index]) for cell_index in range(4))
    overall = ConfusionCounts(tp=tp.sum().item(), fp=fp.sum().item(), tn=tn.sum().item(), fn=fn.sum().item())
    return GroupCounts(groups=groups, tp=tp, fp=fp, tn=tn, fn=fn, overall=overall, weighted=weights is not None)


def _binary_columns(name: str, values: npt.ArrayLike) -> npt.NDArray[Any]:
    """``values`` ready for :func:`_count_cells`, without a pass over them: booleans and integers seen as signed
    integers of their width (numpy adds those to the cell index without a conversion; unsigned 64-bit ones would go
    through float64), floats as they are. :func:`_binary_step` checks each step. Anything else is checked and
    converted whole by :func:`_as_binary`."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "biu" and array.dtype.isnative:
        return array.view(f"i{array.dtype.itemsize}")
    if array.dtype.kind == "f" and array.dtype.isnative:
        return array
    return _as_binary(name, array)


def _binary_step(step: npt.NDArray[Any]) -> bool:
    """Whether one step of a :func:`_binary_columns` array holds only 0 and 1 (NaN is neither). Integers are read
    as unsigned, where a negative value is one above 1, so one ``max`` checks both ends."""
    if step.dtype.kind == "i":
        return bool(step.view(f"u{step.dtype.itemsize}").max() <= 1)
    return bool(np.logical_or(step == 0, step == 1).all())


def _count_cells(
    groups: GroupIndex,
    truth: npt.NDArray[Any],
    predicted: npt.NDArray[Any],
    *,
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """Rows per cell ``group * 4 + 2 * y_true + y_pred``, checking and counting one cache-sized step at a time.

    Every step's temporaries stay in the cache, so the codes and both columns are read from memory once; the cell
    counts are integers, so adding the steps' counts gives exactly the one-pass ``bincount``. A step holding a value
    other than 0 and 1 hands both whole columns to :func:`_as_binary`, which names what it found.
    """
    n_cells = 4 * groups.n_groups
    table = np.zeros(n_cells, dtype=np.int64)
    cell = np.empty(min(CHUNK_ROWS, groups.n_rows), dtype=np.intp)
    doubled = np.empty_like(cell)
    for start in range(0, groups.n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, groups.n_rows)
        true_step, predicted_step = truth[start:stop], predicted[start:stop]
        if not (_binary_step(true_step) and _binary_step(predicted_step)):
            _as_binary("y_true", y_true)  # one of the two raises, naming the values found, y_true first as before
            _as_binary("y_pred", y_pred)
            raise AssertionError("a step held a value other than 0 and 1 but the whole columns passed")
        here, twice = cell[: stop - start], doubled[: stop - start]
        np.multiply(groups.codes[start:stop], 4, out=here)
        np.multiply(true_step, 2, out=twice, casting="unsafe")  # 0 or 2, exact in any type (floats were checked)
        np.add(here, twice, out=here)
        np.add(here, predicted_step, out=here, casting="unsafe")  # 0 or 1, likewise
        table += np.bincount(here, minlength=n_cells)
    return table


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
