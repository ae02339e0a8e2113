"""The kernel's statistics against published tables, scipy and scikit-learn on real data (German credit, Adult).

Wilson intervals against Newcombe (1998) and ``scipy.stats.binomtest``; the two-proportion z-test against Pearson's
chi-squared; Fisher's exact test on the lady tasting tea and when the difference test chooses it; Cramer's V and
mutual information against scipy and scikit-learn, and the bias-corrected Cramer's V worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from scipy import stats as scipy_stats
from scipy.stats.contingency import association

from audits import metrics as km
from tests.audits.metrics_helpers import (  # noqa: F401 - adult and german are fixtures used by name
    Case,
    Evaluation,
    adult,
    german,
)

# ---------------------------------------------------------------------------------------------------------------
# Wilson intervals: Newcombe (1998) and scipy
# ---------------------------------------------------------------------------------------------------------------


def test_wilson_interval_matches_newcombe_1998_table_ii() -> None:
    # Newcombe RG, "Two-sided confidence intervals for the single proportion: comparison of seven methods",
    # Statistics in Medicine 17:857-872 (1998), Table II, method 3 (score interval without continuity correction).
    successes = np.array([81, 15, 0, 1])
    trials = np.array([263, 148, 20, 29])
    published = np.array([[0.2553, 0.3662], [0.0624, 0.1605], [0.0000, 0.1611], [0.0061, 0.1718]])
    lower, upper = km.wilson_interval(successes, trials)
    np.testing.assert_allclose(np.column_stack([lower, upper]), published, atol=5e-5)


def test_wilson_interval_equals_scipy_binomtest(adult: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    counts = Case(evaluation=adult, columns=("sex", "race"), weighted=False).counts()
    selected, trials = counts.predicted_positives, counts.n
    for confidence in (0.9, 0.95, 0.99):
        lower, upper = km.wilson_interval(selected, trials, confidence=confidence)
        for group in range(counts.groups.n_groups):
            expected = scipy_stats.binomtest(int(selected[group]), int(trials[group])).proportion_ci(
                confidence_level=confidence, method="wilson"
            )
            assert lower[group] == pytest.approx(expected.low, rel=1e-12, abs=1e-15)
            assert upper[group] == pytest.approx(expected.high, rel=1e-12)
    lower, upper = km.wilson_interval(0, 0)
    assert np.isnan(lower)
    assert np.isnan(upper)
    with pytest.raises(ValueError, match="successes"):
        km.wilson_interval(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        km.wilson_interval(1, 4, confidence=1.0)


# ---------------------------------------------------------------------------------------------------------------
# Tests of a difference in proportions
# ---------------------------------------------------------------------------------------------------------------


def test_z_test_equals_pearson_chi_squared_without_continuity_correction(german: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    counts = Case(evaluation=german, columns=("sex",), weighted=False).counts()
    x = counts.predicted_positives.tolist()  # approvals of female and male applicants
    n = counts.n.tolist()
    result = km.two_proportion_z_test(x1=x[0], n1=n[0], x2=x[1], n2=n[1])
    table = np.array([[x[0], n[0] - x[0]], [x[1], n[1] - x[1]]])
    chi2 = scipy_stats.chi2_contingency(table, correction=False)
    assert result.test == "two_proportion_z"
    assert result.statistic**2 == pytest.approx(chi2.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    # The textbook formula, written out.
    pooled = (x[0] + x[1]) / (n[0] + n[1])
    z = (x[0] / n[0] - x[1] / n[1]) / math.sqrt(pooled * (1 - pooled) * (1 / n[0] + 1 / n[1]))
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-12)


def test_z_test_has_no_statistic_when_both_groups_agree_completely() -> None:
    result = km.two_proportion_z_test(x1=0, n1=10, x2=0, n2=20)
    assert math.isnan(result.statistic)
    assert math.isnan(result.p_value)


def test_fisher_exact_test_reproduces_the_lady_tasting_tea() -> None:
    # Fisher (1935): 8 cups, 4 with milk first; she names 3 of them correctly. Two-sided p = 34/70.
    result = km.fisher_exact_test(x1=3, n1=4, x2=1, n2=4)
    assert result.test == "fisher_exact"
    assert result.p_value == pytest.approx(34 / 70, rel=1e-12)
    assert result.statistic == pytest.approx(9.0)  # (3 * 3) / (1 * 1)
    # The hypergeometric sum, written out, for an uneven table.
    x1, n1, x2, n2 = 2, 15, 9, 14
    successes, total = x1 + x2, n1 + n2

    def probability(k: int) -> float:
        return math.comb(n1, k) * math.comb(n2, successes - k) / math.comb(total, successes)

    observed = probability(x1)
    support = range(max(0, successes - n2), min(n1, successes) + 1)
    expected = sum(probability(k) for k in support if probability(k) <= observed * (1 + 1e-7))
    assert km.fisher_exact_test(x1=x1, n1=n1, x2=x2, n2=n2).p_value == pytest.approx(expected, rel=1e-12)
    assert km.fisher_exact_test(x1=x1, n1=n1, x2=x2, n2=n2).p_value == pytest.approx(
        scipy_stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue, rel=1e-12
    )
    with pytest.raises(ValueError, match="whole-number"):
        km.fisher_exact_test(x1=2.5, n1=10, x2=3, n2=10)  # type: ignore[arg-type]


def test_difference_test_runs_fisher_below_five_expected_and_z_otherwise() -> None:
    small = km.difference_test(x1=3, n1=10, x2=8, n2=12)  # expected selected in group 1: 10 * 11 / 22 = 5.0
    assert small.test == "two_proportion_z"
    assert small.min_expected_count == 5.0
    smaller = km.difference_test(x1=2, n1=9, x2=8, n2=12)  # 9 * 10 / 21 = 4.29
    assert smaller.test == "fisher_exact"
    assert smaller.p_value == pytest.approx(scipy_stats.fisher_exact([[2, 7], [8, 4]]).pvalue)
    degenerate = km.difference_test(x1=0, n1=50, x2=0, n2=60)
    assert degenerate.test == "fisher_exact"
    assert degenerate.p_value == 1.0
    with pytest.raises(ValueError, match="n1 must be greater than 0"):
        km.difference_test(x1=0, n1=0, x2=1, n2=2)


# ---------------------------------------------------------------------------------------------------------------
# Association: Cramér's V (scipy) and mutual information (scikit-learn)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("sex", "race"), ("race", "y_pred"), ("sex", "y_true")])
def test_cramers_v_and_mutual_information_equal_scipy_and_sklearn(adult: Evaluation, first: str, second: str) -> None:  # noqa: F811 - the fixture imported above
    x, y = adult.frame[first], adult.frame[second]
    table = pd.crosstab(x, y).to_numpy()
    assert km.cramers_v(x, y) == pytest.approx(association(table, method="cramer"), rel=1e-12)
    assert km.mutual_information(x, y) == pytest.approx(skm.mutual_info_score(x, y), rel=1e-10)
    corrected = km.cramers_v(x, y, bias_correction=True)
    assert 0 < corrected < km.cramers_v(x, y)


def test_bias_corrected_cramers_v_by_hand() -> None:
    # A 2x3 table with n = 20: chi2 = 20 * sum((o - e)^2 / e) computed independently below.
    x = np.array(["a"] * 10 + ["b"] * 10)
    y = np.array(["u"] * 6 + ["v"] * 3 + ["w"] * 1 + ["u"] * 2 + ["v"] * 3 + ["w"] * 5)
    observed = np.array([[6, 3, 1], [2, 3, 5]])
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / 20
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    phi2 = chi2 / 20
    rows, columns = 2, 3
    phi2_corrected = max(0.0, phi2 - (rows - 1) * (columns - 1) / 19)
    rows_corrected, columns_corrected = rows - (rows - 1) ** 2 / 19, columns - (columns - 1) ** 2 / 19
    expected_v = math.sqrt(phi2_corrected / min(rows_corrected - 1, columns_corrected - 1))
    assert km.cramers_v(x, y, bias_correction=True) == pytest.approx(expected_v, rel=1e-12)
    assert km.cramers_v(x, y) == pytest.approx(math.sqrt(phi2), rel=1e-12)
    # Independent columns: the plain estimate is positive, the corrected one 0 (or close to it).
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    assert km.cramers_v(a, b) > 0.05
    assert km.cramers_v(a, b, bias_correction=True) < km.cramers_v(a, b) / 2
    assert math.isnan(km.cramers_v(["a", "a"], ["u", "v"]))


def test_mutual_information_of_a_column_with_itself_is_its_entropy(german: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    sex = german.frame["sex"]
    shares = sex.value_counts(normalize=True).to_numpy()
    assert km.mutual_information(sex, sex) == pytest.approx(float(-(shares * np.log(shares)).sum()), rel=1e-12)
    assert km.mutual_information(sex, np.zeros(len(sex))) == 0.0
    with pytest.raises(ValueError, match="missing"):
        km.mutual_information(["a", None], [1, 2])
