"""Drift statistics from a stored reference profile, computed in one pass over a batch (pure: numpy and scipy only).

A reference is profiled once (``numeric_reference``, ``categorical_reference``) into plain JSON:

- numeric: interior quantile bin edges (deciles by default) with the reference's exact count per bin, and its
  empirical CDF as ``(values, cumulative counts)``. When the reference has at most ``exact_max_distinct``
  distinct values the ECDF holds every distinct value (``ecdf.exact = true``); otherwise it holds
  ``sketch_points`` quantiles of the reference with the exact cumulative count at each, and the KS statistic is
  approximate: it differs from the exact one by at most ``1 / (sketch_points - 1)`` (stated as ``ks_error_bound``).
- categorical: the ``max_categories`` most frequent categories with their counts; the rest of the reference is
  counted as ``(other)``; missing values as ``(missing)``. A label longer than ``MAX_LABEL_CHARS`` is cut and
  ends in a short hash of its full text, so distinct long values stay distinct (``category_label``).

Non-finite numbers (``inf``, ``-inf``) are treated as missing on both sides, and counted apart as ``non_finite``:
they have no place on a quantile scale, and a profile or a result holding them could not be stored as JSON
(PostgreSQL's ``jsonb`` and strict JSON refuse ``NaN`` and ``Infinity``).

A batch is fed in chunks to an accumulator (``NumericAccumulator``, ``CategoricalAccumulator``); every count it
keeps is additive, so a million rows never need to be in memory at once and the reference file is never re-read.

Statistics (``numeric_statistics``, ``categorical_statistics``):

- **PSI** on the reference bins: ``sum((q_i - p_i) * ln(q_i / p_i))`` with p the reference and q the batch
  proportions. Small-count correction: every bin count gets ``PSI_PSEUDO_COUNT`` (0.5) added before proportions
  are taken, ``p_i = (c_i + 0.5) / (n + 0.5 k)`` for k bins, so an empty bin gives a finite PSI. Missing values
  are a bin of their own when either side has any.
- **Kolmogorov-Smirnov** (numeric, missing values left out on both sides, as ``scipy.stats.ks_2samp`` would be
  called): the statistic D is the supremum of |F_ref - F_batch|, evaluated exactly from the stored ECDF (see
  ``ks_from_counts``); equal to ``ks_2samp``'s statistic when the ECDF is exact. The p-value is Smirnov's
  asymptotic distribution, ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))``: what ``ks_2samp(method="asymp")``
  returns (``ks_2samp``'s default switches to an exact p-value for samples of at most 10,000 rows).
- **chi-square** (categorical): ``scipy.stats.chi2_contingency`` on the 2 x k table of reference and batch counts
  per category (columns empty on both sides dropped; Yates' correction when k = 2, as scipy does by default).
- **Jensen-Shannon distance**: ``scipy.spatial.distance.jensenshannon`` of the two bin (or category) proportion
  vectors, base 2, so it lies in [0, 1]; no correction (it is finite with empty bins).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PSI_PSEUDO_COUNT = 0.5
MISSING = "(missing)"
OTHER = "(other)"
MAX_LABEL_CHARS = 200  # category labels are cut to this many characters (a huge field stays a bounded label)
LABEL_HASH_CHARS = 12  # hex digits of SHA-256 that end a cut label: 48 bits, distinct values never merge in practice


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# --- reference profiles -----------------------------------------------------------------------------------------


def numeric_reference(
    values: np.ndarray, *, bins: int = 10, exact_max_distinct: int = 20_000, sketch_points: int = 10_001
) -> dict[str, Any]:
    """The profile of one numeric reference column.

    :param values: the reference values as floats; NaN means missing, and so do ``inf`` and ``-inf`` (counted as
        ``non_finite`` too).
    :param bins: number of quantile bins for PSI (fewer when quantiles coincide).
    :param exact_max_distinct: keep the exact ECDF (every distinct value) up to this many distinct values.
    :param sketch_points: number of quantiles kept otherwise.
    :returns: JSON-ready ``{"kind", "n", "missing", "non_finite", "mean", "std", "min", "max", "edges",
        "bin_counts", "ecdf"}``, every number finite (``mean`` and ``std`` are None if they overflow a float).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    non_finite = int(np.isinf(values).sum())
    present = values[finite]
    if present.size == 0:
        raise ValueError("the reference column has no finite values")
    cuts = np.linspace(0, 1, bins + 1)[1:-1]
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.quantile(present, cuts)
        if not np.isfinite(edges).all():  # interpolating between values near +-1.8e308 overflows: take data values
            edges = np.quantile(present, cuts, method="inverted_cdf")
        mean, std = float(present.mean()), float(present.std(ddof=1)) if present.size > 1 else 0.0
    edges = np.unique(edges)
    bin_counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    distinct, counts = np.unique(present, return_counts=True)
    if len(distinct) <= exact_max_distinct:
        ecdf = {"exact": True, "values": distinct.tolist(), "cumulative": np.cumsum(counts).tolist()}
    else:
        ordered = np.sort(present)
        points = np.unique(np.quantile(ordered, np.linspace(0, 1, sketch_points), method="inverted_cdf"))
        cumulative = np.searchsorted(ordered, points, side="right")
        ecdf = {
            "exact": False,
            "values": points.tolist(),
            "cumulative": cumulative.tolist(),
            "ks_error_bound": 1 / (sketch_points - 1),
        }
    return {
        "kind": "numeric",
        "n": int(present.size),
        "missing": int((~finite).sum()),
        "non_finite": non_finite,
        "mean": _finite(mean),
        "std": _finite(std),
        "min": float(present.min()),
        "max": float(present.max()),
        "edges": edges.tolist(),
        "bin_counts": bin_counts.tolist(),
        "ecdf": ecdf,
    }


def cut_label(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters; else its start, an ellipsis and a short SHA-256 of the whole
    text (``…#1a2b3c4d5e6f``), ``limit`` characters in all: two long texts that share their start stay distinct,
    and the same text always gives the same label."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:LABEL_HASH_CHARS]
    return text[: limit - LABEL_HASH_CHARS - 2] + "…#" + digest


def category_label(value: Any) -> str:
    """A category's label: its text, cut to ``MAX_LABEL_CHARS`` with a hash of the full text (``cut_label``)."""
    return cut_label(value if isinstance(value, str) else str(value), MAX_LABEL_CHARS)


def categorical_reference(values: Any, *, max_categories: int = 1000) -> dict[str, Any]:
    """The profile of one categorical reference column: the most frequent categories and their counts.

    :param values: one value per row (``None`` is missing); non-strings are compared as their text.
    :param max_categories: categories kept by name; the rest of the reference counts as ``(other)``.
    """
    import pandas as pd

    series = pd.Series(values, dtype="object")
    missing = int(series.isna().sum())
    counts = series.dropna().map(category_label).value_counts(sort=True)
    kept = counts.iloc[:max_categories]
    ordered = sorted(zip(kept.index.tolist(), kept.tolist(), strict=True))
    return {
        "kind": "categorical",
        "n": len(series),
        "missing": missing,
        "categories": [name for name, _ in ordered],
        "counts": [int(count) for _, count in ordered],
        "other": int(counts.iloc[max_categories:].sum()),
    }


# --- accumulators ------------------------------------------------------------------------------------------------


class NumericAccumulator:
    """Counts of a numeric batch column against a reference profile, fed chunk by chunk.

    Each chunk is sorted once; the reference's bin edges and ECDF points are then searched in it (a few hundred or
    thousand binary searches), which is far cheaper than searching every batch value among the points. Only
    additive counts are kept: per point, the batch values at or below it and strictly below it.
    """

    def __init__(self, reference: Mapping[str, Any]) -> None:
        self.reference = reference
        self.edges = np.asarray(reference["edges"], dtype=np.float64)
        self.points = np.asarray(reference["ecdf"]["values"], dtype=np.float64)
        self.at_or_below_edges = np.zeros(len(self.edges), dtype=np.int64)
        self.at_or_below = np.zeros(len(self.points), dtype=np.int64)  # batch values <= point j
        self.below = np.zeros(len(self.points), dtype=np.int64)  # batch values < point j
        self.n = 0
        self.missing = 0
        self.non_finite = 0
        self.total = 0.0
        self.total_squares = 0.0

    def add(self, values: np.ndarray) -> None:
        """Count one chunk (floats; NaN is missing, and so are ``inf`` and ``-inf``, as in the reference)."""
        values = np.asarray(values, dtype=np.float64)
        absent = ~np.isfinite(values)
        missing = int(absent.sum())
        if missing:
            self.non_finite += int(np.isinf(values).sum())
            values = values[~absent]
        self.missing += missing
        self.n += int(values.size)
        if not values.size:
            return
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum gives mean None, said so below
            self.total += float(values.sum())
            self.total_squares += float(np.dot(values, values))
        ordered = np.sort(values)
        self.at_or_below_edges += np.searchsorted(ordered, self.edges, side="right")
        self.at_or_below += np.searchsorted(ordered, self.points, side="right")
        self.below += np.searchsorted(ordered, self.points, side="left")

    @property
    def bin_counts(self) -> np.ndarray:
        """Batch counts per reference bin: (-inf, e1], (e1, e2], ..., (ek, inf)."""
        cumulative = np.concatenate(([0], self.at_or_below_edges, [self.n]))
        return np.diff(cumulative)


class CategoricalAccumulator:
    """Counts of a categorical batch column per reference category, fed chunk by chunk."""

    MAX_UNSEEN_NAMES = 20

    def __init__(self, reference: Mapping[str, Any]) -> None:
        self.reference = reference
        self.index = {name: i for i, name in enumerate(reference["categories"])}
        self.counts = np.zeros(len(self.index), dtype=np.int64)
        self.other = 0
        self.missing = 0
        self.n = 0
        self.unseen: dict[str, int] = {}  # a few categories the reference never had, for the report

    def add_counts(self, values: Sequence[Any], counts: Sequence[int], *, missing: int = 0) -> None:
        """Count one chunk given as its distinct values and their counts (``pyarrow.compute.value_counts``)."""
        self.missing += missing
        self.n += missing
        for value, count in zip(values, counts, strict=True):
            if value is None:
                self.missing += int(count)
                self.n += int(count)
                continue
            label = category_label(value)
            self.n += int(count)
            position = self.index.get(label)
            if position is None:
                self.other += int(count)
                if label in self.unseen or len(self.unseen) < self.MAX_UNSEEN_NAMES:
                    self.unseen[label] = self.unseen.get(label, 0) + int(count)
            else:
                self.counts[position] += int(count)

    def add(self, values: Sequence[Any]) -> None:
        """Count one chunk of values (``None`` is missing)."""
        tally = Counter(values)
        self.add_counts(list(tally), list(tally.values()))


# --- statistics --------------------------------------------------------------------------------------------------


def psi(reference_counts: Any, batch_counts: Any) -> float:
    """Population stability index of two count vectors over the same bins, with the 0.5 pseudo-count per bin."""
    p = np.asarray(reference_counts, dtype=np.float64) + PSI_PSEUDO_COUNT
    q = np.asarray(batch_counts, dtype=np.float64) + PSI_PSEUDO_COUNT
    p /= p.sum()
    q /= q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference_counts: Any, batch_counts: Any) -> float | None:
    """Jensen-Shannon distance (base 2) of the two proportion vectors (``scipy.spatial.distance.jensenshannon``)."""
    from scipy.spatial.distance import jensenshannon

    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(batch_counts, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    return _finite(float(jensenshannon(p, q, base=2)))


def ks_from_counts(
    *,
    points: np.ndarray,
    cumulative: np.ndarray,
    n_reference: int,
    at_or_below: np.ndarray,
    below: np.ndarray,
    n: int,
) -> float:
    """The two-sample KS statistic sup |F_ref(x) - F_batch(x)| from the reference ECDF and the batch's counts.

    Between two consecutive reference points r_(j-1) <= x < r_j the reference ECDF is constant, and the batch's
    ECDF climbs from its value at r_(j-1) to the share of batch values below r_j; both ends are attained, so the
    supremum is the largest of |F_ref(r_j) - #(batch <= r_j) / n| and |F_ref(r_(j-1)) - #(batch < r_j) / n| over j
    (with F_ref = 0 before the first point). Exact when ``points`` are every distinct reference value.
    """
    cumulative = np.asarray(cumulative, dtype=np.int64)
    ref_at = cumulative / n_reference
    ref_before = np.concatenate(([0.0], ref_at[:-1]))
    at_points = np.abs(ref_at - at_or_below / n)
    before_points = np.abs(ref_before - below / n)
    return float(max(at_points.max(initial=0.0), before_points.max(initial=0.0)))


def ks_p_value(statistic: float, n_reference: int, n: int) -> float:
    """Smirnov's asymptotic two-sided p-value, as ``scipy.stats.ks_2samp(method="asymp")`` computes it."""
    from scipy.stats import kstwo

    m, k = sorted([float(n_reference), float(n)], reverse=True)
    effective = m * k / (m + k)
    return float(np.clip(kstwo.sf(statistic, np.round(effective)), 0, 1))


def numeric_statistics(accumulator: NumericAccumulator) -> dict[str, Any]:
    """PSI, KS, Jensen-Shannon distance and the shift of the mean for one numeric column."""
    ref = accumulator.reference
    ref_bins = list(ref["bin_counts"])
    batch_bins = accumulator.bin_counts.tolist()
    if ref["missing"] or accumulator.missing:
        ref_bins.append(ref["missing"])
        batch_bins.append(accumulator.missing)
    result: dict[str, Any] = {
        "kind": "numeric",
        "rows": accumulator.n + accumulator.missing,
        "missing": accumulator.missing,
        "non_finite": accumulator.non_finite,
        "psi": psi(ref_bins, batch_bins) if accumulator.n + accumulator.missing else None,
        "js_distance": js_distance(ref_bins, batch_bins),
        "bins": {"edges": ref["edges"], "reference": ref_bins, "batch": batch_bins},
        "ks": None,
        "ks_p_value": None,
        "ks_exact": bool(ref["ecdf"]["exact"]),
        "mean": None,
        "reference_mean": ref["mean"],
        "mean_shift_in_reference_sd": None,
    }
    if not ref["ecdf"]["exact"]:
        result["ks_error_bound"] = ref["ecdf"]["ks_error_bound"]
    if accumulator.n:
        statistic = ks_from_counts(
            points=accumulator.points,
            cumulative=np.asarray(ref["ecdf"]["cumulative"]),
            n_reference=ref["n"],
            at_or_below=accumulator.at_or_below,
            below=accumulator.below,
            n=accumulator.n,
        )
        mean = _finite(accumulator.total / accumulator.n)
        ref_mean, ref_std = ref.get("mean"), ref.get("std")
        shift = None
        if mean is not None and ref_mean is not None and ref_std:
            with np.errstate(over="ignore", invalid="ignore"):
                shift = _finite((mean - ref_mean) / ref_std)
        result.update(
            ks=statistic,
            ks_p_value=ks_p_value(statistic, ref["n"], accumulator.n),
            mean=mean,
            mean_shift_in_reference_sd=shift,
        )
    return result


def categorical_statistics(accumulator: CategoricalAccumulator) -> dict[str, Any]:
    """PSI, chi-square, Jensen-Shannon distance and the categories the reference never had, for one column."""
    from scipy.stats import chi2_contingency

    ref = accumulator.reference
    names = [*ref["categories"], OTHER, MISSING]
    ref_counts = np.asarray([*ref["counts"], ref["other"], ref["missing"]], dtype=np.int64)
    batch_counts = np.asarray([*accumulator.counts.tolist(), accumulator.other, accumulator.missing], dtype=np.int64)
    used = (ref_counts + batch_counts) > 0
    names = [name for name, keep in zip(names, used, strict=True) if keep]
    ref_counts, batch_counts = ref_counts[used], batch_counts[used]
    result: dict[str, Any] = {
        "kind": "categorical",
        "rows": accumulator.n,
        "missing": accumulator.missing,
        "psi": psi(ref_counts, batch_counts) if accumulator.n else None,
        "js_distance": js_distance(ref_counts, batch_counts),
        "chi2": None,
        "chi2_p_value": None,
        "chi2_dof": None,
        "categories": {"names": names, "reference": ref_counts.tolist(), "batch": batch_counts.tolist()},
        "unseen_categories": dict(sorted(accumulator.unseen.items())),
    }
    if accumulator.n and len(names) >= 2:
        test = chi2_contingency(np.vstack([ref_counts, batch_counts]))
        result.update(
            chi2=_finite(float(test.statistic)), chi2_p_value=_finite(float(test.pvalue)), chi2_dof=int(test.dof)
        )
    return result
