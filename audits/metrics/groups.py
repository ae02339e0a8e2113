"""Group confusion counts, computed once, and every rate and between-group summary derived from them.

One ``numpy.bincount`` over ``group * 4 + 2 * y_true + y_pred`` gives each group's true/false positives and negatives
(summed weights when there are sample weights). Every rate below is a ratio of those counts, so an audit over ten
million rows costs one pass over the data, where ``fairlearn.metrics.MetricFrame`` runs one scikit-learn call per
group and metric and aif360 one boolean mask per group and count. The numbers are the same: the tests prove each one
equal to fairlearn's and aif360's to 1e-9 on the German credit and Adult data.

Conventions (where the references differ, this module says which one it follows):

* Labels and predictions are binary, 0/1 or booleans, with 1 the favourable outcome (approved, hired). Anything
  else is refused with a ``ValueError`` that names the values found; so is NaN.
* An undefined rate (0/0, e.g. the true positive rate of a group with no positive labels) is NaN by default.
  aif360 agrees for the four error rates (TPR, FPR, FNR, TNR) but returns 0 for precision and accuracy;
  fairlearn (through scikit-learn's ``confusion_matrix(normalize="true")``) returns 0 for the four rates, and
  scikit-learn's ``precision_score`` returns 0 with a warning. A 0 there is not a measurement and would make a group
  with no positives look like the worst-treated group, so the default is NaN; pass ``zero_division=0.0`` to
  reproduce fairlearn's numbers exactly, including its summaries.
* Between-group summaries (``demographic_parity_difference`` and friends) follow fairlearn's
  ``method="between_groups"``: largest minus smallest group value, smallest over largest, skipping groups whose
  value is undefined (pandas' ``min``/``max`` skip NaN, and fairlearn relies on them).
* Pairwise summaries (``disparate_impact``, ``statistical_parity_difference``, ``average_odds_difference``) follow
  aif360: unprivileged minus (or over) privileged, each side possibly a union of groups.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
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


# ---------------------------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------------------------


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
        low, high = int(values.min()), int(values.max())
        if low > -(2**62) and high < 2**62 and high - low < _TABLE_COMPRESSION_LIMIT * values.shape[0] + 1024:
            shifted = values.astype(np.intp)
            shifted -= low
            present, codes = _compress(shifted, space=high - low + 1)
            return codes, (present + low).astype(values.dtype).tolist()
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError as error:
        raise ValueError(f"column {name!r} mixes values that cannot be ordered ({error})") from error
    return codes.astype(np.intp, copy=False), list(uniques.tolist())


def _compress(combined: IntArray, *, space: int) -> tuple[IntArray, IntArray]:
    """The sorted distinct values of ``combined`` (all in ``[0, space)``) and each row's position among them."""
    if space <= _TABLE_COMPRESSION_LIMIT * combined.shape[0] + 1024:
        present = np.flatnonzero(np.bincount(combined, minlength=space))
        lookup = np.full(space, -1, dtype=np.intp)
        lookup[present] = np.arange(present.shape[0], dtype=np.intp)
        return present.astype(np.intp), lookup[combined]
    present, inverse = np.unique(combined, return_inverse=True)
    return present.astype(np.intp), inverse.astype(np.intp).reshape(-1)


# ---------------------------------------------------------------------------------------------------------------
# Confusion counts
# ---------------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------------
# Rates, from counts only
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupRates:
    """One rate per group (aligned with ``groups.names``) and over all rows."""

    metric: str
    groups: GroupIndex
    by_group: FloatArray
    overall: float

    def as_dict(self) -> dict[str, float]:
        """Group name to rate."""
        return dict(zip(self.groups.names, self.by_group.tolist(), strict=True))

    def __getitem__(self, group: int | str) -> float:
        """The rate of one group, by position or name."""
        return float(self.by_group[self.groups.select(group)][0])

    def __iter__(self) -> Iterator[float]:
        return iter(self.by_group.tolist())


def _ratio(numerator: npt.ArrayLike, denominator: npt.ArrayLike, zero_division: float) -> FloatArray:
    """numerator / denominator, with ``zero_division`` where the denominator is 0 (and no warning)."""
    top = np.asarray(numerator, dtype=np.float64)
    bottom = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(top, bottom).shape, zero_division, dtype=np.float64)
    np.divide(top, bottom, out=out, where=bottom != 0)
    return out


def _rate(counts: GroupCounts, metric: str, numerator: str, denominator: str, zero_division: float) -> GroupRates:
    def total(expression: str, source: Any) -> Any:
        return sum(getattr(source, part) for part in expression.split("+"))

    overall = counts.overall
    return GroupRates(
        metric=metric,
        groups=counts.groups,
        by_group=_ratio(total(numerator, counts), total(denominator, counts), zero_division),
        overall=float(_ratio(total(numerator, overall), total(denominator, overall), zero_division)),
    )


def selection_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted favourable, (TP + FP) / n: fairlearn's ``selection_rate``, aif360's ``selection_rate``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default.

    Returns
    -------
    GroupRates
        Per group and overall.
    """
    return _rate(counts, "selection_rate", "tp+fp", "tp+fp+tn+fn", zero_division)


def base_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows whose true label is favourable, (TP + FN) / n: aif360's ``base_rate``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default.
    """
    return _rate(counts, "base_rate", "tp+fn", "tp+fp+tn+fn", zero_division)


def true_positive_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly favourable rows predicted favourable, TP / (TP + FN) (recall, sensitivity).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable true labels. NaN by default (aif360's answer); fairlearn's
        ``true_positive_rate`` gives 0.0 there.
    """
    return _rate(counts, "true_positive_rate", "tp", "tp+fn", zero_division)


def false_negative_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly favourable rows predicted unfavourable, FN / (TP + FN) (miss rate).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "false_negative_rate", "fn", "tp+fn", zero_division)


def false_positive_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly unfavourable rows predicted favourable, FP / (FP + TN) (fall-out).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no unfavourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "false_positive_rate", "fp", "fp+tn", zero_division)


def true_negative_rate(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of truly unfavourable rows predicted unfavourable, TN / (FP + TN) (specificity).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no unfavourable true labels. NaN by default (aif360's answer); fairlearn gives 0.0.
    """
    return _rate(counts, "true_negative_rate", "tn", "fp+tn", zero_division)


def precision(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted favourable that truly are, TP / (TP + FP) (positive predictive value).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group with no favourable predictions. NaN by default; aif360's ``positive_predictive_value``
        gives 0.0, and scikit-learn's ``precision_score`` gives 0.0 with an ``UndefinedMetricWarning``.
    """
    return _rate(counts, "precision", "tp", "tp+fp", zero_division)


def accuracy(counts: GroupCounts, *, zero_division: float = math.nan) -> GroupRates:
    """Share of rows predicted correctly, (TP + TN) / n: scikit-learn's ``accuracy_score``, aif360's ``accuracy``.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Value for a group whose denominator is 0 (only possible when all its weights are 0). NaN by default;
        aif360 gives 0.0.
    """
    return _rate(counts, "accuracy", "tp+tn", "tp+fp+tn+fn", zero_division)


# ---------------------------------------------------------------------------------------------------------------
# Between-group summaries (fairlearn, method="between_groups")
# ---------------------------------------------------------------------------------------------------------------


def _defined(values: FloatArray) -> FloatArray:
    return values[~np.isnan(values)]


def _spread(rates: GroupRates) -> float:
    """Largest minus smallest defined group value; NaN if no group's value is defined."""
    values = _defined(rates.by_group)
    return float(values.max() - values.min()) if values.size else math.nan


def _min_over_max(rates: GroupRates) -> float:
    """Smallest over largest defined group value; NaN if none is defined or the largest is 0 (as fairlearn)."""
    values = _defined(rates.by_group)
    if not values.size or values.max() == 0:
        return math.nan
    return float(values.min() / values.max())


def _aggregate(first: float, second: float, agg: str, worst: Any) -> float:
    if agg not in ("worst_case", "mean"):
        raise ValueError(f"agg must be 'worst_case' or 'mean', not {agg!r}")
    if math.isnan(first) or math.isnan(second):
        return math.nan
    return float(worst(first, second)) if agg == "worst_case" else (first + second) / 2


def demographic_parity_difference(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Largest minus smallest group selection rate (fairlearn's ``demographic_parity_difference``, between groups).

    0 means every group is selected at the same rate.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Selection rate of a group with zero total weight; NaN (the default) leaves such a group out.

    Returns
    -------
    float
        In [0, 1]; NaN if no group's selection rate is defined.
    """
    return _spread(selection_rate(counts, zero_division=zero_division))


def demographic_parity_ratio(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Smallest over largest group selection rate (fairlearn's ``demographic_parity_ratio``, between groups).

    1 means every group is selected at the same rate. The US "four-fifths rule" compares this kind of ratio with 0.8.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        Selection rate of a group with zero total weight; NaN (the default) leaves such a group out.

    Returns
    -------
    float
        In [0, 1]; NaN if no group is defined or no group is selected at all (0/0, as fairlearn).
    """
    return _min_over_max(selection_rate(counts, zero_division=zero_division))


def equalized_odds_difference(
    counts: GroupCounts, *, agg: Literal["worst_case", "mean"] = "worst_case", zero_division: float = math.nan
) -> float:
    """The larger (or mean) of the between-group spreads of true and false positive rates (fairlearn's definition).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    agg
        ``"worst_case"`` (fairlearn's default): the larger of the TPR spread and the FPR spread; ``"mean"``: their
        mean.
    zero_division
        Rate of a group with no positive (TPR) or no negative (FPR) labels. NaN (the default) leaves that group out
        of that spread; fairlearn counts it as 0.0 (pass ``zero_division=0.0`` to reproduce that).

    Returns
    -------
    float
        In [0, 1]; NaN if either spread is undefined because no group has that rate defined.
    """
    return _aggregate(
        _spread(true_positive_rate(counts, zero_division=zero_division)),
        _spread(false_positive_rate(counts, zero_division=zero_division)),
        agg,
        max,
    )


def equalized_odds_ratio(
    counts: GroupCounts, *, agg: Literal["worst_case", "mean"] = "worst_case", zero_division: float = math.nan
) -> float:
    """The smaller (or mean) of the min/max ratios of group true and false positive rates (fairlearn's definition).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    agg
        ``"worst_case"`` (fairlearn's default): the smaller of the TPR ratio and the FPR ratio; ``"mean"``: their
        mean.
    zero_division
        Rate of a group with no positive (TPR) or no negative (FPR) labels. NaN (the default) leaves that group out;
        fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if either ratio is undefined (no defined group, or the largest rate is 0).
    """
    return _aggregate(
        _min_over_max(true_positive_rate(counts, zero_division=zero_division)),
        _min_over_max(false_positive_rate(counts, zero_division=zero_division)),
        agg,
        min,
    )


def equal_opportunity_difference(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Largest minus smallest group true positive rate (fairlearn's ``equal_opportunity_difference``).

    Not aif360's ``equal_opportunity_difference``, which is the signed TPR difference unprivileged minus privileged.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        TPR of a group with no positive labels. NaN (the default) leaves it out; fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if no group has a positive label.
    """
    return _spread(true_positive_rate(counts, zero_division=zero_division))


def equal_opportunity_ratio(counts: GroupCounts, *, zero_division: float = math.nan) -> float:
    """Smallest over largest group true positive rate (fairlearn's ``equal_opportunity_ratio``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    zero_division
        TPR of a group with no positive labels. NaN (the default) leaves it out; fairlearn counts it as 0.0.

    Returns
    -------
    float
        In [0, 1]; NaN if no group has a positive label or the largest TPR is 0.
    """
    return _min_over_max(true_positive_rate(counts, zero_division=zero_division))


# ---------------------------------------------------------------------------------------------------------------
# Pairwise summaries (aif360: unprivileged versus privileged)
# ---------------------------------------------------------------------------------------------------------------


def _pair(
    counts: GroupCounts, unprivileged: GroupSelector, privileged: GroupSelector
) -> tuple[ConfusionCounts, ConfusionCounts]:
    unprivileged_mask = counts.groups.select(unprivileged)
    privileged_mask = counts.groups.select(privileged)
    if np.any(unprivileged_mask & privileged_mask):
        raise ValueError("the privileged and unprivileged groups must be disjoint (as aif360 requires)")
    return counts.combined(unprivileged), counts.combined(privileged)


def _scalar_ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else math.nan


def _pair_rate(side: ConfusionCounts, rate: str) -> float:
    if rate == "selection_rate":
        return _scalar_ratio(side.tp + side.fp, side.n)
    if rate == "base_rate":
        return _scalar_ratio(side.tp + side.fn, side.n)
    raise ValueError(f"rate must be 'selection_rate' or 'base_rate', not {rate!r}")


def statistical_parity_difference(
    counts: GroupCounts,
    *,
    unprivileged: GroupSelector,
    privileged: GroupSelector,
    rate: Literal["selection_rate", "base_rate"] = "selection_rate",
) -> float:
    """Unprivileged minus privileged favourable-outcome rate (aif360's ``statistical_parity_difference``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select` (a list is a union, like aif360's list of dicts).
    privileged
        The privileged group(s), disjoint from ``unprivileged``.
    rate
        ``"selection_rate"`` compares predictions (aif360's ``ClassificationMetric``); ``"base_rate"`` compares
        true labels (aif360's ``BinaryLabelDatasetMetric``, a property of the data rather than the model).

    Returns
    -------
    float
        In [-1, 1]; negative means the unprivileged side receives the favourable outcome less often.
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)
    return _pair_rate(unprivileged_counts, rate) - _pair_rate(privileged_counts, rate)


def disparate_impact(
    counts: GroupCounts,
    *,
    unprivileged: GroupSelector,
    privileged: GroupSelector,
    rate: Literal["selection_rate", "base_rate"] = "selection_rate",
) -> float:
    """Unprivileged over privileged favourable-outcome rate (aif360's ``disparate_impact``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select`.
    privileged
        The privileged group(s), disjoint from ``unprivileged``.
    rate
        ``"selection_rate"`` (predictions, ``ClassificationMetric``) or ``"base_rate"`` (true labels,
        ``BinaryLabelDatasetMetric``).

    Returns
    -------
    float
        1 means parity; below 0.8 fails the four-fifths rule of thumb. NaN if the privileged rate is 0 (aif360
        returns inf or NaN there, with a ``RuntimeWarning``).
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)
    return _scalar_ratio(_pair_rate(unprivileged_counts, rate), _pair_rate(privileged_counts, rate))


def average_odds_difference(counts: GroupCounts, *, unprivileged: GroupSelector, privileged: GroupSelector) -> float:
    """Mean of the unprivileged-minus-privileged FPR and TPR differences (aif360's ``average_odds_difference``).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`.
    unprivileged
        The unprivileged group(s); see :meth:`GroupIndex.select`.
    privileged
        The privileged group(s), disjoint from ``unprivileged``.

    Returns
    -------
    float
        In [-1, 1]; 0 means equal odds on average. NaN if either side has no positive or no negative labels
        (as aif360).
    """
    unprivileged_counts, privileged_counts = _pair(counts, unprivileged, privileged)

    def rates(side: ConfusionCounts) -> tuple[float, float]:
        return _scalar_ratio(side.fp, side.fp + side.tn), _scalar_ratio(side.tp, side.tp + side.fn)

    unprivileged_fpr, unprivileged_tpr = rates(unprivileged_counts)
    privileged_fpr, privileged_tpr = rates(privileged_counts)
    return 0.5 * ((unprivileged_fpr - privileged_fpr) + (unprivileged_tpr - privileged_tpr))


@dataclass(frozen=True, eq=False)
class ImpactRatios:
    """Each group's rate over the reference group's rate (aligned with ``groups.names``)."""

    groups: GroupIndex
    reference: int
    """Position of the reference group."""
    by_group: FloatArray

    @property
    def reference_name(self) -> str:
        return self.groups.names[self.reference]

    def as_dict(self) -> dict[str, float]:
        """Group name to impact ratio."""
        return dict(zip(self.groups.names, self.by_group.tolist(), strict=True))


def impact_ratios(selection_rates: GroupRates, *, reference: int | str | None = None) -> ImpactRatios:
    """Each group's selection rate over the reference group's, as NYC Local Law 144 bias audits report them.

    Parameters
    ----------
    selection_rates
        Per-group selection rates from :func:`selection_rate` (LL144 uses the same ratio for scoring rates).
    reference
        The group to compare with, by position or name. By default the group with the highest selection rate
        (LL144's "most selected category"; the first one on a tie), so every ratio is at most 1.

    Returns
    -------
    ImpactRatios
        The ratio per group; NaN for every group if the reference rate is 0 or undefined.
    """
    rates = selection_rates.by_group
    if reference is None:
        if np.all(np.isnan(rates)):
            raise ValueError("no group has a defined selection rate to use as the reference")
        position = int(np.nanargmax(rates))
    else:
        position = int(np.flatnonzero(selection_rates.groups.select(reference))[0])
    # A reference rate of 0 gives NaN (0/0 and x/0 alike); a NaN reference propagates NaN.
    by_group = _ratio(rates, np.full_like(rates, rates[position]), math.nan)
    return ImpactRatios(groups=selection_rates.groups, reference=position, by_group=by_group)


# ---------------------------------------------------------------------------------------------------------------
# Inequality of individual benefit (aif360's generalized entropy index), from counts
# ---------------------------------------------------------------------------------------------------------------


def generalized_entropy_index(counts: GroupCounts, *, alpha: float = 2.0) -> float:
    r"""Generalized entropy index of the benefit ``b = y_pred - y_true + 1`` over all rows (aif360's definition).

    Each row's benefit is 0 for a false negative, 1 for a correct prediction and 2 for a false positive, so the index
    follows from the overall confusion counts: with :math:`\mu` the mean benefit,
    :math:`GE(\alpha) = \frac{1}{n\,\alpha(\alpha-1)}\sum_i[(b_i/\mu)^\alpha - 1]` and
    :math:`GE(1) = \frac{1}{n}\sum_i (b_i/\mu)\ln(b_i/\mu)` (the Theil index), with :math:`0 \ln 0 = 0`.

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`; only the overall counts are used.
    alpha
        Greater than 0. (For alpha <= 0 the index is infinite as soon as there is one false negative, b = 0.)
        aif360's ``coefficient_of_variation`` is ``sqrt(2 * GE(2))``.

    Returns
    -------
    float
        0 when every row gets the same benefit; NaN if the mean benefit is 0 (every row a false negative).
        With sample weights the means are weighted; aif360 ignores instance weights in this index, so the two
        agree on unweighted data only.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be greater than 0, got {alpha}")
    overall = counts.overall
    correct, over_benefit, total = overall.tp + overall.tn, overall.fp, overall.n
    if total == 0:
        return math.nan
    mean = (correct + 2 * over_benefit) / total
    if mean == 0:
        return math.nan
    if alpha == 1:
        # Rows with b = 0 contribute 0 * ln 0 = 0.
        return float((correct * _x_log_x(1 / mean) + over_benefit * _x_log_x(2 / mean)) / total)
    power_mean = (correct * (1 / mean) ** alpha + over_benefit * (2 / mean) ** alpha) / total
    return float((power_mean - 1) / (alpha * (alpha - 1)))


def _x_log_x(x: float) -> float:
    return x * math.log(x) if x > 0 else 0.0


def theil_index(counts: GroupCounts) -> float:
    """The Theil index of the benefit ``b = y_pred - y_true + 1`` over all rows (aif360's ``theil_index``).

    It is :func:`generalized_entropy_index` with alpha = 1: 0 when every row gets the same benefit, larger when
    errors concentrate benefit (false positives) or withhold it (false negatives).

    Parameters
    ----------
    counts
        Group confusion counts from :func:`confusion_by_group`; only the overall counts are used. With sample
        weights the means are weighted (aif360 ignores instance weights here).

    Returns
    -------
    float
        Between 0 and ln(n); NaN if every row is a false negative.
    """
    return generalized_entropy_index(counts, alpha=1.0)


# ---------------------------------------------------------------------------------------------------------------
# Confidence intervals
# ---------------------------------------------------------------------------------------------------------------


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    r"""Wilson score interval for a binomial proportion, vectorised over any number of proportions.

    :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}` with :math:`\hat p = x/n`
    and :math:`z` the two-sided normal quantile (Wilson 1927; Newcombe 1998, method 3). Unlike the Wald interval it
    stays inside [0, 1] and keeps its coverage near 0 and 1, which is where small groups' rates often are.

    Parameters
    ----------
    successes
        Number of successes (e.g. a group's ``tp + fp`` for its selection rate); scalar or array.
    n
        Number of trials (e.g. the group's ``n``); broadcast against ``successes``. ``0 <= successes <= n``.
    confidence
        Two-sided confidence level, strictly between 0 and 1.

    Returns
    -------
    (lower, upper)
        Arrays of the broadcast shape (0-d for scalar input); NaN where ``n`` is 0.
    """
    from scipy.special import ndtri

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    x = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(n, dtype=np.float64)
    if np.any(x < 0) or np.any(x > trials):
        raise ValueError("successes must satisfy 0 <= successes <= n")
    z = float(ndtri(1 - (1 - confidence) / 2))
    z2 = z * z
    p = _ratio(x, trials, math.nan)
    safe_n = np.where(trials > 0, trials, np.nan)
    with np.errstate(invalid="ignore"):
        denominator = 1 + z2 / safe_n
        centre = (p + z2 / (2 * safe_n)) / denominator
        half_width = z * np.sqrt(p * (1 - p) / safe_n + z2 / (4 * safe_n * safe_n)) / denominator
    lower = np.clip(centre - half_width, 0.0, 1.0)
    upper = np.clip(centre + half_width, 0.0, 1.0)
    return lower, upper
