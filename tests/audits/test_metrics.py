"""The group-metric kernel against fairlearn, aif360, scipy and scikit-learn on real data (German credit, Adult).

Every rate, every between-group summary and every pairwise summary is computed twice, once by the kernel from its
group confusion counts and once by the reference library on the same rows, and must agree to 1e-9. Where the
references follow different conventions (an undefined rate is 0 in fairlearn and NaN in aif360), the tests pin
which one the kernel follows and that ``zero_division=0.0`` reproduces fairlearn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
from aif360.metrics import BinaryLabelDatasetMetric
from fairlearn import metrics as flm
from scipy.special import xlogy

from audits import metrics as km
from tests.audits.metrics_helpers import (  # noqa: F401 - adult and german are fixtures used by name
    Case,
    Evaluation,
    _aif360,
    adult,
    german,
)

TOLERANCE = 1e-9

CASES = [
    ("german", ("sex",)),
    ("german", ("age",)),
    ("german", ("sex", "age")),
    ("adult", ("sex",)),
    ("adult", ("race",)),
    ("adult", ("sex", "race")),
]
CASE_IDS = [f"{name}-{'x'.join(columns)}" for name, columns in CASES]


@pytest.fixture(
    params=[(name, columns, weighted) for name, columns in CASES for weighted in (False, True)],
    ids=[f"{case_id}-{'weighted' if weighted else 'unweighted'}" for case_id in CASE_IDS for weighted in (False, True)],
)
def case(request: pytest.FixtureRequest) -> Case:
    name, columns, weighted = request.param
    return Case(evaluation=request.getfixturevalue(name), columns=columns, weighted=weighted)


def _label_key(label: tuple[Any, ...]) -> Any:
    return label[0] if len(label) == 1 else label


# ---------------------------------------------------------------------------------------------------------------
# fairlearn: MetricFrame per group and overall, and its summary functions
# ---------------------------------------------------------------------------------------------------------------

KERNEL_RATES: dict[str, Callable[..., km.GroupRates]] = {
    "selection_rate": km.selection_rate,
    "true_positive_rate": km.true_positive_rate,
    "false_positive_rate": km.false_positive_rate,
    "false_negative_rate": km.false_negative_rate,
    "true_negative_rate": km.true_negative_rate,
    "precision": km.precision,
    "accuracy": km.accuracy,
}


def _metric_frame(case: Case) -> Any:
    functions = {
        "selection_rate": flm.selection_rate,
        "true_positive_rate": flm.true_positive_rate,
        "false_positive_rate": flm.false_positive_rate,
        "false_negative_rate": flm.false_negative_rate,
        "true_negative_rate": flm.true_negative_rate,
        # zero_division=0.0 is what precision_score's default "warn" returns, without the warning.
        "precision": partial(skm.precision_score, zero_division=0.0),
        "accuracy": skm.accuracy_score,
    }
    sample_params = {name: {"sample_weight": case.weights} for name in functions} if case.weighted else None
    return flm.MetricFrame(
        metrics=functions,
        y_true=case.frame["y_true"].to_numpy(),
        y_pred=case.frame["y_pred"].to_numpy(),
        sensitive_features=case.sensitive_features(),
        sample_params=sample_params,
    )


def test_every_group_rate_equals_fairlearn_metricframe(case: Case) -> None:
    counts = case.counts()
    frame = _metric_frame(case)
    # MetricFrame lists every combination of values; those absent from the data are all-NaN rows, not groups.
    present = frame.by_group.dropna(how="all")
    assert [_label_key(label) for label in counts.groups.labels] == present.index.tolist()
    for name, rate in KERNEL_RATES.items():
        ours = rate(counts, zero_division=0.0)  # fairlearn's convention for 0/0
        np.testing.assert_allclose(ours.by_group, present[name].to_numpy(dtype=float), rtol=TOLERANCE, atol=TOLERANCE)
        assert ours.overall == pytest.approx(float(frame.overall[name]), rel=TOLERANCE, abs=TOLERANCE)
        # The default differs from it only where the rate is undefined.
        default = rate(counts).by_group
        assert np.array_equal(np.isnan(default), np.isnan(default) & (ours.by_group == 0))
        np.testing.assert_array_equal(default[~np.isnan(default)], ours.by_group[~np.isnan(default)])


def test_between_group_summaries_equal_fairlearn(case: Case) -> None:
    counts = case.counts()
    arguments = {
        "y_true": case.frame["y_true"].to_numpy(),
        "y_pred": case.frame["y_pred"].to_numpy(),
        "sensitive_features": case.sensitive_features(),
        "sample_weight": case.weights,
    }
    # Every group in these data has positive and negative labels, so the NaN default and fairlearn's 0 agree.
    assert np.all(counts.positives > 0)
    assert np.all(counts.negatives > 0)
    pairs = [
        (km.demographic_parity_difference(counts), flm.demographic_parity_difference(**arguments)),
        (km.demographic_parity_ratio(counts), flm.demographic_parity_ratio(**arguments)),
        (km.equalized_odds_difference(counts), flm.equalized_odds_difference(**arguments)),
        (km.equalized_odds_difference(counts, agg="mean"), flm.equalized_odds_difference(**arguments, agg="mean")),
        (km.equalized_odds_ratio(counts), flm.equalized_odds_ratio(**arguments)),
        (km.equalized_odds_ratio(counts, agg="mean"), flm.equalized_odds_ratio(**arguments, agg="mean")),
        (km.equal_opportunity_difference(counts), flm.equal_opportunity_difference(**arguments)),
        (km.equal_opportunity_ratio(counts), flm.equal_opportunity_ratio(**arguments)),
    ]
    for ours, theirs in pairs:
        assert ours == pytest.approx(float(theirs), rel=TOLERANCE, abs=TOLERANCE)
    assert 0 < km.demographic_parity_difference(counts) < 1  # the data give a real, non-trivial gap


def test_every_group_rate_and_count_equals_aif360(case: Case) -> None:
    counts = case.counts()
    view = _aif360(case)
    rates = {name: rate(counts) for name, rate in KERNEL_RATES.items()}
    base = km.base_rate(counts)
    for group, label in enumerate(counts.groups.labels):
        selector = dict(zip(case.columns, label, strict=True))
        metric = view.classification(privileged=selector)
        expected = {
            "selection_rate": metric.selection_rate(privileged=True),
            "true_positive_rate": metric.true_positive_rate(privileged=True),
            "false_positive_rate": metric.false_positive_rate(privileged=True),
            "false_negative_rate": metric.false_negative_rate(privileged=True),
            "true_negative_rate": metric.true_negative_rate(privileged=True),
            "precision": metric.positive_predictive_value(privileged=True),
            "accuracy": metric.accuracy(privileged=True),
        }
        for name, value in expected.items():
            assert rates[name].by_group[group] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), name
        confusion = metric.binary_confusion_matrix(privileged=True)
        for cell in ("tp", "fp", "tn", "fn"):
            assert getattr(counts, cell)[group] == pytest.approx(confusion[cell.upper()], rel=TOLERANCE)
        dataset_metric = BinaryLabelDatasetMetric(view.truth, privileged_groups=view.condition(selector))
        assert base.by_group[group] == pytest.approx(dataset_metric.base_rate(privileged=True), rel=TOLERANCE)
    overall = view.classification(privileged=case.privileged())
    assert rates["true_positive_rate"].overall == pytest.approx(overall.true_positive_rate(), rel=TOLERANCE)
    assert rates["selection_rate"].overall == pytest.approx(overall.selection_rate(), rel=TOLERANCE)
    assert base.overall == pytest.approx(overall.base_rate(), rel=TOLERANCE)


def test_pairwise_summaries_equal_aif360(case: Case) -> None:
    counts = case.counts()
    view = _aif360(case)
    privileged, unprivileged = case.privileged(), case.unprivileged()
    metric = view.classification(privileged=privileged, unprivileged=unprivileged)
    dataset_metric = view.dataset(privileged=privileged, unprivileged=unprivileged)
    sides = {"unprivileged": unprivileged, "privileged": privileged}
    pairs = [
        (km.disparate_impact(counts, **sides), metric.disparate_impact()),
        (km.statistical_parity_difference(counts, **sides), metric.statistical_parity_difference()),
        (km.average_odds_difference(counts, **sides), metric.average_odds_difference()),
        (km.disparate_impact(counts, **sides, rate="base_rate"), dataset_metric.disparate_impact()),
        (
            km.statistical_parity_difference(counts, **sides, rate="base_rate"),
            dataset_metric.statistical_parity_difference(),
        ),
    ]
    for ours, theirs in pairs:
        assert ours == pytest.approx(float(theirs), rel=TOLERANCE, abs=TOLERANCE)
    if not case.weighted:
        # aif360's inequality indices ignore instance weights, so they are compared on unweighted rows only.
        assert km.theil_index(counts) == pytest.approx(metric.theil_index(), rel=TOLERANCE)
        assert km.generalized_entropy_index(counts, alpha=2) == pytest.approx(
            metric.generalized_entropy_index(alpha=2), rel=TOLERANCE
        )
        assert math.sqrt(2 * km.generalized_entropy_index(counts, alpha=2)) == pytest.approx(
            metric.coefficient_of_variation(), rel=TOLERANCE
        )
        assert km.generalized_entropy_index(counts, alpha=0.5) == pytest.approx(
            metric.generalized_entropy_index(alpha=0.5), rel=TOLERANCE
        )


def test_theil_index_with_weights_is_the_weighted_mean_of_the_per_row_formula(case: Case) -> None:
    counts = case.counts()
    benefit = (case.frame["y_pred"] - case.frame["y_true"] + 1).to_numpy(dtype=float)
    weights = case.weights if case.weights is not None else np.ones_like(benefit)
    mean = np.average(benefit, weights=weights)
    expected = np.average(xlogy(benefit / mean, benefit / mean), weights=weights)
    assert km.theil_index(counts) == pytest.approx(expected, rel=TOLERANCE)


def test_two_group_summaries_where_fairlearn_and_aif360_coincide(german: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    """With two groups fairlearn's unsigned spreads are the absolute values of aif360's signed differences."""
    case = Case(evaluation=german, columns=("sex",), weighted=False)
    counts = case.counts()
    metric = _aif360(case).classification(privileged={"sex": "male"}, unprivileged={"sex": "female"})
    assert km.equal_opportunity_difference(counts) == pytest.approx(abs(metric.equal_opportunity_difference()))
    assert km.equalized_odds_difference(counts) == pytest.approx(metric.equalized_odds_difference())
    assert km.demographic_parity_difference(counts) == pytest.approx(abs(metric.statistical_parity_difference()))
    # The signed aif360 value keeps the direction: female applicants' approvals minus male applicants'.
    assert km.statistical_parity_difference(counts, unprivileged="sex=female", privileged="sex=male") == pytest.approx(
        metric.statistical_parity_difference()
    )


def test_impact_ratios_use_the_most_selected_group_and_equal_aif360_disparate_impact(adult: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    case = Case(evaluation=adult, columns=("sex", "race"), weighted=False)
    counts = case.counts()
    rates = km.selection_rate(counts)
    ratios = km.impact_ratios(rates)
    most_selected = int(np.argmax(rates.by_group))
    assert ratios.reference == most_selected
    assert ratios.by_group[most_selected] == 1.0
    assert np.all(ratios.by_group <= 1.0)
    np.testing.assert_allclose(ratios.by_group, rates.by_group / rates.by_group.max(), rtol=1e-15)
    view = _aif360(case)
    reference = dict(zip(case.columns, counts.groups.labels[most_selected], strict=True))
    for group, label in enumerate(counts.groups.labels):
        if group == most_selected:
            continue
        metric = view.classification(privileged=reference, unprivileged=dict(zip(case.columns, label, strict=True)))
        assert ratios.by_group[group] == pytest.approx(metric.disparate_impact(), rel=TOLERANCE)
    chosen = km.impact_ratios(rates, reference="sex=Female, race=White")
    assert chosen.reference_name == "sex=Female, race=White"
    assert chosen.as_dict()["sex=Female, race=White"] == 1.0
