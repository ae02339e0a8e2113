"""Protected attribute columns to integer group codes: ``encode_groups`` and the ``GroupIndex`` it returns.

A group is one value of one column, or one combination of values (an intersection) that occurs in the data. Every
count and rate in this package is aligned with ``GroupIndex.names``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

#: Label of the explicit group that ``encode_groups(..., missing="group")`` gives to missing values.
MISSING_LABEL = "(missing)"

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]

#: Names a group or a set of groups. An ``int`` is a group's position; a ``str`` its readable name
#: (``"sex=female, age=<=25"``); a mapping ``{"sex": "female"}`` every group whose labels have those values (like one
#: aif360 condition dict); a list or tuple of these is their union (like aif360's list of dicts).
GroupSelector: TypeAlias = int | str | Mapping[str, Any] | Sequence["int | str | Mapping[str, Any]"]

# Up to this many possible combinations (times the row count) the intersection is compressed with a counting
# table; beyond it (many columns with many values) numpy.unique sorts instead.
_TABLE_COMPRESSION_LIMIT = 4

#: Rows per step of the one-pass loops here and in ``counts``. A step's temporaries (64 Ki rows of 8 bytes, 512 KiB)
#: stay in the CPU cache, so each column is read from memory once instead of once per numpy operation; at ten million
#: rows that is what makes counting cost about one ``numpy.bincount`` (benchmarks/bench_group_metrics.py).
CHUNK_ROWS = 1 << 16

# Odd 64-bit multiplier (2**64 / golden ratio) that folds the 8-byte words of a fixed-width text cell into one hash.
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, eq=False)
class GroupIndex:
    """Each row's group code and each group's labels, for one protected attribute or an intersection of several."""

    columns: tuple[str, ...]
    """The protected attribute names, in the order given."""
    codes: IntArray
    """One integer per row, ``0 <= code < n_groups``."""
    labels: tuple[tuple[Any, ...], ...]
    """Per group, its value in each column (same order as ``columns``); groups are sorted by these values."""

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        """A readable name per group, e.g. ``"sex=female, age=<=25"``."""
        return tuple(
            ", ".join(f"{column}={value}" for column, value in zip(self.columns, label, strict=True))
            for label in self.labels
        )

    def select(self, selector: GroupSelector) -> npt.NDArray[np.bool_]:
        """Which groups ``selector`` names, as a boolean mask over groups; refuses a selector that names none.

        Parameters
        ----------
        selector
            A group position (``int``), a readable name (``str``), a mapping of column to value selecting every
            group that has those values (an AND, like one aif360 condition dict), or a list/tuple of these (an OR,
            like aif360's list of condition dicts).
        """
        mask = self._select(selector)
        if not mask.any():
            raise ValueError(f"{selector!r} names no group; groups are {list(self.names)}")
        return mask

    def _select(self, selector: GroupSelector) -> npt.NDArray[np.bool_]:
        mask = np.zeros(self.n_groups, dtype=bool)
        if isinstance(selector, bool):
            raise TypeError("a group selector cannot be a bool; use the group's name or a mapping")
        if isinstance(selector, int | np.integer):
            position = int(selector)
            if not 0 <= position < self.n_groups:
                raise ValueError(f"group position {position} is out of range for {self.n_groups} groups")
            mask[position] = True
        elif isinstance(selector, str):
            names = self.names
            if selector not in names:
                raise ValueError(f"no group is named {selector!r}; groups are {list(names)}")
            mask[names.index(selector)] = True
        elif isinstance(selector, Mapping):
            unknown = set(selector) - set(self.columns)
            if unknown:
                raise ValueError(f"unknown column(s) {sorted(unknown)} in {selector!r}; columns are {self.columns}")
            positions = [self.columns.index(column) for column in selector]
            wanted = list(selector.values())
            for group, label in enumerate(self.labels):
                mask[group] = all(label[p] == value for p, value in zip(positions, wanted, strict=True))
        elif isinstance(selector, Sequence):
            for part in selector:
                mask |= self._select(part)
        else:
            raise TypeError(f"cannot select groups with {selector!r}")
        return mask


def encode_groups(columns: Mapping[str, npt.ArrayLike], *, missing: Literal["raise", "group"] = "raise") -> GroupIndex:
    """Factorise one or more protected attribute columns into integer group codes (their intersection if several).

    With several columns each group is one combination of values that occurs in the data; combinations that do not
    occur are not groups (fairlearn's ``MetricFrame`` lists them as all-NaN rows, which its summaries skip, so the
    numbers agree). Groups are sorted by their values, column by column, as fairlearn sorts its ``by_group`` index.

    Parameters
    ----------
    columns
        Protected attribute name to one value per row (strings, integers, booleans; a list, numpy array, pandas
        Series or Categorical). All columns must have the same length; the order of the mapping is the order of
        the values in each group's label and name.
    missing
        What to do with missing values (``None``, NaN, ``pandas.NA``). ``"raise"`` (the default, as fairlearn
        does) refuses them with a ``ValueError`` naming the column and the count: an audit should not silently
        decide who those rows are. ``"group"`` gives them an explicit group of their own, labelled
        ``"(missing)"`` (:data:`MISSING_LABEL`), sorted after the column's other values.

    Returns
    -------
    GroupIndex
        Per row an integer code, per group its labels and a readable name like ``"sex=female, age=<=25"``.
    """
    import pandas as pd  # only here: importing the kernel stays light for the web process

    if not columns:
        raise ValueError("encode_groups needs at least one protected attribute column")
    if missing not in ("raise", "group"):
        raise ValueError(f"missing must be 'raise' or 'group', not {missing!r}")

    names = tuple(columns)
    per_column: list[tuple[IntArray, list[Any]]] = []
    n_rows: int | None = None
    for name in names:
        values = columns[name]
        if not isinstance(values, pd.Series | pd.Categorical | pd.Index):
            values = np.asarray(values)
        if np.ndim(values) != 1:
            raise ValueError(f"column {name!r} must be one-dimensional, got shape {np.shape(values)}")
        if n_rows is None:
            n_rows = len(values)
        elif len(values) != n_rows:
            raise ValueError(f"column {name!r} has {len(values)} rows, the first column has {n_rows}")
        codes, labels = _factorize(name, values)
        absent = codes < 0
        n_missing = int(np.count_nonzero(absent))
        if n_missing:
            if missing == "raise":
                raise ValueError(
                    f"column {name!r} has {n_missing} missing value(s); fill them in, drop those rows, "
                    f"or pass missing='group' to audit them as a group of their own"
                )
            codes[absent] = len(labels)
            labels.append(MISSING_LABEL)
        per_column.append((codes, labels))

    group_codes, first_labels = per_column[0]
    group_labels: list[tuple[Any, ...]] = [(value,) for value in first_labels]
    for codes, labels in per_column[1:]:
        width = len(labels)
        combined = group_codes * width + codes
        present, group_codes = _compress(combined, space=len(group_labels) * width)
        group_labels = [group_labels[p // width] + (labels[p % width],) for p in present.tolist()]
    return GroupIndex(columns=names, codes=np.ascontiguousarray(group_codes, dtype=np.intp), labels=tuple(group_labels))


def _factorize(name: str, values: Any) -> tuple[IntArray, list[Any]]:
    """Codes (``-1`` for missing) and sorted distinct values of one column."""
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype.kind in "biu" and values.size:
        # Integers and booleans in a compact range: a counting table sorts them in one pass, without hashing.
        low, high = _min_max(values)
        if low > -(2**62) and high < 2**62 and high - low < _TABLE_COMPRESSION_LIMIT * values.shape[0] + 1024:
            present, codes = _shift_and_compress(values, low=low, space=high - low + 1)
            return codes, (present + low).astype(values.dtype).tolist()
    if isinstance(values, np.ndarray) and values.dtype.kind in "US" and values.size and values.dtype.itemsize:
        hashed = _factorize_fixed_width(values)
        if hashed is not None:
            return hashed
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError as error:
        raise ValueError(f"column {name!r} mixes values that cannot be ordered ({error})") from error
    return codes.astype(np.intp, copy=False), list(uniques.tolist())


def _factorize_fixed_width(values: npt.NDArray[Any]) -> tuple[IntArray, list[Any]] | None:
    """Codes and sorted distinct values of a numpy text array (``U`` or ``S``, as a CSV column arrives), or None
    when two distinct values share a hash (then pandas decides).

    ``pandas.factorize`` first makes a Python object of every cell of such an array, which is most of an audit's
    grouping time. Here each cell's bytes are folded into one 64-bit hash with whole-column numpy operations, the
    hashes are factorised (integers: no objects), and the result is checked exactly: every cell must equal its
    group's first cell, so a collision can never merge two groups.
    """
    import pandas as pd

    n, width = values.shape[0], values.dtype.itemsize
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(n, width)
    if width % 8:
        raw = np.concatenate([raw, np.zeros((n, 8 - width % 8), dtype=np.uint8)], axis=1)
    words = raw.view(np.uint64)
    hashes = words[:, 0].copy()
    for column in range(1, words.shape[1]):
        hashes *= _HASH_MULTIPLIER  # wraps modulo 2**64, as meant
        hashes ^= words[:, column]
    codes, _ = pd.factorize(hashes)
    first = np.empty(int(codes.max()) + 1, dtype=np.intp)
    first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.intp)  # the last write per code is its first row
    representatives = values[first]
    if not np.array_equal(values, representatives[codes]):
        return None
    order = np.argsort(representatives, kind="stable")  # code points (bytes for S), as Python sorts str (bytes)
    position = np.empty(order.shape[0], dtype=np.intp)
    position[order] = np.arange(order.shape[0], dtype=np.intp)
    return position[codes], representatives[order].tolist()


def _min_max(values: npt.NDArray[Any]) -> tuple[int, int]:
    """The smallest and largest value, step by step: the second reduction reads the step from the cache."""
    lows, highs = [], []
    for start in range(0, values.shape[0], CHUNK_ROWS):
        step = values[start : start + CHUNK_ROWS]
        lows.append(step.min())
        highs.append(step.max())
    return int(min(lows)), int(max(highs))


def _shift_and_compress(values: npt.NDArray[Any], *, low: int, space: int) -> tuple[IntArray, IntArray]:
    """``_compress(values - low, space=space)`` in one pass over ``values``: shift and count each step while it is in
    the cache, then renumber only if some value in the range does not occur (the codes are then already final)."""
    codes = np.empty(values.shape[0], dtype=np.intp)
    occurrences = np.zeros(space, dtype=np.intp)
    for start in range(0, values.shape[0], CHUNK_ROWS):
        step = codes[start : start + CHUNK_ROWS]
        # In intp, so a narrow input type cannot overflow; the result is in [0, space), so the cast is exact.
        np.subtract(values[start : start + CHUNK_ROWS], low, out=step, dtype=np.intp, casting="unsafe")
        occurrences += np.bincount(step, minlength=space)
    present = np.flatnonzero(occurrences).astype(np.intp)
    if present.shape[0] < space:
        lookup = np.full(space, -1, dtype=np.intp)
        lookup[present] = np.arange(present.shape[0], dtype=np.intp)
        for start in range(0, codes.shape[0], CHUNK_ROWS):
            step = codes[start : start + CHUNK_ROWS]
            np.take(lookup, step, out=step)  # take buffers ``out`` (mode="raise"), so renumbering in place is safe
    return present, codes


def _compress(combined: IntArray, *, space: int) -> tuple[IntArray, IntArray]:
    """The sorted distinct values of ``combined`` (all in ``[0, space)``) and each row's position among them."""
    if space <= _TABLE_COMPRESSION_LIMIT * combined.shape[0] + 1024:
        present = np.flatnonzero(np.bincount(combined, minlength=space))
        lookup = np.full(space, -1, dtype=np.intp)
        lookup[present] = np.arange(present.shape[0], dtype=np.intp)
        return present.astype(np.intp), lookup[combined]
    present, inverse = np.unique(combined, return_inverse=True)
    return present.astype(np.intp), inverse.astype(np.intp).reshape(-1)
