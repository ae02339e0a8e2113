"""Proxies count (issue 16, item 6): the share of attribution judged against ``protected_attribute_max_share``
includes the features that determine or nearly determine a protected attribute, by the policy's measure and cut-off,
and the features the column roles declare a protected column is derived from. The result names each feature counted
and why.

Known answers: a column binned from a feature is a function of it, so the contingency table of the two has one
non-empty cell per feature interval and scipy's (uncorrected) Cramér's V of it is exactly 1; a feature drawn
independently of the attribute has a V near 0."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats.contingency import association, crosstab

from audits.checks.base import FAIL, PASS, CheckContext
from audits.checks.explainability import ExplainabilityCheck, categories, determination, separating_intervals
from audits.evaluation import ColumnRoles, Evaluation
from tests.audits.german import FEATURES, German, decisions, evaluation, fitted

BASIS = {"text": "A feature that nearly determines a protected attribute carries it.", "citation": "Test suite"}
LIMIT = {"protected_attribute_max_share": {"value": 0.1, "operator": "<=", "basis": BASIS}}
RULE = {"proxy_association_min": {"value": 0.9, "operator": ">=", "basis": BASIS}, "proxy_measure": "cramers_v"}
SMALL = {"sample_rows": 30, "time_budget_seconds": 120}


def run(evaluation: Evaluation, settings: dict[str, Any]) -> Any:
    return ExplainabilityCheck().run(evaluation, settings, CheckContext())


def counted(outcome: Any) -> dict[str, list[dict[str, Any]]]:
    return {entry["feature"]: entry["because"] for entry in outcome.details["counted_features"]}


def share_of(outcome: Any, feature: str) -> float:
    return next(e["share"] for e in outcome.details["global_importance"] if e["feature"] == feature)


def test_age_determines_age_group_so_its_attribution_counts(german: German) -> None:
    # The demo's case: the model leans on age; age_group (under 25) is protected and is not a model input.
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL | LIMIT | RULE)

    because = counted(outcome)
    assert set(because) == {"age", "sex"}
    assert because["sex"] == [{"attribute": "sex", "why": "model_input"}]
    [reason] = because["age"]
    assert reason["why"] == "association"
    assert (reason["attribute"], reason["measure"]) == ("age_group", "cramers_v")
    assert reason["value"] >= 0.99
    # age_group is a function of age, so the separating intervals keep it exactly (scipy's V of their table is 1).
    age = german.features[:, FEATURES.index("age")]
    codes = separating_intervals(age, german.age_group, intervals=5)
    assert association(crosstab(german.age_group, codes).count, method="cramer") == pytest.approx(1.0, abs=1e-12)
    assert outcome.details["protected_share"] == pytest.approx(share_of(outcome, "age") + share_of(outcome, "sex"))
    assert outcome.details["protected_share"] > 0.1
    assert outcome.outcome == FAIL
    assert "age: Cramér's V 1.00 with age_group" in outcome.reason
    assert "above the limit of 10%" in outcome.reason
    assert outcome.details["thresholds"]["proxy_association_min"] == {"value": 0.9, "operator": ">=", "basis": BASIS}
    assert outcome.details["proxy_measure"] == "cramers_v"


def test_without_a_cut_off_only_inputs_and_declared_features_count(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL | LIMIT)

    assert set(counted(outcome)) == {"sex"}
    assert outcome.outcome == PASS
    assert "the policy sets no proxy_association_min" in outcome.reason
    assert outcome.details["thresholds"]["proxy_association_min"] is None


def synthetic(rows: int = 1000, *, unknown_share: float = 0.0) -> Evaluation:
    """A numeric feature ``income`` binned into the protected ``band`` (under 49: the median, in the middle of a
    quintile), an independent feature ``noise``, and a model that leans on both."""
    rng = np.random.default_rng(7)
    income = rng.uniform(18, 80, rows)
    noise = rng.normal(0, 1, rows)
    band = np.where(income < 49, "under_49", "49_and_over").astype(object)
    band[rng.random(rows) < unknown_share] = ""
    features = np.column_stack([income, noise])

    def predict(matrix: np.ndarray) -> np.ndarray:
        return (np.asarray(matrix)[:, 0] / 15 + np.asarray(matrix)[:, 1]) > 3.5

    decided = predict(features)
    return Evaluation(
        y_true=decided.astype(np.int8),
        y_pred=decided.astype(np.int8),
        scores=None,
        protected={"band": band},
        roles=ColumnRoles(label="label", protected=("band",), features=("income", "noise")),
        features=features,
        feature_names=("income", "noise"),
        predict=predict,
        rows=rows,
    )


def test_a_feature_binned_into_the_protected_attribute_counts_and_an_independent_one_does_not() -> None:
    data = synthetic()
    outcome = run(data, SMALL | LIMIT | RULE)

    pairs = {pair["feature"]: pair for pair in outcome.details["associations"]}
    assert pairs["income"]["determination"]["value"] >= 0.99
    assert pairs["noise"]["determination"]["value"] < 0.2
    # Quintiles alone miss a cut at the median (the flag's measure): the cut points are searched, not fixed.
    assert pairs["income"]["cramers_v"] < 0.9
    assert counted(outcome) == {
        "income": [
            {
                "attribute": "band",
                "why": "association",
                "measure": "cramers_v",
                "value": pairs["income"]["determination"]["value"],
            }
        ]
    }
    assert outcome.details["protected_share"] == pytest.approx(share_of(outcome, "income"))
    assert share_of(outcome, "noise") > 0.1  # the independent feature matters to the model, and still does not count
    assert outcome.outcome == FAIL


def test_unknown_protected_values_do_not_dilute_the_association() -> None:
    outcome = run(synthetic(unknown_share=0.2), SMALL | LIMIT | RULE)

    pairs = {pair["feature"]: pair for pair in outcome.details["associations"]}
    assert pairs["income"]["determination"]["value"] >= 0.99
    assert set(counted(outcome)) == {"income"}


def test_separating_intervals_recover_any_binning_and_features_with_few_values_keep_them() -> None:
    rng = np.random.default_rng(3)
    income = rng.uniform(0, 100, 2000)
    for edges in ([37.0], [12.5, 61.0], [20.0, 45.0, 70.0]):
        band = np.searchsorted(np.asarray(edges), income).astype(str)
        found = determination(income, band, measure="cramers_v")
        assert found["categorised_by"] == "separating intervals"
        assert found["value"] >= 0.98, edges
    few = rng.integers(0, 4, 500).astype(np.float64)
    found = determination(few, np.where(few < 2, "a", "b"), measure="cramers_v")
    assert found["categorised_by"] == "values"
    assert found["categories"] == len(np.unique(categories(few))) == 4
    with pytest.raises(ValueError, match="proxy_measure 'theils_u' is not one of cramers_v"):
        determination(few, np.where(few < 2, "a", "b"), measure="theils_u")


def test_a_cut_off_without_a_measure_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="proxy_association_min needs proxy_measure"):
        run(synthetic(200), SMALL | {"proxy_association_min": RULE["proxy_association_min"]})
