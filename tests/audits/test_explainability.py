"""The explainability check on German credit with logistic regressions whose weights the tests set, so the answers are
known: a feature with zero weight gets zero attribution, attributions add up to the decision minus the base value,
and on a small background they equal the Shapley values computed here by enumerating every coalition."""

from __future__ import annotations

import itertools
import math
import time
import warnings
from typing import Any

import numpy as np
import pytest

from audits.checks.base import FAIL, INSUFFICIENT, PASS, CheckContext
from audits.checks.explainability import ExplainabilityCheck, TimeBudget, categories, kernel_shap
from audits.engine import evaluate
from audits.evaluation import Evaluation
from audits.metrics import cramers_v
from tests.audits.german import FEATURES, German, decisions, evaluation, fitted

with warnings.catch_warnings():  # imported before any clock starts, as a worker process would have it
    warnings.simplefilter("ignore")
    import shap  # noqa: F401

SMALL = {"sample_rows": 30, "time_budget_seconds": 60}


def run(evaluation: Evaluation, settings: dict[str, Any]) -> Any:
    return ExplainabilityCheck().run(evaluation, settings, CheckContext())


def by_feature(outcome: Any) -> dict[str, dict[str, Any]]:
    return {entry["feature"]: entry for entry in outcome.details["global_importance"]}


def test_predictions_only_audit_is_insufficient_evidence(german: German) -> None:
    outcome = run(evaluation(german, None), SMALL)
    assert outcome.outcome == INSUFFICIENT
    assert "needs the model artifact" in outcome.reason


def test_zero_weight_feature_has_no_attribution_and_values_add_up(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, residence_since=0.0))), SMALL)
    coverage = outcome.details["coverage"]
    assert coverage == coverage | {"rows_sampled": 30, "rows_explained": 30, "stopped_by_time_budget": False}
    importance = by_feature(outcome)
    assert importance["residence_since"]["mean_abs_shap"] == pytest.approx(0.0, abs=1e-9)
    assert importance["residence_since"]["rank"] == len(FEATURES)
    assert importance["duration_months"]["mean_abs_shap"] > 0.01
    assert sum(entry["share"] for entry in importance.values()) == pytest.approx(1.0)
    # Local accuracy (efficiency): each row's values add up to its decision minus the base value.
    base = outcome.details["base_value"]
    assert 0 < base < 1
    local = outcome.details["local_explanations"]
    assert len(local) == 10
    for row in local:
        assert row["values"]["residence_since"] == pytest.approx(0.0, abs=1e-9)
        assert sum(row["values"].values()) + base == pytest.approx(row["decision"], abs=1e-9)
    # Seeded: the same inputs give the same numbers.
    again = run(evaluation(german, decisions(fitted(german, residence_since=0.0))), SMALL)
    assert again.details["global_importance"] == outcome.details["global_importance"]
    assert again.details["local_explanations"] == local


def exact_shapley(decide: Any, row: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = mean over the background of decide(row on S, background elsewhere), by enumeration."""
    width = len(row)
    value = {}
    for size in range(width + 1):
        for subset in itertools.combinations(range(width), size):
            mixed = background.copy()
            mixed[:, list(subset)] = row[list(subset)]
            value[subset] = float(np.mean(decide(mixed)))
    shapley = np.zeros(width)
    for j in range(width):
        others = [k for k in range(width) if k != j]
        for size in range(width):
            weight = math.factorial(size) * math.factorial(width - size - 1) / math.factorial(width)
            for subset in itertools.combinations(others, size):
                with_j = tuple(sorted((*subset, j)))
                shapley[j] += weight * (value[with_j] - value[subset])
    return shapley


def test_kernel_shap_equals_shapley_values_by_enumeration(german: German) -> None:
    predict = decisions(fitted(german))

    def decide(matrix: np.ndarray) -> np.ndarray:
        return predict(matrix).astype(np.float64)

    features = german.features.astype(np.float64)
    background = features[::50]  # 20 rows
    rows = np.array([3, 17, 101])
    found = kernel_shap(
        decide=decide, features=features, rows=rows, background=background, budget=TimeBudget(60), seed=1
    )
    assert found.base_value == pytest.approx(decide(background).mean())
    for row, values in zip(rows, found.values, strict=True):
        np.testing.assert_allclose(values, exact_shapley(decide, features[row], background), atol=1e-9)


def test_protected_share_is_judged_against_the_limit(german: German) -> None:
    limit = {
        "protected_attribute_max_share": {"value": 0.1, "comparison": "max", "basis": {"text": "t", "citation": "c"}}
    }
    heavy = run(evaluation(german, decisions(fitted(german, sex=-2.0))), SMALL | limit)
    assert heavy.outcome == FAIL
    assert heavy.details["protected_share"] > 0.1
    assert by_feature(heavy)["sex"]["rank"] == 1
    assert "sex" in heavy.reason
    assert "above the limit of 10%" in heavy.reason
    assert heavy.details["basis"] == {"text": "t", "citation": "c"}

    blind = run(evaluation(german, decisions(fitted(german, sex=0.0))), SMALL | limit)
    assert blind.outcome == PASS
    assert blind.details["protected_share"] == pytest.approx(0.0, abs=1e-9)
    attributes = {a["attribute"]: a for a in blind.details["protected_attributes"]}
    assert attributes["sex"]["model_input"] is True
    assert attributes["age_group"] == {"attribute": "age_group", "model_input": False}

    reported = run(evaluation(german, decisions(fitted(german, sex=-2.0))), SMALL)
    assert reported.outcome == PASS
    assert reported.reason.startswith("Reported only")


def test_a_feature_carrying_a_protected_attribute_is_reported_as_a_proxy(german: German) -> None:
    # The model leans on age, which is not protected as such; age_group (under 25) is, and is not a model input.
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL)
    proxies = {(p["feature"], p["attribute"]): p for p in outcome.details["proxies"]}
    assert set(proxies) == {("age", "age_group")}
    proxy = proxies["age", "age_group"]
    age = german.features[:, FEATURES.index("age")]
    assert proxy["cramers_v"] == pytest.approx(cramers_v(german.age_group, categories(age), bias_correction=True))
    assert proxy["cramers_v"] > 0.8
    assert proxy["rank"] <= 2
    assert "age (rank" in outcome.reason
    assert "age_group" in outcome.reason
    # Quintiles for a feature with many values; a feature with few values keeps them.
    assert len(np.unique(categories(age))) == 5
    assert len(np.unique(categories(german.features[:, FEATURES.index("installment_rate")]))) == 4


def test_a_tiny_time_budget_stops_early_and_says_how_far_it_got(german: German) -> None:
    predict = decisions(fitted(german))

    def slow(matrix: np.ndarray) -> np.ndarray:
        time.sleep(0.3)  # eight inputs take the exact explainer: ten rows per model call
        return predict(matrix)

    budget = 1.0
    started = time.monotonic()
    outcome = run(evaluation(german, slow), {"sample_rows": 50, "time_budget_seconds": budget})
    elapsed = time.monotonic() - started
    coverage = outcome.details["coverage"]
    assert elapsed < budget + 1.5
    assert coverage["stopped_by_time_budget"] is True
    assert 0 < coverage["rows_explained"] < coverage["rows_sampled"] == 50
    assert outcome.outcome == INSUFFICIENT
    assert f"Explained {coverage['rows_explained']} of 50 sampled rows" in outcome.reason
    assert "ran out" in outcome.reason


def test_the_engine_finds_the_check_by_its_policy_name(german: German) -> None:
    document = {"confidence_level": 0.95, "min_group_size": 30, "checks": {"explainability": SMALL}}
    result = evaluate(evaluation(german, decisions(fitted(german))), document)
    assert result.results["checks"]["explainability"]["coverage"]["rows_explained"] == 30
    assert result.verdict == PASS
