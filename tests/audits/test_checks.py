"""The audit checks and the verdict, called directly on evaluations built from Arrow tables (no database).

Known answers come from outside the project: on UCI German credit, with a seeded logistic regression's decisions,
impact ratios equal aif360's disparate impact, selection rates and between-group summaries equal fairlearn's,
intervals equal scipy's Wilson intervals and performance figures equal scikit-learn's. The behaviour tests use
small tables whose group rates are chosen so that each rule (four-fifths, minimum group size, the LL144 2% share,
the median split of scoring rates, the reference group, intersections, data quality, the verdict) decides alone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from aif360.datasets import BinaryLabelDataset
from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric
from fairlearn import metrics as flm
from scipy.stats import binomtest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from audits.checks.base import FAIL, INSUFFICIENT, PASS, CheckContext, CheckOutcome
from audits.checks.data_quality import DataQualityCheck
from audits.checks.disparate_impact import DisparateImpactCheck
from audits.checks.fairness import GroupFairnessCheck
from audits.checks.performance import PerformanceCheck
from audits.engine import decide, evaluate
from audits.evaluation import ColumnRoles, Evaluation, build_evaluation
from audits.policies import builtin_policies, load_policy
from governance.data.demo import german_credit_csv
from governance.data.ingest import inspect_file
from tests.audits.conftest import FAILING_RATES, decision_rows, rows_csv

TOLERANCE = 1e-12
NUMERIC = ["duration_months", "credit_amount", "installment_rate", "residence_since", "age", "existing_credits"]
GERMAN_GROUPS = {"sex": ("female", "male"), "age_group": ("<=25", ">25")}


def settings_of(policy: str, check: str) -> dict[str, Any]:
    """A built-in policy's settings for one check, as the engine hands them over."""
    return dict(load_policy(builtin_policies()[policy]).document["checks"][check])


FOUR_FIFTHS = settings_of("four-fifths", "disparate_impact")
NYC_LL144 = settings_of("nyc-ll144", "disparate_impact")


# --- German credit with a seeded model's decisions -------------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> pa.Table:
    """UCI German credit (1000 rows) with ``sex`` and ``age_group`` as aif360's GermanDataset derives them, and a
    seeded logistic regression's decision (``prediction``, coded as the label: 1 good, 2 bad) and ``score``
    (the probability of good credit)."""
    table = pacsv.read_csv(io.BytesIO(german_credit_csv()))
    assert table.num_rows == 1000
    # Attribute 9: A91, A93, A94 male; A92, A95 female. Age: 25 or younger is aif360's unprivileged group.
    sex = ["female" if code in ("A92", "A95") else "male" for code in table["personal_status_sex"].to_pylist()]
    age_group = ["<=25" if age <= 25 else ">25" for age in table["age"].to_pylist()]
    features = np.column_stack([table[name].to_numpy() for name in NUMERIC]).astype(float)
    labels = table["credit_risk"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=0))
    with threadpool_limits(limits=1):  # the same numbers on any machine
        model.fit(features, labels)
        predicted = model.predict(features)
        score = model.predict_proba(features)[:, list(model.classes_).index(1)]
    for name, column in (("sex", sex), ("age_group", age_group), ("prediction", predicted), ("score", score)):
        table = table.append_column(name, pa.array(column))
    return table


def german_evaluation(table: pa.Table, **roles: Any) -> Evaluation:
    defaults: dict[str, Any] = {"label": "credit_risk", "protected": ("sex", "age_group"), "prediction": "prediction"}
    return build_evaluation(table, ColumnRoles(**{**defaults, **roles}))


def german_frame(table: pa.Table, *, by_score: bool = False) -> pd.DataFrame:
    """The same rows as plain 0/1 columns for the reference libraries (favourable = good credit = 1)."""
    y_pred = table["score"].to_numpy() >= 0.5 if by_score else table["prediction"].to_numpy() == 1
    return pd.DataFrame(
        {
            "sex": table["sex"].to_pylist(),
            "age_group": table["age_group"].to_pylist(),
            "y_true": (table["credit_risk"].to_numpy() == 1).astype(int),
            "y_pred": y_pred.astype(int),
            "score": table["score"].to_numpy(),
        }
    )


def rows_by_group(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["group"]: row for row in report["groups"]}


def grouping(outcome: CheckOutcome, name: str) -> dict[str, Any]:
    (found,) = [g for g in outcome.details["groupings"] if g["grouping"] == name]
    return found


def aif360_disparate_impact(frame: pd.DataFrame, attribute: str, *, unprivileged: str, privileged: str) -> float:
    """aif360's disparate impact of the decisions, from ClassificationMetric and BinaryLabelDatasetMetric (which
    must agree): P(favourable | unprivileged) / P(favourable | privileged)."""
    codes = {unprivileged: 0.0, privileged: 1.0}
    data = pd.DataFrame({attribute: frame[attribute].map(codes), "label": frame["y_true"].astype(float)})
    truth = BinaryLabelDataset(
        df=data,
        label_names=["label"],
        protected_attribute_names=[attribute],
        favorable_label=1.0,
        unfavorable_label=0.0,
    )
    decided = truth.copy(deepcopy=True)
    decided.labels = frame["y_pred"].to_numpy(dtype=float).reshape(-1, 1)
    groups = {"unprivileged_groups": [{attribute: 0.0}], "privileged_groups": [{attribute: 1.0}]}
    by_classification = ClassificationMetric(truth, decided, **groups).disparate_impact()
    by_dataset = BinaryLabelDatasetMetric(decided, **groups).disparate_impact()
    assert by_classification == pytest.approx(by_dataset, rel=TOLERANCE)
    return float(by_classification)


@pytest.mark.parametrize(
    ("attribute", "reference"),
    [
        ("sex", "male"),  # aif360's privileged group
        ("sex", "female"),
        ("age_group", ">25"),  # aif360's privileged group
        pytest.param("age_group", "<=25"),
    ],
)
def test_impact_ratios_equal_aif360_disparate_impact_and_fairlearn_selection_rates(
    german: pa.Table, attribute: str, reference: str
) -> None:
    frame = german_frame(german)
    fairlearn_rates = flm.MetricFrame(
        metrics=flm.selection_rate, y_true=frame["y_true"], y_pred=frame["y_pred"], sensitive_features=frame[attribute]
    ).by_group
    (other,) = [g for g in GERMAN_GROUPS[attribute] if g != reference]
    evaluation = german_evaluation(german, reference_groups={attribute: reference})

    outcome = DisparateImpactCheck().run(evaluation, FOUR_FIFTHS, CheckContext(intersections=False))

    report = grouping(outcome, attribute)
    assert report["reference_group"] == f"{attribute}={reference}"
    rows = rows_by_group(report)
    expected = aif360_disparate_impact(frame, attribute, unprivileged=other, privileged=reference)
    assert rows[f"{attribute}={other}"]["impact_ratio"] == pytest.approx(expected, rel=TOLERANCE)
    assert rows[f"{attribute}={reference}"]["impact_ratio"] == 1.0
    for group in GERMAN_GROUPS[attribute]:
        row = rows[f"{attribute}={group}"]
        assert row["selection_rate"] == pytest.approx(fairlearn_rates[group], rel=TOLERANCE)
        assert row["count"] == int((frame[attribute] == group).sum())


def test_intersection_selection_rates_equal_fairlearn(german: pa.Table) -> None:
    frame = german_frame(german)
    by_group = flm.MetricFrame(
        metrics=flm.selection_rate,
        y_true=frame["y_true"],
        y_pred=frame["y_pred"],
        sensitive_features=frame[["sex", "age_group"]],
    ).by_group

    outcome = DisparateImpactCheck().run(german_evaluation(german), FOUR_FIFTHS, CheckContext(intersections=True))

    rows = rows_by_group(grouping(outcome, "sex x age_group"))
    assert len(rows) == 4
    for (sex, age), rate in by_group.items():
        assert rows[f"sex={sex}, age_group={age}"]["selection_rate"] == pytest.approx(rate, rel=TOLERANCE)
    # Without a named reference, the reference is the highest rate among the groups large enough to judge.
    reference = max(
        (row for row in rows.values() if not row["below_min_group_size"]), key=lambda r: r["selection_rate"]
    )
    assert reference["reference"] is True
    assert reference["impact_ratio"] == 1.0


@pytest.mark.parametrize("columns", [("sex",), ("age_group",), ("sex", "age_group")], ids="x".join)
def test_group_fairness_summaries_equal_fairlearn(german: pa.Table, columns: tuple[str, ...]) -> None:
    frame = german_frame(german)
    sensitive = frame[list(columns)] if len(columns) > 1 else frame[columns[0]]
    arguments = {"y_true": frame["y_true"], "y_pred": frame["y_pred"], "sensitive_features": sensitive}
    settings = settings_of("baseline", "group_fairness")

    outcome = GroupFairnessCheck().run(german_evaluation(german), settings, CheckContext(intersections=True))

    report = grouping(outcome, " x ".join(columns))
    assert all(not row["below_min_group_size"] for row in report["groups"])  # every group is judged
    summary = report["summary"]
    assert summary["demographic_parity_difference"] == pytest.approx(
        flm.demographic_parity_difference(**arguments), abs=TOLERANCE
    )
    assert summary["demographic_parity_ratio"] == pytest.approx(
        flm.demographic_parity_ratio(**arguments), abs=TOLERANCE
    )
    assert summary["equalized_odds_difference"] == pytest.approx(
        flm.equalized_odds_difference(**arguments), abs=TOLERANCE
    )
    assert summary["equal_opportunity_difference"] == pytest.approx(
        flm.equal_opportunity_difference(**arguments), abs=TOLERANCE
    )
    by_group = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate}, **arguments
    ).by_group
    for key, expected in by_group.iterrows():
        labels = key if isinstance(key, tuple) else (key,)
        name = ", ".join(f"{c}={v}" for c, v in zip(columns, labels, strict=True))
        row = rows_by_group(report)[name]
        assert row["true_positive_rate"] == pytest.approx(expected["tpr"], abs=TOLERANCE)
        assert row["false_positive_rate"] == pytest.approx(expected["fpr"], abs=TOLERANCE)


def test_wilson_intervals_equal_scipy_and_contain_the_rate(german: pa.Table) -> None:
    frame = german_frame(german)
    evaluation = german_evaluation(german)
    context = CheckContext(intersections=True, confidence_level=0.9)

    impact = DisparateImpactCheck().run(evaluation, FOUR_FIFTHS, context)
    fairness = GroupFairnessCheck().run(evaluation, settings_of("baseline", "group_fairness"), context)

    checked = 0
    for report in impact.details["groupings"]:
        for row in report["groups"]:
            low, high = row["selection_rate_interval"]
            expected = binomtest(row["selected"], row["count"]).proportion_ci(confidence_level=0.9, method="wilson")
            assert (low, high) == pytest.approx((expected.low, expected.high), abs=TOLERANCE)
            assert low <= row["selection_rate"] <= high
            checked += 1
    for report in fairness.details["groupings"]:
        for row in report["groups"]:
            mask = np.ones(len(frame), dtype=bool)
            for part in row["group"].split(", "):
                column, value = part.split("=", 1)
                mask &= (frame[column] == value).to_numpy()
            positives = frame[mask & (frame["y_true"] == 1).to_numpy()]
            expected = binomtest(int(positives["y_pred"].sum()), len(positives)).proportion_ci(
                confidence_level=0.9, method="wilson"
            )
            low, high = row["true_positive_rate_interval"]
            assert (low, high) == pytest.approx((expected.low, expected.high), abs=TOLERANCE)
            assert low <= row["true_positive_rate"] <= high
            checked += 1
    assert checked == 16  # (2 + 2 + 4 groups) in each check


def test_performance_figures_equal_scikit_learn(german: pa.Table) -> None:
    frame = german_frame(german, by_score=True)
    evaluation = german_evaluation(german, prediction="", score="score", threshold=0.5)

    outcome = PerformanceCheck().run(evaluation, settings_of("baseline", "performance"), CheckContext())

    def expected(rows: pd.DataFrame) -> dict[str, float]:
        y_true, y_pred, score = rows["y_true"], rows["y_pred"], rows["score"]
        return {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "precision": skm.precision_score(y_true, y_pred),
            "recall": skm.recall_score(y_true, y_pred),
            "f1": skm.f1_score(y_true, y_pred),
            "roc_auc": skm.roc_auc_score(y_true, score),
            "brier": skm.brier_score_loss(y_true, score),
        }

    assert outcome.details["overall"] == pytest.approx(expected(frame), abs=TOLERANCE)
    for attribute, groups in GERMAN_GROUPS.items():
        for group in groups:
            figures = dict(outcome.details["per_group"][f"{attribute}={group}"])
            assert figures.pop("count") == int((frame[attribute] == group).sum())
            assert figures.pop("below_min_group_size") is False
            assert figures == pytest.approx(expected(frame[frame[attribute] == group]), abs=TOLERANCE)
    assert outcome.outcome == PASS  # baseline asks for a ROC AUC of at least 0.5
    assert outcome.details["thresholds"][0]["metric"] == "roc_auc"


# --- disparate impact: the rules, one at a time ----------------------------------------------------------------


def synthetic(
    rates: Mapping[str, tuple[int, int]], *, column: str = "sex", score: bool = False, **roles: Any
) -> Evaluation:
    """An evaluation from ``decision_rows``: per group ``(rows, favourable decisions)``."""
    table = pa.Table.from_pylist(decision_rows(rates, column=column))
    decisions = {"score": "score", "threshold": 0.5} if score else {"prediction": "prediction"}
    return build_evaluation(table, ColumnRoles(label="label", protected=(column,), **{**decisions, **roles}))


def impact(
    evaluation: Evaluation, settings: Mapping[str, Any] = FOUR_FIFTHS, **context: Any
) -> tuple[CheckOutcome, dict[str, dict[str, Any]]]:
    outcome = DisparateImpactCheck().run(evaluation, settings, CheckContext(**context))
    return outcome, rows_by_group(outcome.details["groupings"][0])


@pytest.mark.parametrize(
    ("rates", "significance"),
    [
        ({"F": (100, 25), "M": (100, 50)}, "significant, two proportion z p="),
        ({"F": (40, 14), "M": (40, 20)}, "not statistically significant, two proportion z p="),
    ],
    ids=["significant", "not-significant"],
)
def test_four_fifths_fails_a_large_group_below_0_8_and_says_whether_it_is_significant(
    rates: dict[str, tuple[int, int]], significance: str
) -> None:
    outcome, rows = impact(synthetic(rates))

    ratio = (rates["F"][1] / rates["F"][0]) / (rates["M"][1] / rates["M"][0])
    assert outcome.outcome == FAIL
    assert outcome.reason.startswith(f"sex=F: impact ratio {ratio:.3f} against sex=M is below 0.8 ({significance}")
    assert rows["sex=F"]["impact_ratio"] == pytest.approx(ratio)
    assert rows["sex=F"]["passes_four_fifths"] is False
    assert rows["sex=F"]["significant"] is (significance.startswith("significant"))
    assert rows["sex=M"]["reference"] is True


def test_a_small_group_below_0_8_is_insufficient_evidence_not_a_pass() -> None:
    outcome, rows = impact(synthetic({"F": (100, 50), "M": (10, 3)}))

    assert outcome.outcome == INSUFFICIENT
    assert "sex=M: impact ratio 0.600 is below 0.8, but the group has only 10 rows (minimum 30)" in outcome.reason
    assert rows["sex=M"]["below_min_group_size"] is True
    assert rows["sex=M"]["test"] == "fisher_exact"  # expected counts below 5: the exact test


def test_a_group_under_the_ll144_share_is_left_out_only_with_the_auditors_justification() -> None:
    """6 RCNY 5-301(d): a category under 2% *may* be excluded, with the auditor's justification in the summary and
    its count and rate still reported. Without a justification it is judged like any other category."""
    rates = {"A": (500, 250), "B": (490, 240), "C": (10, 0)}
    justification = "C is 1% of applicants; its rate rests on 10 people."

    outcome, rows = impact(synthetic(rates, column="race"), NYC_LL144, min_group_size=5)
    assert outcome.outcome == FAIL
    assert outcome.reason.startswith("race=C: impact ratio 0.000")
    assert rows["race=C"]["status"] == "judged"
    assert rows["race=C"]["excluded_below_share"] is False

    justified = synthetic(rates, column="race", exclusions={"race=C": justification})
    outcome, rows = impact(justified, NYC_LL144, min_group_size=5)
    assert outcome.outcome == PASS
    assert rows["race=C"]["status"] == "excluded_below_share"
    assert rows["race=C"]["excluded_below_share"] is True
    assert rows["race=C"]["exclusion_justification"] == justification
    assert (rows["race=C"]["count"], rows["race=C"]["share"], rows["race=C"]["selection_rate"]) == (10, 0.01, 0.0)
    assert rows["race=C"]["impact_ratio"] == 0.0  # reported, not judged
    assert rows["race=C"]["passes"] is None
    assert outcome.details["thresholds"]["exclude_groups_below_share"]["exact"] == "1/50"
    # A justification for a group at or above 2% excludes nothing.
    over = synthetic(rates, column="race", exclusions={"race=B": justification})
    assert impact(over, NYC_LL144, min_group_size=5)[1]["race=B"]["status"] in ("judged", "reference")


def test_a_ratio_above_0_8_with_a_significant_difference_is_noted_in_its_row() -> None:
    outcome, rows = impact(synthetic({"F": (5000, 2250), "M": (5000, 2500)}))

    assert outcome.outcome == PASS
    assert rows["sex=F"]["impact_ratio"] == pytest.approx(0.9)
    assert rows["sex=F"]["significant"] is True
    assert rows["sex=F"]["note"] == "at or above the ratio threshold, but the difference is statistically significant"
    assert "note" not in impact(synthetic({"F": (100, 45), "M": (100, 50)}))[1]["sex=F"]


def test_ll144_scoring_rates_split_the_scores_at_the_sample_median() -> None:
    rows = decision_rows(FAILING_RATES)
    scores = np.array([float(row["score"]) for row in rows])
    median = float(np.median(scores))
    expected = {
        f"sex={sex}": float(np.mean([float(r["score"]) > median for r in rows if r["sex"] == sex])) for sex in "FM"
    }

    outcome, found = impact(synthetic(FAILING_RATES, score=True), NYC_LL144)

    assert outcome.details["rate"] == "scoring_rate"  # by_output with a score and no decision column
    assert {group: row["selection_rate"] for group, row in found.items()} == pytest.approx(expected)
    assert found["sex=F"]["selection_rate"] != pytest.approx(0.25)  # not the thresholded decisions
    # With a decision column, by_output judges selection rates.
    outcome, found = impact(synthetic(FAILING_RATES), NYC_LL144)
    assert outcome.details["rate"] == "selection_rate"
    assert found["sex=F"]["selection_rate"] == pytest.approx(0.25)
    # Scoring rates need scores.
    settings = {**FOUR_FIFTHS, "rate": "scoring_rate"}
    outcome = DisparateImpactCheck().run(synthetic(FAILING_RATES), settings, CheckContext())
    assert outcome.outcome == INSUFFICIENT
    assert "no score column" in outcome.reason


def test_the_reference_group_is_the_highest_rate_unless_one_is_named() -> None:
    rates = {"F": (100, 60), "M": (100, 40)}

    outcome, rows = impact(synthetic(rates))
    assert [g for g, row in rows.items() if row["reference"]] == ["sex=F"]
    assert rows["sex=M"]["impact_ratio"] == pytest.approx(40 / 60)
    assert outcome.outcome == FAIL

    # A reference named in the column roles, or in the policy, is the reference whatever its rate.
    named_in_roles = (synthetic(rates, reference_groups={"sex": "M"}), FOUR_FIFTHS)
    named_in_policy = (synthetic(rates), {**FOUR_FIFTHS, "reference_group": {"sex": "M"}})
    for evaluation, settings in (named_in_roles, named_in_policy):
        outcome, rows = impact(evaluation, settings)
        assert [g for g, row in rows.items() if row["reference"]] == ["sex=M"]
        assert rows["sex=F"]["impact_ratio"] == pytest.approx(1.5)
        assert outcome.outcome == PASS


def test_undefined_impact_ratios_are_insufficient_evidence_not_a_pass() -> None:
    outcome, rows = impact(synthetic({"F": (100, 0), "M": (100, 0)}))

    assert rows["sex=F"]["impact_ratio"] is None
    assert outcome.outcome == INSUFFICIENT


# --- group fairness: what it cannot judge -----------------------------------------------------------------------


def test_group_fairness_without_enough_evidence_is_insufficient_not_a_pass() -> None:
    settings = settings_of("baseline", "group_fairness")  # parity and odds gaps at most 0.2, intervals 0.3 wide

    # Equal rates, but only one group is large enough to compare.
    outcome = GroupFairnessCheck().run(synthetic({"F": (100, 50), "M": (20, 10)}), settings, CheckContext())
    assert outcome.outcome == INSUFFICIENT
    assert "sex: fewer than two groups have 30 rows or more" in outcome.reason
    assert "summary" not in outcome.details["groupings"][0]

    # Equal rates in groups of 40: each selection-rate interval is wider than a policy asking for 0.2 allows.
    narrow = {**settings, "max_interval_width": {**settings["max_interval_width"], "value": 0.2}}
    outcome = GroupFairnessCheck().run(synthetic({"F": (40, 20), "M": (40, 20)}), narrow, CheckContext())
    assert outcome.outcome == INSUFFICIENT
    assert "the selection-rate interval of sex=F, sex=M is wider than 0.2" in outcome.reason
    # The same data under the baseline's 0.3 passes: the numbers, not the wording, decide.
    assert GroupFairnessCheck().run(synthetic({"F": (40, 20), "M": (40, 20)}), settings, CheckContext()).outcome == PASS


# --- intersections and the engine ------------------------------------------------------------------------------


def two_attribute_table() -> pa.Table:
    return pa.Table.from_pylist(decision_rows({"F": (100, 45), "M": (100, 50)}))


def test_intersections_are_reported_only_when_the_policy_allows_them() -> None:
    evaluation = build_evaluation(
        two_attribute_table(), ColumnRoles(label="label", protected=("sex", "age_band"), prediction="prediction")
    )
    document = load_policy(builtin_policies()["four-fifths"]).document
    assert document["intersections"] is False

    without = evaluate(evaluation, document).results["checks"]["disparate_impact"]
    with_them = evaluate(evaluation, {**document, "intersections": True}).results["checks"]["disparate_impact"]

    assert [g["grouping"] for g in without["groupings"]] == ["sex", "age_band"]
    assert [g["grouping"] for g in with_them["groupings"]] == ["sex", "age_band", "sex x age_band"]
    names = [row["group"] for row in with_them["groupings"][2]["groups"]]
    assert names == ["sex=F, age_band=<40", "sex=F, age_band=>=40", "sex=M, age_band=<40", "sex=M, age_band=>=40"]


def test_a_policy_listing_intersections_gets_exactly_those() -> None:
    table = two_attribute_table()
    table = table.append_column("race", pa.array(["A", "B"] * (table.num_rows // 2)))
    evaluation = build_evaluation(
        table, ColumnRoles(label="label", protected=("sex", "race", "age_band"), prediction="prediction")
    )
    document = load_policy(builtin_policies()["nyc-ll144"]).document
    document = {**document, "intersections": [["sex", "race"]]}

    found = evaluate(evaluation, document).results["checks"]["disparate_impact"]

    assert [g["grouping"] for g in found["groupings"]] == ["sex", "race", "age_band", "sex x race"]


def test_the_engine_runs_a_policy_and_stamps_its_libraries() -> None:
    evaluation = synthetic(FAILING_RATES)

    outcome = evaluate(evaluation, load_policy(builtin_policies()["four-fifths"]).document)

    assert outcome.verdict == FAIL
    assert outcome.reasons[0].startswith("disparate_impact: sex=F: impact ratio 0.500")
    assert outcome.results["rows"] == 200
    assert outcome.results["checks"]["disparate_impact"]["outcome"] == FAIL
    assert {"numpy", "scikit-learn", "fairlearn"} <= set(outcome.library_versions)


# --- data quality ----------------------------------------------------------------------------------------------


def test_data_quality_fails_on_missing_values_and_small_groups(tmp_path: Path) -> None:
    rows = decision_rows({"A": (90, 45), "B": (10, 5)}, column="race")
    for row in rows[:30]:
        row["income"] = ""  # 30% missing
    path = tmp_path / "evaluation.csv"
    path.write_bytes(rows_csv(rows))
    profile = inspect_file(path, fmt="csv").profile
    evaluation = build_evaluation(
        pa.Table.from_pylist(rows), ColumnRoles(label="label", protected=("race",), prediction="prediction")
    )
    evaluation.profile = profile
    basis = {"text": "A test threshold.", "citation": "Test suite"}
    settings = {
        "required": True,
        "max_missing_fraction": {"value": 0.2, "comparison": "max", "basis": basis},
        "min_group_share": {"value": 0.15, "comparison": "min", "basis": basis},
    }

    outcome = DataQualityCheck().run(evaluation, settings, CheckContext())

    assert outcome.outcome == FAIL
    assert "column 'income' is 30.0% missing (at most 20.0%)" in outcome.reason
    assert "race=B is 10.0% of the rows (at least 15.0%)" in outcome.reason
    assert outcome.details["missing_fraction"]["income"] == pytest.approx(0.3)
    assert outcome.details["group_shares"] == {"race": {"A": 0.9, "B": 0.1}}

    looser = {**settings, "max_missing_fraction": {**settings["max_missing_fraction"], "value": 0.3}}
    looser["min_group_share"] = {**settings["min_group_share"], "value": 0.1}
    assert DataQualityCheck().run(evaluation, looser, CheckContext()).outcome == PASS
    # Without a profile (a dataset Assay did not read) missing values are unknown: insufficient, never a pass.
    unprofiled = replace(evaluation, profile={})
    outcome = DataQualityCheck().run(unprofiled, looser, CheckContext())
    assert outcome.outcome == INSUFFICIENT
    assert "no profile" in outcome.reason


# --- the verdict -----------------------------------------------------------------------------------------------


def checked(name: str, outcome: str, *, required: bool = True) -> CheckOutcome:
    return CheckOutcome(name=name, outcome=outcome, reason=f"{name} said {outcome}", required=required)


def test_fail_beats_insufficient_evidence_which_beats_pass() -> None:
    verdict, reasons = decide([checked("a", PASS), checked("b", INSUFFICIENT), checked("c", FAIL)])
    assert (verdict, reasons) == (FAIL, ["c: c said fail"])

    verdict, reasons = decide([checked("a", PASS), checked("b", INSUFFICIENT)])
    assert (verdict, reasons) == (INSUFFICIENT, ["b: b said insufficient_evidence"])

    # A check the policy does not require cannot hold the verdict back, but a failure of one still fails.
    verdict, _ = decide([checked("a", PASS), checked("b", INSUFFICIENT, required=False)])
    assert verdict == PASS
    assert decide([checked("a", PASS), checked("b", FAIL, required=False)])[0] == FAIL

    assert decide([checked("a", PASS), checked("b", PASS)]) == (PASS, ["a: a said pass", "b: b said pass"])


def test_a_policy_with_no_checks_cannot_pass() -> None:
    assert decide([]) == (INSUFFICIENT, ["The policy names no check, so nothing was shown."])
    outcome = evaluate(synthetic(FAILING_RATES), {"confidence_level": 0.95, "min_group_size": 30, "checks": {}})
    assert outcome.verdict == INSUFFICIENT


def test_a_check_this_version_cannot_run_is_insufficient_evidence() -> None:
    document = {"min_group_size": 30, "checks": {"no_such_check": {"required": True}}}

    outcome = evaluate(synthetic(FAILING_RATES), document)

    assert outcome.verdict == INSUFFICIENT
    assert "not available in this version of Assay" in outcome.reasons[0]
