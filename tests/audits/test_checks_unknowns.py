"""Unknown categories and mapped roles in the checks beside the group checks (issue 16): performance, data quality and
the adversarial counterfactual group rows as disparate impact does (``audits.checks.groups``), so a row whose
protected value is unknown is counted apart and is never a group such as ``sex=``; performance thresholds on ratios of
counts are judged exactly with their operator; and a protected role mapped to another column (``sex`` -> ``gender``)
is a model input when that column is one.

Known answers come from scikit-learn (figures on the known rows only) and from counting by hand.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics

from audits.checks.adversarial import AdversarialCheck
from audits.checks.base import FAIL, PASS, CheckContext
from audits.checks.data_quality import DataQualityCheck
from audits.checks.performance import PerformanceCheck, exact_figures
from audits.evaluation import ColumnRoles, Evaluation, build_evaluation
from governance.data.ingest import read_table
from tests.audits.german import FEATURES, German, decisions, fitted
from tests.audits.test_verdict_edges import audit, document, people, rows_of, write

BASIS = {"text": "Test basis.", "citation": "Test suite"}


def table_of(path: Path, rows: list[list[str]], header: list[str]) -> Any:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return read_table(path, fmt="csv", text_columns=header)


def confusion_rows(sex: str, *, tp: int, fn: int, tn: int, fp: int) -> list[list[str]]:
    """Rows of one sex with the given confusion counts (label ``outcome``, decision ``decision``)."""
    cells = [("1", "1")] * tp + [("1", "0")] * fn + [("0", "0")] * tn + [("0", "1")] * fp
    return [[sex, label, decided] for label, decided in cells]


HEADER = ["sex", "outcome", "decision"]


def evaluation_of(tmp_path: Path, rows: list[list[str]], **roles: Any) -> Evaluation:
    column_roles = ColumnRoles.from_json({"label": "outcome", "prediction": "decision", "protected": ["sex"], **roles})
    return build_evaluation(table_of(tmp_path / "data.csv", rows, HEADER), column_roles)


# --- performance ------------------------------------------------------------------------------------------------


def test_performance_counts_unknown_rows_apart_and_groups_only_known_rows(tmp_path: Path) -> None:
    rows = (
        confusion_rows("female", tp=20, fn=5, tn=10, fp=5)
        + confusion_rows("male", tp=15, fn=10, tn=12, fp=3)
        + confusion_rows("", tp=1, fn=4, tn=0, fp=5)
    )
    evaluation = evaluation_of(tmp_path, rows)
    outcome = PerformanceCheck().run(evaluation, {}, CheckContext())
    per_group = outcome.details["per_group"]
    assert sorted(per_group) == ["sex=female", "sex=male"]  # never "sex="
    assert outcome.details["unknown"]["sex"] == {"count": 10, "share": pytest.approx(10 / 90), "share_exact": "1/9"}
    known_female = np.array([r[0] == "female" for r in rows])
    truth = np.array([r[1] == "1" for r in rows])
    decided = np.array([r[2] == "1" for r in rows])
    assert per_group["sex=female"]["count"] == 40
    assert per_group["sex=female"]["accuracy"] == pytest.approx(
        metrics.accuracy_score(truth[known_female], decided[known_female])
    )
    assert per_group["sex=female"]["recall"] == pytest.approx(20 / 25)
    # The overall figures are of every row, unknown or not: the model decided for them too.
    assert outcome.details["overall"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, decided))
    assert outcome.details["overall_exact"]["accuracy"] == "29/45"  # 58 of 90 correct


def test_declared_unknown_tokens_are_no_group_in_performance(tmp_path: Path) -> None:
    rows = (
        confusion_rows("female", tp=5, fn=0, tn=5, fp=0)
        + confusion_rows("male", tp=5, fn=0, tn=5, fp=0)
        + confusion_rows("NA", tp=1, fn=1, tn=1, fp=1)
    )
    declared = evaluation_of(tmp_path, rows, unknown_values={"sex": ["NA"]})
    assert sorted(PerformanceCheck().run(declared, {}, CheckContext()).details["per_group"]) == [
        "sex=female",
        "sex=male",
    ]
    # Not declared, "NA" is a category as written: a real group.
    plain = evaluation_of(tmp_path, rows)
    assert "sex=NA" in PerformanceCheck().run(plain, {}, CheckContext()).details["per_group"]


def test_a_balanced_accuracy_of_exactly_the_threshold_passes(tmp_path: Path) -> None:
    # Recall 3/5 and specificity 7/10: balanced accuracy (3/5 + 7/10) / 2 = 13/20 = 0.65 exactly, which
    # scikit-learn's float arithmetic gives as 0.6499999999999999 (a float comparison failed it).
    rows = confusion_rows("female", tp=3, fn=2, tn=7, fp=3) + confusion_rows("male", tp=3, fn=2, tn=7, fp=3)
    evaluation = evaluation_of(tmp_path, rows)
    assert metrics.balanced_accuracy_score(evaluation.y_true, evaluation.y_pred) < 0.65
    settings = {"balanced_accuracy_min": {"value": 0.65, "operator": ">=", "basis": BASIS}}
    outcome = PerformanceCheck().run(evaluation, settings, CheckContext())
    assert outcome.outcome == PASS, outcome.reason
    (judged,) = outcome.details["thresholds"]
    assert judged | {"basis": None} == {
        "metric": "balanced_accuracy",
        "limit": 0.65,
        "limit_exact": "13/20",
        "operator": ">=",
        "value": pytest.approx(0.65),
        "value_exact": "13/20",
        "passes": True,
        "basis": None,
    }
    # The operator is the policy's: "above 0.65" is not met by exactly 0.65.
    strict = {"balanced_accuracy_min": {"value": 0.65, "operator": ">", "basis": BASIS}}
    refused = PerformanceCheck().run(evaluation, strict, CheckContext())
    assert refused.outcome == FAIL
    assert "balanced_accuracy 0.650 is not above 0.65" in refused.reason


def test_accuracy_is_judged_as_correct_over_total(tmp_path: Path) -> None:
    at = confusion_rows("female", tp=35, fn=15, tn=35, fp=15)  # 70 of 100 correct
    below = confusion_rows("female", tp=35, fn=16, tn=34, fp=15)  # 69 of 100
    settings = {"accuracy_min": {"value": 0.7, "operator": ">=", "basis": BASIS}}
    men = confusion_rows("male", tp=35, fn=15, tn=35, fp=15)
    passed = PerformanceCheck().run(evaluation_of(tmp_path, at + men), settings, CheckContext())
    assert passed.outcome == PASS
    assert passed.details["thresholds"][0]["value_exact"] == "7/10"
    failed = PerformanceCheck().run(evaluation_of(tmp_path, below + men), settings, CheckContext())
    assert failed.outcome == FAIL
    assert failed.details["thresholds"][0]["value_exact"] == "139/200"


@pytest.mark.parametrize("seed", range(5))
def test_exact_figures_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth, decided = rng.integers(0, 2, 57), rng.integers(0, 2, 57)
    found = exact_figures(truth, decided)
    expected = {
        "accuracy": metrics.accuracy_score(truth, decided),
        "balanced_accuracy": metrics.balanced_accuracy_score(truth, decided),
        "precision": metrics.precision_score(truth, decided),
        "recall": metrics.recall_score(truth, decided),
        "f1": metrics.f1_score(truth, decided),
    }
    assert {k: float(v) for k, v in found.items() if v is not None} == pytest.approx(expected)


def test_roc_auc_is_compared_as_a_float_with_its_operator(tmp_path: Path) -> None:
    rows = confusion_rows("female", tp=10, fn=10, tn=10, fp=10) + confusion_rows("male", tp=10, fn=10, tn=10, fp=10)
    column_roles = ColumnRoles.from_json({"label": "outcome", "score": "score", "threshold": 0.5, "protected": ["sex"]})
    with_scores = [[sex, label, "0.9" if decided == "1" else "0.1"] for sex, label, decided in rows]
    table = table_of(tmp_path / "scored.csv", with_scores, ["sex", "outcome", "score"])
    evaluation = build_evaluation(table, column_roles)
    auc = metrics.roc_auc_score(evaluation.y_true, evaluation.scores)
    assert auc == 0.5
    at_least = PerformanceCheck().run(
        evaluation, {"roc_auc_min": {"value": 0.5, "operator": ">=", "basis": BASIS}}, CheckContext()
    )
    above = PerformanceCheck().run(
        evaluation, {"roc_auc_min": {"value": 0.5, "operator": ">", "basis": BASIS}}, CheckContext()
    )
    assert (at_least.outcome, above.outcome) == (PASS, FAIL)
    assert at_least.details["thresholds"][0]["value_exact"] is None  # not a ratio of counts


# --- data quality -----------------------------------------------------------------------------------------------


def test_data_quality_never_holds_the_unknown_category_to_the_minimum_share(tmp_path: Path) -> None:
    rows = (
        confusion_rows("female", tp=25, fn=25, tn=24, fp=25)
        + confusion_rows("male", tp=25, fn=25, tn=25, fp=25)
        + confusion_rows("", tp=1, fn=0, tn=0, fp=0)  # 1 of 200 rows: under any minimum share
    )
    evaluation = evaluation_of(tmp_path, rows)
    settings = {"min_group_share": {"value": 0.02, "operator": ">=", "basis": BASIS}}
    outcome = DataQualityCheck().run(evaluation, settings, CheckContext())
    assert outcome.outcome == PASS, outcome.reason
    assert outcome.details["group_counts"] == {"sex": {"female": 99, "male": 100}}
    assert outcome.details["group_shares"] == {"sex": {"female": 99 / 200, "male": 100 / 200}}
    assert outcome.details["group_shares_exact"] == {"sex": {"female": "99/200", "male": "1/2"}}
    assert outcome.details["unknown"] == {"sex": {"count": 1, "share": 1 / 200, "share_exact": "1/200"}}
    assert outcome.details["thresholds"]["min_group_share"]["exact"] == "1/50"


def test_data_quality_minimum_share_is_exact_at_the_edge(tmp_path: Path) -> None:
    # 4 of 200 rows is exactly 2%: "at least 2%" is met; 3 of 200 is not.
    base = confusion_rows("female", tp=50, fn=50, tn=46, fp=50)
    settings = {"min_group_share": {"value": 0.02, "operator": ">=", "basis": BASIS}}
    at = DataQualityCheck().run(
        evaluation_of(tmp_path, base + confusion_rows("male", tp=1, fn=1, tn=1, fp=1)), settings, CheckContext()
    )
    assert at.outcome == PASS, at.reason
    under = DataQualityCheck().run(
        evaluation_of(tmp_path, [*base, ["", "0", "1"], *confusion_rows("male", tp=1, fn=1, tn=1, fp=0)]),
        settings,
        CheckContext(),
    )
    assert under.outcome == FAIL
    assert "sex=male is 1.5% of the rows (at least 2.0%)" in under.reason
    assert "sex=" not in under.reason.replace("sex=male", "")


# --- adversarial: a role mapped to another column, unknown rows -------------------------------------------------


def test_a_protected_role_mapped_to_a_model_input_column_is_tested_and_unknown_rows_are_no_group(
    german: German,
) -> None:
    predict = decisions(fitted(german, sex=-3.0))
    names = tuple("gender" if name == "sex" else name for name in FEATURES)  # the data calls the column gender
    sex = german.sex.copy()
    sex[:7] = ""  # seven rows whose sex is unknown in the protected column
    evaluation = Evaluation(
        y_true=german.favourable,
        y_pred=predict(german.features).astype(np.int8),
        scores=None,
        protected={"sex": sex},
        roles=ColumnRoles.from_json({"label": "credit_risk", "protected": {"sex": "gender"}, "features": list(names)}),
        features=german.features,
        feature_names=names,
        predict=predict,
        rows=len(german.favourable),
        protected_columns={"sex": "gender"},
        unknown={"sex": sex == ""},
    )
    limits = {
        "epsilon": {"value": 0.3, "operator": "<=", "basis": BASIS},
        "counterfactual_flip_rate_max": {"value": 0.05, "operator": "<=", "basis": BASIS},
        "sample_rows": 2,
        "time_budget_seconds": 60,
    }
    outcome = AdversarialCheck().run(evaluation, limits, CheckContext())
    (found,) = outcome.details["counterfactual"]["attributes"]
    assert (found["attribute"], found["column"], found["model_input"], found["applies"]) == (
        "sex",
        "gender",
        True,
        True,
    )
    swapped = german.features.copy()
    column = FEATURES.index("sex")
    swapped[:, column] = 1.0 - swapped[:, column]
    flipped = predict(german.features) != predict(swapped)
    assert found["flipped"] == int(flipped.sum()) > 50
    assert [g["group"] for g in found["groups"]] == ["female", "male"]  # no "" group
    for group in found["groups"]:
        mask = (sex == group["group"]) & (sex != "")
        assert (group["count"], group["flipped"]) == (int(mask.sum()), int(flipped[mask].sum()))
    assert found["unknown"] == {"count": 7, "flipped": int(flipped[:7].sum())}
    assert sum(g["count"] for g in found["groups"]) + 7 == len(sex)
    assert outcome.outcome == FAIL
    assert "when only sex (column 'gender') changes" in outcome.reason
    assert "not a model input" not in outcome.reason


# --- LL144's 2% rule: a share of all the data, unknowns included ------------------------------------------------


def test_the_ll144_two_percent_is_a_share_of_all_the_data_unknowns_included(tmp_path: Path) -> None:
    # 6 RCNY 5-301(d): "a category that represents less than 2% of the data being used for the bias audit". Race C
    # has 19 of 1000 rows (1.9%: under 2%) but 19 of the 919 rows whose race is known (2.07%: not under). The rule's
    # base is the data, so C may be excluded with the auditor's justification; on the known rows it could not be.
    groups = {("F", "A"): (250, 125), ("M", "A"): (250, 125), ("F", "B"): (200, 100), ("M", "B"): (200, 100)}
    groups[("F", "C")] = (19, 0)
    groups[("M", "")] = (81, 40)  # race unknown: in no race group, but part of the data
    path = write(tmp_path / "ll144.csv", people(groups))
    protected = {"sex": "sex", "race_ethnicity": "race"}
    justification = "19 of 1000 applicants (1.9%): too few to compare."
    # audit() also recomputes every verdict with the regulator bundle's verifier, which must agree.
    results = audit(
        path,
        document("nyc-ll144", min_group_size=10),
        protected=protected,
        exclusions={"race_ethnicity=C": justification},
    )
    table, rows = rows_of(results, "disparate_impact", "race_ethnicity")
    assert table["unknown"]["count"] == 81
    c = rows["race_ethnicity=C"]
    assert Fraction(c["share_of_rows_exact"]) == Fraction(19, 1000) < Fraction(2, 100)
    assert c["share_of_rows"] == 0.019
    assert Fraction(c["share_exact"]) == Fraction(19, 919) > Fraction(2, 100)  # the two bases disagree
    assert c["status"] == "excluded_below_share"
    assert c["exclusion_justification"] == justification
    assert (c["count"], c["selected"], c["passes"]) == (19, 0, None)
    assert (
        results["checks"]["disparate_impact"]["thresholds"]["exclude_groups_below_share"]["exact"],
        results["checks"]["disparate_impact"]["thresholds"]["exclude_groups_below_share"]["operator"],
    ) == ("1/50", ">=")


def test_the_missing_fraction_is_judged_exactly_with_its_operator(tmp_path: Path) -> None:
    evaluation = evaluation_of(
        tmp_path, confusion_rows("female", tp=5, fn=5, tn=5, fp=5) + confusion_rows("male", tp=5, fn=5, tn=5, fp=5)
    )
    evaluation.profile = {"rows": 40, "missing": {"income": {"count": 2, "fraction": 2 / 40}}}
    at_most = {"max_missing_fraction": {"value": 0.05, "operator": "<=", "basis": BASIS}}
    below = {"max_missing_fraction": {"value": 0.05, "operator": "<", "basis": BASIS}}
    passed = DataQualityCheck().run(evaluation, at_most, CheckContext())
    assert passed.outcome == PASS, passed.reason  # 2 of 40 is exactly 1/20: at most 0.05
    assert passed.details["thresholds"]["max_missing_fraction"] | {"basis": None} == {
        "value": 0.05,
        "exact": "1/20",
        "operator": "<=",
        "basis": None,
    }
    failed = DataQualityCheck().run(evaluation, below, CheckContext())
    assert failed.outcome == FAIL
    assert "column 'income' is 5.0% missing (below 5.0%)" in failed.reason


def flip_exactly(flips: int, rows: int = 20) -> Evaluation:
    """A model on (sex, x) whose decision follows sex only for the ``flips`` rows with x below ``flips``."""
    sex = np.array([0.0, 1.0] * (rows // 2))
    x = np.arange(rows, dtype=np.float64)
    features = np.column_stack([sex, x])

    def predict(matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix)
        return np.where(matrix[:, 1] < flips, matrix[:, 0] == 1.0, True)

    return Evaluation(
        y_true=predict(features).astype(np.int8),
        y_pred=predict(features).astype(np.int8),
        scores=None,
        protected={"sex": np.where(sex == 1.0, "female", "male")},
        roles=ColumnRoles.from_json({"label": "label", "protected": ["sex"], "features": ["sex", "x"]}),
        features=features,
        feature_names=("sex", "x"),
        predict=predict,
        rows=rows,
        protected_columns={"sex": "sex"},
    )


@pytest.mark.parametrize(("operator", "outcome"), [("<=", PASS), ("<", FAIL)])
def test_the_counterfactual_flip_rate_is_judged_exactly_by_its_operator(operator: str, outcome: str) -> None:
    # 1 of 20 decisions changes with sex alone: exactly 1/20, the limit 0.05. The attack is ZOO, which is not run.
    settings = {
        "attack": "zoo",
        "sample_rows": 2,
        "time_budget_seconds": 60,
        "counterfactual_flip_rate_max": {"value": 0.05, "operator": operator, "basis": BASIS},
    }
    found = AdversarialCheck().run(flip_exactly(1), settings, CheckContext())
    (sex,) = found.details["counterfactual"]["attributes"]
    assert (sex["flipped"], sex["flip_rate"]) == (1, 0.05)
    assert found.details["thresholds"]["counterfactual_flip_rate_max"]["exact"] == "1/20"
    assert found.outcome == outcome, found.reason
