"""The group-metric kernel against fairlearn, aif360, scipy and scikit-learn on real data (German credit, Adult).

Every rate, every between-group summary and every pairwise summary is computed twice, once by the kernel from its
group confusion counts and once by the reference library on the same rows, and must agree to 1e-9. Where the
references follow different conventions (an undefined rate is 0 in fairlearn and NaN in aif360), the tests pin
which one the kernel follows and that ``zero_division=0.0`` reproduces fairlearn.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from aif360.datasets import BinaryLabelDataset
from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric
from fairlearn import metrics as flm
from scipy import stats as scipy_stats
from scipy.special import xlogy
from scipy.stats.contingency import association
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audits import metrics as km
from governance.data.demo import german_credit_csv
from tests import KNOWN_ANSWER_DATA

# Byte-for-byte public copies of the benchmark files, described (source, licence, checksums) in SOURCES.md there.
DATA = KNOWN_ANSWER_DATA
REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-9

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]


# ---------------------------------------------------------------------------------------------------------------
# Real evaluations: a small logistic regression's predictions on German credit and Adult
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Rows of a real data set with protected attributes, true labels, predictions and sample weights."""

    frame: pd.DataFrame  # protected columns, y_true, y_pred, weight
    privileged: Mapping[str, str]  # the privileged value of each protected column (aif360's examples' choice)


def _predict(features: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=0, max_iter=1000))
    model.fit(features.to_numpy(dtype=float), labels)
    return model.predict(features.to_numpy(dtype=float)).astype(np.int64)


@pytest.fixture(scope="module")
def german() -> Evaluation:
    raw = pd.read_csv(io.BytesIO(german_credit_csv()))
    assert len(raw) == 1000
    y_true = (raw["credit_risk"] == 1).astype(np.int64).to_numpy()  # 1 good, 2 bad (german.doc)
    features = raw[["duration_months", "credit_amount", "installment_rate", "residence_since", "age"]]
    frame = pd.DataFrame(
        {
            # Attribute 9: A91, A93, A94 male; A92, A95 female (aif360's GermanDataset mapping).
            "sex": np.where(raw["personal_status_sex"].isin(["A92", "A95"]), "female", "male"),
            "age": np.where(raw["age"] <= 25, "<=25", ">25"),
            "y_true": y_true,
            "y_pred": _predict(features, y_true),
            "weight": np.random.default_rng(9).uniform(0.5, 2.0, len(raw)),
        }
    )
    return Evaluation(frame=frame, privileged={"sex": "male", "age": ">25"})


@pytest.fixture(scope="module")
def adult() -> Evaluation:
    path = DATA / "adult.data"
    # A missing file fails the test: skipping would hide that the known answers were never checked.
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    raw = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    assert len(raw) == 32561
    y_true = (raw["income"] == ">50K").astype(np.int64).to_numpy()
    features = raw[["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]]
    frame = pd.DataFrame(
        {
            "sex": raw["sex"].to_numpy(dtype=object),
            "race": raw["race"].to_numpy(dtype=object),
            "y_true": y_true,
            "y_pred": _predict(features, y_true),
            "weight": raw["fnlwgt"].to_numpy(dtype=float),  # the census sampling weight: real weights
        }
    )
    return Evaluation(frame=frame, privileged={"sex": "Male", "race": "White"})


CASES = [
    ("german", ("sex",)),
    ("german", ("age",)),
    ("german", ("sex", "age")),
    ("adult", ("sex",)),
    ("adult", ("race",)),
    ("adult", ("sex", "race")),
]
CASE_IDS = [f"{name}-{'x'.join(columns)}" for name, columns in CASES]


@dataclass(frozen=True)
class Case:
    evaluation: Evaluation
    columns: tuple[str, ...]
    weighted: bool

    @property
    def frame(self) -> pd.DataFrame:
        return self.evaluation.frame

    @property
    def weights(self) -> np.ndarray | None:
        return self.frame["weight"].to_numpy() if self.weighted else None

    def groups(self) -> km.GroupIndex:
        return km.encode_groups({column: self.frame[column].to_numpy() for column in self.columns})

    def counts(self) -> km.GroupCounts:
        return km.confusion_by_group(
            y_true=self.frame["y_true"].to_numpy(),
            y_pred=self.frame["y_pred"].to_numpy(),
            groups=self.groups(),
            sample_weight=self.weights,
        )

    def sensitive_features(self) -> pd.Series | pd.DataFrame:
        if len(self.columns) == 1:
            return self.frame[self.columns[0]]
        return self.frame[list(self.columns)]

    def privileged(self) -> dict[str, str]:
        return {column: self.evaluation.privileged[column] for column in self.columns}

    def unprivileged(self) -> list[dict[str, str]]:
        """Everyone else: the union, over columns, of the rows with any other value (an aif360 list of dicts)."""
        return [
            {column: value}
            for column in self.columns
            for value in sorted(set(self.frame[column]))
            if value != self.evaluation.privileged[column]
        ]


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


# ---------------------------------------------------------------------------------------------------------------
# aif360: BinaryLabelDataset, ClassificationMetric, BinaryLabelDatasetMetric
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aif360View:
    truth: Any  # BinaryLabelDataset with the true labels
    predicted: Any  # the same with the predictions
    codes: dict[str, dict[str, int]]  # per protected column, value -> the number aif360 sees

    def condition(self, selector: Mapping[str, str] | Sequence[Mapping[str, str]]) -> list[dict[str, int]]:
        parts = [selector] if isinstance(selector, Mapping) else list(selector)
        return [{column: self.codes[column][value] for column, value in part.items()} for part in parts]

    def classification(self, *, privileged: Any, unprivileged: Any = None) -> Any:
        return ClassificationMetric(
            self.truth,
            self.predicted,
            privileged_groups=self.condition(privileged),
            unprivileged_groups=None if unprivileged is None else self.condition(unprivileged),
        )

    def dataset(self, *, privileged: Any, unprivileged: Any) -> Any:
        return BinaryLabelDatasetMetric(
            self.truth,
            privileged_groups=self.condition(privileged),
            unprivileged_groups=self.condition(unprivileged),
        )


def _aif360(case: Case) -> Aif360View:
    codes = {column: {value: i for i, value in enumerate(sorted(set(case.frame[column])))} for column in case.columns}
    data = pd.DataFrame({column: case.frame[column].map(codes[column]).astype(float) for column in case.columns})
    data["label"] = case.frame["y_true"].astype(float)
    data["weight"] = case.frame["weight"] if case.weighted else 1.0
    truth = BinaryLabelDataset(
        df=data,
        label_names=["label"],
        protected_attribute_names=list(case.columns),
        favorable_label=1.0,
        unfavorable_label=0.0,
        instance_weights_name="weight",
    )
    predicted = truth.copy(deepcopy=True)
    predicted.labels = case.frame["y_pred"].to_numpy(dtype=float).reshape(-1, 1)
    return Aif360View(truth=truth, predicted=predicted, codes=codes)


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


def test_two_group_summaries_where_fairlearn_and_aif360_coincide(german: Evaluation) -> None:
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


def test_impact_ratios_use_the_most_selected_group_and_equal_aif360_disparate_impact(adult: Evaluation) -> None:
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


# ---------------------------------------------------------------------------------------------------------------
# Edge cases and conventions
# ---------------------------------------------------------------------------------------------------------------


def _toy() -> dict[str, np.ndarray]:
    # Group "a" has no positive labels and no positive predictions; group "b" has everything.
    return {
        "group": np.array(["a", "a", "a", "b", "b", "b", "b"]),
        "y_true": np.array([0, 0, 0, 1, 1, 0, 1]),
        "y_pred": np.array([0, 0, 0, 1, 0, 1, 1]),
    }


def test_a_group_with_no_positives_is_nan_where_fairlearn_says_0_and_aif360_says_nan() -> None:
    toy = _toy()
    counts = km.confusion_by_group(
        y_true=toy["y_true"], y_pred=toy["y_pred"], groups=km.encode_groups({"group": toy["group"]})
    )
    assert np.isnan(km.true_positive_rate(counts).as_dict()["group=a"])
    assert np.isnan(km.false_negative_rate(counts)["group=a"])
    assert np.isnan(km.precision(counts)["group=a"])
    # fairlearn (via scikit-learn's confusion_matrix(normalize="true")) reports 0.0 for the same 0/0.
    frame = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fnr": flm.false_negative_rate},
        y_true=toy["y_true"],
        y_pred=toy["y_pred"],
        sensitive_features=toy["group"],
    )
    assert frame.by_group.loc["a"].tolist() == [0.0, 0.0]
    assert km.true_positive_rate(counts, zero_division=0.0)["group=a"] == 0.0
    # So fairlearn's summary counts group a as the worst-treated group; the NaN default leaves it out.
    fairlearn_gap = flm.equal_opportunity_difference(toy["y_true"], toy["y_pred"], sensitive_features=toy["group"])
    assert fairlearn_gap == pytest.approx(2 / 3)
    assert km.equal_opportunity_difference(counts, zero_division=0.0) == pytest.approx(fairlearn_gap)
    assert km.equal_opportunity_difference(counts) == 0.0  # only group b has a defined TPR
    assert km.equalized_odds_difference(counts, zero_division=0.0) == pytest.approx(
        flm.equalized_odds_difference(toy["y_true"], toy["y_pred"], sensitive_features=toy["group"])
    )
    # aif360 divides 0 by 0 (NaN, with a RuntimeWarning) for the four rates and guards precision with 0.0.
    case = Case(
        evaluation=Evaluation(
            frame=pd.DataFrame({"group": toy["group"], "y_true": toy["y_true"], "y_pred": toy["y_pred"]}),
            privileged={"group": "b"},
        ),
        columns=("group",),
        weighted=False,
    )
    metric = _aif360(case).classification(privileged={"group": "a"})
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(metric.true_positive_rate(privileged=True))
        assert np.isnan(metric.false_negative_rate(privileged=True))
        assert metric.positive_predictive_value(privileged=True) == 0.0
    assert km.precision(counts, zero_division=0.0)["group=a"] == 0.0
    # Pairwise: aif360's average odds difference is NaN when a side has no positives; so is ours.
    assert np.isnan(km.average_odds_difference(counts, unprivileged="group=a", privileged="group=b"))


def test_a_single_group_has_no_gap() -> None:
    toy = _toy()
    single = np.full(7, "everyone")
    counts = km.confusion_by_group(
        y_true=toy["y_true"], y_pred=toy["y_pred"], groups=km.encode_groups({"group": single})
    )
    assert counts.groups.names == ("group=everyone",)
    assert km.selection_rate(counts).by_group[0] == km.selection_rate(counts).overall == pytest.approx(3 / 7)
    arguments = {"y_true": toy["y_true"], "y_pred": toy["y_pred"], "sensitive_features": single}
    assert km.demographic_parity_difference(counts) == flm.demographic_parity_difference(**arguments) == 0.0
    assert km.demographic_parity_ratio(counts) == flm.demographic_parity_ratio(**arguments) == 1.0
    assert km.equalized_odds_difference(counts) == flm.equalized_odds_difference(**arguments) == 0.0
    assert km.impact_ratios(km.selection_rate(counts)).by_group.tolist() == [1.0]


def test_labels_other_than_0_and_1_are_refused_by_name(german: Evaluation) -> None:
    raw = pd.read_csv(io.BytesIO(german_credit_csv()))
    groups = km.encode_groups({"sex": german.frame["sex"]})
    # german.data codes the class 1 = good, 2 = bad: passing it unmapped must fail loudly, not count 2 as 1.
    with pytest.raises(ValueError, match=r"y_true must hold only 0 and 1 .*found 2"):
        km.confusion_by_group(y_true=raw["credit_risk"], y_pred=german.frame["y_pred"], groups=groups)
    with pytest.raises(ValueError, match=r"y_pred must hold only 0 and 1 .*found 'good', 'bad'"):
        km.confusion_by_group(
            y_true=german.frame["y_true"],
            y_pred=np.where(german.frame["y_pred"] == 1, "good", "bad"),
            groups=groups,
        )
    with pytest.raises(ValueError, match=r"found 0\.5"):
        km.confusion_by_group(y_true=np.array([0.0, 0.5]), y_pred=[0, 1], groups=km.encode_groups({"g": [1, 1]}))


def test_nan_in_predictions_is_refused() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b"]})
    with pytest.raises(ValueError, match=r"y_pred contains 1 NaN value"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=np.array([0.0, np.nan, 1.0]), groups=groups)


def test_inputs_of_the_wrong_shape_or_weight_are_refused() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b"]})
    with pytest.raises(ValueError, match="y_true has 2 rows but the groups have 3"):
        km.confusion_by_group(y_true=[0, 1], y_pred=[0, 1], groups=groups)
    with pytest.raises(ValueError, match="negative"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=[0, 1, 1], groups=groups, sample_weight=[1, -1, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=[0, 1, 1], groups=groups, sample_weight=[1, np.nan, 1])
    with pytest.raises(ValueError, match="has 2 rows, the first column has 3"):
        km.encode_groups({"a": [1, 2, 3], "b": [1, 2]})


def test_booleans_and_floats_count_like_integers() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b", "a"]})
    as_ints = km.confusion_by_group(y_true=[1, 0, 1, 1], y_pred=[1, 1, 0, 0], groups=groups)
    as_bools = km.confusion_by_group(y_true=[True, False, True, True], y_pred=[True, True, False, False], groups=groups)
    as_floats = km.confusion_by_group(y_true=[1.0, 0.0, 1.0, 1.0], y_pred=[1.0, 1.0, 0.0, 0.0], groups=groups)
    for counts in (as_bools, as_floats):
        for cell in ("tp", "fp", "tn", "fn"):
            np.testing.assert_array_equal(getattr(counts, cell), getattr(as_ints, cell))
    assert as_ints.tp.tolist() == [1, 0]
    assert as_ints.overall == km.ConfusionCounts(tp=1, fp=1, tn=0, fn=2)
    assert not as_ints.weighted


def test_missing_protected_values_raise_or_form_an_explicit_group() -> None:
    sex = pd.Series(["female", None, "male", "female", np.nan], dtype=object)
    with pytest.raises(ValueError, match=r"column 'sex' has 2 missing value"):
        km.encode_groups({"sex": sex})
    # fairlearn refuses them too.
    with pytest.raises(ValueError, match="missing values"):
        flm.MetricFrame(
            metrics=flm.selection_rate, y_true=[0, 1, 1, 0, 1], y_pred=[0, 1, 1, 0, 1], sensitive_features=sex
        )
    groups = km.encode_groups({"sex": sex}, missing="group")
    assert groups.names == ("sex=female", "sex=male", "sex=(missing)")
    assert groups.codes.tolist() == [0, 2, 1, 0, 2]
    assert groups.labels[-1] == (km.MISSING_LABEL,)


def test_intersections_keep_only_combinations_present_in_data_sorted_like_fairlearn(adult: Evaluation) -> None:
    groups = km.encode_groups({"sex": adult.frame["sex"], "race": adult.frame["race"]})
    expected = sorted(set(zip(adult.frame["sex"], adult.frame["race"], strict=True)))
    assert list(groups.labels) == expected
    assert groups.n_groups == 10
    assert groups.names[0] == "sex=Female, race=Amer-Indian-Eskimo"
    # Row codes round-trip to the row's values.
    labels = np.array([", ".join(label) for label in groups.labels])[groups.codes]
    assert labels[:3].tolist() == [
        f"{s}, {r}" for s, r in zip(adult.frame["sex"][:3], adult.frame["race"][:3], strict=True)
    ]
    # A combination that does not occur is not a group.
    sparse = km.encode_groups({"a": ["x", "x", "y"], "b": [1, 2, 1]})
    assert sparse.labels == (("x", 1), ("x", 2), ("y", 1))
    assert sparse.codes.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "values",
    [
        np.array([7, -3, 7, 0, 12, -3]),  # the counting-table path: integers in a compact range
        np.array([True, False, True]),
        np.array([3, 10**15, 3]),  # too wide a range for a table: hashed by pandas
        np.array(["b", "a", "c", "a"], dtype=object),
        pd.Categorical(["low", "high", "low"], categories=["low", "mid", "high"], ordered=True),
    ],
    ids=["ints", "bools", "wide-ints", "strings", "categorical"],
)
def test_every_kind_of_column_is_encoded_like_pandas_factorize(values: Any) -> None:
    codes, uniques = pd.factorize(values, sort=True)
    groups = km.encode_groups({"a": values})
    assert groups.codes.tolist() == codes.tolist()
    assert [label[0] for label in groups.labels] == uniques.tolist()
    assert all(type(label[0]) in (int, bool, str) for label in groups.labels)  # plain Python values


def test_group_selectors_name_positions_names_conditions_and_unions() -> None:
    groups = km.encode_groups({"sex": ["f", "m", "f", "m"], "age": ["young", "young", "old", "old"]})
    assert groups.names == ("sex=f, age=old", "sex=f, age=young", "sex=m, age=old", "sex=m, age=young")
    assert groups.select(0).tolist() == [True, False, False, False]
    assert groups.select("sex=m, age=old").tolist() == [False, False, True, False]
    assert groups.select({"sex": "f"}).tolist() == [True, True, False, False]
    assert groups.select([{"sex": "f"}, {"age": "young"}]).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="names no group"):
        groups.select({"sex": "x"})
    with pytest.raises(ValueError, match="unknown column"):
        groups.select({"colour": "red"})
    counts = km.confusion_by_group(y_true=[1, 1, 0, 0], y_pred=[1, 0, 1, 0], groups=groups)
    with pytest.raises(ValueError, match="disjoint"):
        km.disparate_impact(counts, unprivileged={"sex": "f"}, privileged={"age": "old"})


def test_rates_are_derived_from_the_counts() -> None:
    groups = km.encode_groups({"g": ["a"] * 10})
    y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])
    counts = km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)
    assert (counts.tp[0], counts.fp[0], counts.tn[0], counts.fn[0]) == (3, 1, 5, 1)
    assert km.selection_rate(counts).overall == 0.4
    assert km.true_positive_rate(counts).overall == 0.75
    assert km.false_positive_rate(counts).overall == pytest.approx(1 / 6)
    assert km.false_negative_rate(counts).overall == 0.25
    assert km.true_negative_rate(counts).overall == pytest.approx(5 / 6)
    assert km.precision(counts).overall == 0.75
    assert km.accuracy(counts).overall == 0.8
    assert km.base_rate(counts).overall == 0.4


def test_the_kernel_imports_neither_django_nor_heavy_libraries() -> None:
    heavy = ("django", "pandas", "scipy", "sklearn", "fairlearn", "aif360")
    code = f"import sys, audits.metrics; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


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


def test_wilson_interval_equals_scipy_binomtest(adult: Evaluation) -> None:
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


def test_z_test_equals_pearson_chi_squared_without_continuity_correction(german: Evaluation) -> None:
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
def test_cramers_v_and_mutual_information_equal_scipy_and_sklearn(adult: Evaluation, first: str, second: str) -> None:
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


def test_mutual_information_of_a_column_with_itself_is_its_entropy(german: Evaluation) -> None:
    sex = german.frame["sex"]
    shares = sex.value_counts(normalize=True).to_numpy()
    assert km.mutual_information(sex, sex) == pytest.approx(float(-(shares * np.log(shares)).sum()), rel=1e-12)
    assert km.mutual_information(sex, np.zeros(len(sex))) == 0.0
    with pytest.raises(ValueError, match="missing"):
        km.mutual_information(["a", None], [1, 2])
