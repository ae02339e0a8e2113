"""The drift statistics against known answers: a hand-computed PSI, scipy's ks_2samp, chi2_contingency and
jensenshannon, on small known examples and on real data (German credit, Adult)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from audits.monitoring import drift
from tests.monitoring.data import adult_column, german_table


def _numeric(reference: np.ndarray, batch: np.ndarray, **options: int) -> dict:
    profile = drift.numeric_reference(reference, **options)
    accumulator = drift.NumericAccumulator(profile)
    for chunk in np.array_split(batch, 7):  # chunked, as a big batch is read
        accumulator.add(chunk)
    return drift.numeric_statistics(accumulator)


def test_psi_equals_a_hand_computed_value_on_a_small_known_example() -> None:
    # Reference 1..8 in quartile bins: edges 2.75, 4.5, 6.25 (numpy's linear quantiles), two values per bin.
    # Batch 1,1,1,1,5,7,8,8 falls 4, 0, 1, 3 into them. With 0.5 added to every count (the small-count correction)
    # p = 2.5/10 per bin and q = 4.5/10, 0.5/10, 1.5/10, 3.5/10, so
    # PSI = .2 ln(1.8) + (-.2) ln(.2) + (-.1) ln(.6) + .1 ln(1.4) = 0.52417470...
    result = _numeric(np.arange(1.0, 9.0), np.array([1, 1, 1, 1, 5, 7, 8, 8], dtype=float), bins=4)
    assert result["bins"]["edges"] == [2.75, 4.5, 6.25]
    assert result["bins"]["reference"] == [2, 2, 2, 2]
    assert result["bins"]["batch"] == [4, 0, 1, 3]
    hand = 0.2 * math.log(1.8) - 0.2 * math.log(0.2) - 0.1 * math.log(0.6) + 0.1 * math.log(1.4)
    assert hand == pytest.approx(0.5241747, abs=1e-7)
    assert result["psi"] == pytest.approx(hand, rel=1e-12)


def test_psi_of_identical_distributions_is_zero_and_counts_without_correction_would_be_infinite() -> None:
    assert drift.psi([5, 5, 5], [10, 10, 10]) == pytest.approx(0.0, abs=1e-15)
    # An empty batch bin: finite with the correction, (10/102) ln(61/21) for these counts.
    assert drift.psi([10, 20, 30, 40], [20, 20, 20, 40]) == pytest.approx((10 / 102) * math.log(61 / 21), rel=1e-12)
    assert math.isfinite(drift.psi([10, 0], [0, 10]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_statistic_equals_scipy_ks_2samp_exactly_with_ties_and_missing_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = np.round(rng.normal(0, 1, 3000), 1)  # rounded: many ties on both sides
    batch = np.round(rng.normal(0.3, 1.2, 5000), 1)
    batch[::97] = np.nan
    result = _numeric(reference, batch)
    expected = stats.ks_2samp(reference, batch[~np.isnan(batch)], method="asymp")
    assert result["ks_exact"] is True
    assert result["ks"] == expected.statistic
    assert result["ks_p_value"] == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
    assert result["missing"] == int(np.isnan(batch).sum())


def test_ks_equals_scipy_on_german_credit_credit_amount_and_a_shifted_copy() -> None:
    amounts = german_table().column("credit_amount").to_numpy().astype(float)
    reference, batch = amounts[:600], amounts[600:] * 1.25
    result = _numeric(reference, batch)
    expected = stats.ks_2samp(reference, batch, method="asymp")
    assert result["ks"] == expected.statistic
    assert result["ks_p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    js = jensenshannon(result["bins"]["reference"], result["bins"]["batch"], base=2)
    assert result["js_distance"] == pytest.approx(js, rel=1e-12)


def test_ks_from_a_quantile_sketch_is_within_its_stated_bound() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(0, 1, 50_000)  # 50,000 distinct values: more than the exact limit below
    batch = rng.normal(0.05, 1, 20_000)
    result = _numeric(reference, batch, exact_max_distinct=1000, sketch_points=1001)
    exact = stats.ks_2samp(reference, batch).statistic
    assert result["ks_exact"] is False
    assert result["ks_error_bound"] == pytest.approx(1 / 1000)
    assert abs(result["ks"] - exact) <= result["ks_error_bound"]
    assert result["ks"] != exact  # it is an approximation, and says so


def test_chi_square_equals_scipy_chi2_contingency_with_unseen_and_missing_categories() -> None:
    reference = ["a"] * 50 + ["b"] * 30 + ["c"] * 20 + [None] * 5
    batch = ["a"] * 20 + ["b"] * 40 + ["d"] * 10 + [None] * 2
    profile = drift.categorical_reference(reference)
    accumulator = drift.CategoricalAccumulator(profile)
    accumulator.add(batch[:30])
    accumulator.add(batch[30:])
    result = drift.categorical_statistics(accumulator)
    # Columns: a, b, c, (other) (the unseen "d"), (missing).
    table = np.array([[50, 30, 20, 0, 5], [20, 40, 0, 10, 2]])
    expected = stats.chi2_contingency(table)
    assert result["categories"]["names"] == ["a", "b", "c", "(other)", "(missing)"]
    assert result["chi2"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["chi2_p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert result["chi2_dof"] == expected.dof == 4
    assert result["unseen_categories"] == {"d": 10}
    assert result["js_distance"] == pytest.approx(jensenshannon(table[0], table[1], base=2), rel=1e-12)
    assert result["psi"] == pytest.approx(drift.psi(table[0], table[1]), rel=1e-12)


def test_chi_square_on_adult_workclass_equals_scipy() -> None:
    train, test = adult_column("workclass", "adult.data"), adult_column("workclass", "adult.test")
    profile = drift.categorical_reference(train)
    accumulator = drift.CategoricalAccumulator(profile)
    accumulator.add(test)
    result = drift.categorical_statistics(accumulator)
    names = sorted(n for n in set(train) if n is not None)
    table = np.array([[train.count(n) for n in [*names, None]], [test.count(n) for n in [*names, None]]])
    expected = stats.chi2_contingency(table)
    assert result["categories"]["names"] == [*names, "(missing)"]
    assert result["chi2"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["chi2_p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_a_huge_category_label_is_cut_and_a_numeric_reference_needs_values() -> None:
    profile = drift.categorical_reference(["x" * 100_000, "y"])
    assert max(len(name) for name in profile["categories"]) == drift.MAX_LABEL_CHARS
    with pytest.raises(ValueError, match="no finite values"):
        drift.numeric_reference(np.array([np.nan, np.nan]))
