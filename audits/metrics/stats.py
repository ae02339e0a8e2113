"""Significance tests for a difference between two groups' rates, and association between two categorical columns.

Plain numbers in, plain numbers out. scipy is imported inside the functions that need it, so importing the kernel
stays light. The tests cross-check every function with scipy and scikit-learn, and with published values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

#: Below this expected cell count the normal approximation behind the z-test is not trusted (Cochran 1954's
#: rule for 2x2 tables, the one most textbooks teach), and ``difference_test`` runs Fisher's exact test instead.
MIN_EXPECTED_COUNT = 5.0


@dataclass(frozen=True)
class ProportionTest:
    """The result of comparing two proportions x1/n1 and x2/n2."""

    test: Literal["two_proportion_z", "fisher_exact"]
    """Which test ran."""
    statistic: float
    """The z statistic (z-test; positive when proportion_1 is larger) or the sample odds ratio (Fisher)."""
    p_value: float
    """Two-sided."""
    proportion_1: float
    proportion_2: float
    min_expected_count: float
    """The smallest expected count of the 2x2 table under equal proportions (what ``difference_test`` decides on)."""


def _check_counts(x1: float, n1: float, x2: float, n2: float) -> None:
    for name, successes, trials in (("1", x1, n1), ("2", x2, n2)):
        if not trials > 0:
            raise ValueError(f"n{name} must be greater than 0, got {trials}")
        if not 0 <= successes <= trials:
            raise ValueError(f"x{name} must satisfy 0 <= x{name} <= n{name}, got {successes} of {trials}")


def _min_expected_count(x1: float, n1: float, x2: float, n2: float) -> float:
    total = n1 + n2
    successes = x1 + x2
    failures = total - successes
    return min(n1, n2) * min(successes, failures) / total


def two_proportion_z_test(*, x1: float, n1: float, x2: float, n2: float) -> ProportionTest:
    r"""Pooled two-proportion z-test of x1/n1 against x2/n2, two-sided.

    :math:`z = (\hat p_1 - \hat p_2) / \sqrt{\hat p(1-\hat p)(1/n_1 + 1/n_2)}` with the pooled
    :math:`\hat p = (x_1 + x_2)/(n_1 + n_2)`; :math:`z^2` is Pearson's chi-squared of the 2x2 table without
    continuity correction, so the p-value equals ``scipy.stats.chi2_contingency(table, correction=False)``'s.

    Parameters
    ----------
    x1
        Successes in group 1 (e.g. rows selected).
    n1
        Rows in group 1 (> 0). The test assumes independent rows: do not pass sums of sample weights.
    x2
        Successes in group 2.
    n2
        Rows in group 2 (> 0).

    Returns
    -------
    ProportionTest
        ``statistic`` is z; ``statistic`` and ``p_value`` are NaN when the pooled proportion is 0 or 1 (both groups
        all successes or all failures: no variance to test against, and no difference either).
    """
    from scipy.special import ndtr

    _check_counts(x1, n1, x2, n2)
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance > 0:
        z = (p1 - p2) / math.sqrt(variance)
        p_value = float(2 * ndtr(-abs(z)))
    else:
        z = p_value = math.nan
    return ProportionTest(
        test="two_proportion_z",
        statistic=z,
        p_value=p_value,
        proportion_1=p1,
        proportion_2=p2,
        min_expected_count=_min_expected_count(x1, n1, x2, n2),
    )


def fisher_exact_test(*, x1: int, n1: int, x2: int, n2: int) -> ProportionTest:
    """Fisher's exact test of x1/n1 against x2/n2, two-sided (``scipy.stats.fisher_exact``).

    Exact for any counts, so it is the test to trust for small groups; it conditions on both margins and is
    conservative, which is why larger samples use the z-test.

    Parameters
    ----------
    x1
        Successes in group 1, a whole number.
    n1
        Rows in group 1 (> 0), a whole number.
    x2
        Successes in group 2, a whole number.
    n2
        Rows in group 2 (> 0), a whole number.

    Returns
    -------
    ProportionTest
        ``statistic`` is the sample odds ratio ``x1 (n2 - x2) / (x2 (n1 - x1))`` (inf or NaN when a cell is 0, as
        scipy).
    """
    from scipy.stats import fisher_exact

    _check_counts(x1, n1, x2, n2)
    cells = (x1, n1, x2, n2)
    if any(float(value) != int(value) for value in cells):
        raise ValueError(f"Fisher's exact test needs whole-number counts, got {cells}")
    a, b, c, d = int(x1), int(n1) - int(x1), int(x2), int(n2) - int(x2)
    with np.errstate(divide="ignore", invalid="ignore"):  # scipy divides by zero cells for the odds ratio
        result = fisher_exact([[a, b], [c, d]], alternative="two-sided")
    return ProportionTest(
        test="fisher_exact",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        proportion_1=x1 / n1,
        proportion_2=x2 / n2,
        min_expected_count=_min_expected_count(x1, n1, x2, n2),
    )


def difference_test(*, x1: int, n1: int, x2: int, n2: int) -> ProportionTest:
    """Test whether x1/n1 and x2/n2 differ, choosing the test by the expected cell counts (two-sided).

    Rule: build the 2x2 table (group by success/failure) and its expected counts under equal proportions,
    ``row total * column total / N``. If any expected count is below 5 (:data:`MIN_EXPECTED_COUNT`, Cochran's rule)
    the normal approximation is not trusted and Fisher's exact test runs; otherwise the pooled two-proportion
    z-test runs. The result says which one ran in ``test``.

    Parameters
    ----------
    x1
        Successes in group 1 (whole number; Fisher needs whole numbers).
    n1
        Rows in group 1 (> 0).
    x2
        Successes in group 2.
    n2
        Rows in group 2 (> 0).

    Returns
    -------
    ProportionTest
        From :func:`fisher_exact_test` or :func:`two_proportion_z_test`.
    """
    _check_counts(x1, n1, x2, n2)
    if _min_expected_count(x1, n1, x2, n2) < MIN_EXPECTED_COUNT:
        return fisher_exact_test(x1=x1, n1=n1, x2=x2, n2=n2)
    return two_proportion_z_test(x1=x1, n1=n1, x2=x2, n2=n2)


# ---------------------------------------------------------------------------------------------------------------
# Association between two categorical columns
# ---------------------------------------------------------------------------------------------------------------


def _contingency_table(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Counts of each (x, y) combination, over the values that occur; missing values are refused."""
    import pandas as pd

    codes = []
    for name, values in (("x", x), ("y", y)):
        array = values if isinstance(values, pd.Series | pd.Categorical) else np.asarray(values)
        if np.ndim(array) != 1:
            raise ValueError(f"{name} must be one-dimensional")
        column_codes, uniques = pd.factorize(array, use_na_sentinel=True)
        if np.any(column_codes < 0):
            raise ValueError(f"{name} contains missing values; fill them in or drop those rows")
        codes.append((column_codes.astype(np.intp), len(uniques)))
    (x_codes, x_levels), (y_codes, y_levels) = codes
    if x_codes.shape[0] != y_codes.shape[0]:
        raise ValueError(f"x has {x_codes.shape[0]} rows and y has {y_codes.shape[0]}")
    if x_codes.shape[0] == 0:
        raise ValueError("x and y are empty")
    flat = np.bincount(x_codes * y_levels + y_codes, minlength=x_levels * y_levels)
    return flat.reshape(x_levels, y_levels).astype(np.int64)


def _chi_squared(table: npt.NDArray[Any]) -> float:
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    return float(((table - expected) ** 2 / expected).sum())


def cramers_v(x: npt.ArrayLike, y: npt.ArrayLike, *, bias_correction: bool = False) -> float:
    r"""Cramér's V between two categorical columns: 0 for no association, 1 for a perfect one.

    Uncorrected (the default, what ``scipy.stats.contingency.association(table, method="cramer")`` computes):
    :math:`V = \sqrt{\chi^2 / (n (\min(r, c) - 1))}` with Pearson's :math:`\chi^2` without continuity correction.
    It is biased upwards in small samples and with many categories (two independent columns still give V > 0).

    Bias-corrected (Bergsma 2013, "A bias-correction for Cramér's V and Tschuprow's T", J. Korean Stat. Soc.
    42:323-328): :math:`\tilde\varphi^2 = \max(0, \chi^2/n - (r-1)(c-1)/(n-1))`,
    :math:`\tilde r = r - (r-1)^2/(n-1)`, :math:`\tilde c = c - (c-1)^2/(n-1)`,
    :math:`\tilde V = \sqrt{\tilde\varphi^2 / \min(\tilde r - 1, \tilde c - 1)}`.

    Parameters
    ----------
    x
        One categorical value per row (e.g. a protected attribute). Missing values are refused.
    y
        One categorical value per row (e.g. the prediction or another attribute), same length as ``x``.
    bias_correction
        Use Bergsma's bias-corrected estimator instead of the plain one.

    Returns
    -------
    float
        In [0, 1]; NaN when either column has a single value (association is undefined).
    """
    table = _contingency_table(x, y)
    rows, columns = table.shape
    if min(rows, columns) < 2:
        return math.nan
    n = float(table.sum())
    phi_squared = _chi_squared(table) / n
    if not bias_correction:
        return math.sqrt(phi_squared / (min(rows, columns) - 1))
    if n < 2:
        return math.nan
    corrected = max(0.0, phi_squared - (rows - 1) * (columns - 1) / (n - 1))
    rows_corrected = rows - (rows - 1) ** 2 / (n - 1)
    columns_corrected = columns - (columns - 1) ** 2 / (n - 1)
    denominator = min(rows_corrected - 1, columns_corrected - 1)
    return math.sqrt(corrected / denominator) if denominator > 0 else math.nan


def mutual_information(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    r"""Mutual information between two categorical columns, in nats (natural logarithm).

    :math:`I(X;Y) = \sum_{x,y} p(x,y) \ln\frac{p(x,y)}{p(x)p(y)}` over the observed frequencies, as
    ``sklearn.metrics.mutual_info_score`` computes it. 0 means the columns are independent in the sample; divide by
    ``ln 2`` for bits.

    Parameters
    ----------
    x
        One categorical value per row. Missing values are refused.
    y
        One categorical value per row, same length as ``x``.

    Returns
    -------
    float
        At least 0 and at most ``min(H(X), H(Y))``.
    """
    table = _contingency_table(x, y)
    n = float(table.sum())
    rows, columns = np.nonzero(table)
    joint = table[rows, columns].astype(np.float64)
    row_totals = table.sum(axis=1).astype(np.float64)[rows]
    column_totals = table.sum(axis=0).astype(np.float64)[columns]
    information = float(np.sum(joint / n * np.log(joint * n / (row_totals * column_totals))))
    return max(information, 0.0)  # rounding can leave -1e-17 for independent columns
