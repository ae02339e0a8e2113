"""The adversarial check on German credit with logistic regressions whose weights the tests set, so the answers are
known: the counterfactual flips are counted here directly, noise of size zero flips nothing, and every flip the
attack counts lies within epsilon and is one the model really makes (for a linear model, no closer than the exact
L-infinity distance to its decision boundary)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pytest

from audits.checks.adversarial import AdversarialCheck, Standardized, bounded_evasion, noise_flip_rate
from audits.checks.base import FAIL, INSUFFICIENT, PASS, CheckContext
from audits.checks.explainability import TimeBudget
from audits.engine import evaluate
from audits.evaluation import Evaluation
from tests.audits.german import FEATURES, German, decisions, evaluation, fitted

with warnings.catch_warnings():  # imported before any clock starts, as a worker process would have it
    warnings.simplefilter("ignore")
    import art.attacks.evasion  # noqa: F401

SEX = FEATURES.index("sex")
BASIS = {"text": "t", "citation": "c"}
LIMITS = {
    "epsilon": {"value": 0.3, "comparison": "max", "basis": BASIS},
    "max_success_rate": {"value": 0.5, "comparison": "max", "basis": BASIS},
    "counterfactual_flip_rate_max": {"value": 0.05, "comparison": "max", "basis": BASIS},
}
SMALL = {"sample_rows": 4, "time_budget_seconds": 60} | LIMITS


def run(evaluation: Evaluation, settings: dict[str, Any]) -> Any:
    return AdversarialCheck().run(evaluation, settings, CheckContext())


def counterfactual(outcome: Any, attribute: str) -> dict[str, Any]:
    return next(a for a in outcome.details["counterfactual"]["attributes"] if a["attribute"] == attribute)


def test_predictions_only_audit_is_insufficient_evidence(german: German) -> None:
    outcome = run(evaluation(german, None), SMALL)
    assert outcome.outcome == INSUFFICIENT
    assert "needs the model artifact" in outcome.reason


def test_a_model_that_ignores_sex_flips_no_decision_when_only_sex_changes(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, sex=0.0))), SMALL)
    sex = counterfactual(outcome, "sex")
    assert sex["applies"] is True
    assert sex["values_tried"] == [0.0, 1.0]
    assert sex["flipped"] == 0
    assert [g["flipped"] for g in sex["groups"]] == [0, 0]
    assert outcome.outcome == PASS, outcome.reason
    assert "0 of 1000 decisions (0.0%) change when only sex changes" in outcome.reason
    # age_group is protected but not a model input: the test cannot apply, and the result says so.
    assert counterfactual(outcome, "age_group") == counterfactual(outcome, "age_group") | {"applies": False}
    assert "does not apply to age_group: it is not a model input" in outcome.reason


def test_a_model_that_leans_on_sex_flips_the_decisions_counted_directly(german: German) -> None:
    predict = decisions(fitted(german, sex=-3.0))
    outcome = run(evaluation(german, predict), SMALL)
    swapped = german.features.copy()
    swapped[:, SEX] = 1.0 - swapped[:, SEX]
    flipped = predict(german.features) != predict(swapped)
    sex = counterfactual(outcome, "sex")
    assert sex["flipped"] == int(flipped.sum()) > 50
    assert sex["flip_rate"] == pytest.approx(flipped.mean())
    for group in sex["groups"]:
        mask = german.sex == group["group"]
        assert (group["count"], group["flipped"]) == (int(mask.sum()), int(flipped[mask].sum()))
    was_favourable = predict(german.features)
    assert sex["became_unfavourable"] == int((flipped & was_favourable).sum())
    assert sex["became_favourable"] == int((flipped & ~was_favourable).sum())
    assert outcome.outcome == FAIL
    assert f"{int(flipped.sum())} of 1000 decisions" in outcome.reason
    assert "above the limit of 5%" in outcome.reason


def test_noise_of_size_zero_flips_nothing(german: German) -> None:
    predict = decisions(fitted(german))
    scale = Standardized.of(german.features.astype(np.float64)).scale
    rng = np.random.default_rng(1)
    assert noise_flip_rate(predict=predict, features=german.features, scale=scale, radius=0.0, draws=5, rng=rng) == 0
    noisy = noise_flip_rate(predict=predict, features=german.features, scale=scale, radius=1.0, draws=5, rng=rng)
    assert 0 < noisy < 0.5


def test_every_counted_flip_is_real_and_within_epsilon(german: German) -> None:
    model = fitted(german)
    predict = decisions(model)
    features = german.features.astype(np.float64)
    space = Standardized.of(features)
    epsilon = 0.3
    rows = np.arange(0, 1000, 125)  # 8 rows
    found = bounded_evasion(
        attack="hop_skip_jump",
        predict=predict,
        features=features,
        rows=rows,
        epsilon=epsilon,
        budget=TimeBudget(60),
        seed=7,
    )
    assert list(found.rows) == list(rows)
    z = space.to_z(features[rows])
    counted = found.within_epsilon
    assert counted.any()
    assert np.abs(found.within_epsilon_points - z).max(axis=1)[counted].max() <= epsilon + 1e-9
    points = space.to_features(found.within_epsilon_points[counted], features[rows][counted])
    assert (predict(points) != predict(features[rows][counted])).all()
    assert (predict(space.to_features(found.adversarial, features[rows])) != predict(features[rows]))[
        found.flipped
    ].all()
    # A linear model: no flip is possible closer than |margin| / ||w||_1 in standard units (the scaler's units here).
    regression = model[-1]
    margin = model[0].transform(features[rows].astype(np.float32)) @ regression.coef_[0] + regression.intercept_[0]
    nearest_possible = np.abs(margin) / np.abs(regression.coef_[0]).sum()
    assert (nearest_possible[counted] <= epsilon + 1e-4).all()
    assert (np.abs(found.adversarial - z).max(axis=1)[found.flipped] >= nearest_possible[found.flipped] - 1e-4).all()
    # Seeded: the same attack finds the same examples.
    again = bounded_evasion(
        attack="hop_skip_jump",
        predict=predict,
        features=features,
        rows=rows,
        epsilon=epsilon,
        budget=TimeBudget(60),
        seed=7,
    )
    np.testing.assert_array_equal(again.adversarial, found.adversarial)


def test_the_check_reports_the_attack_within_epsilon(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, sex=0.0))), SMALL | {"sample_rows": 6})
    attack = outcome.details["attack"]
    assert attack["rows_attacked"] == attack["rows_sampled"] == 6
    assert attack["succeeded_within_epsilon"] <= attack["flipped_at_any_distance"]
    if attack["succeeded_within_epsilon"]:
        assert attack["largest_counted_perturbation"] <= 0.3 + 1e-9
    assert attack["median_perturbation"] > 0
    assert outcome.details["noise"]["rows"] == 6
    assert "HopSkipJump flipped" in outcome.reason


def test_boundary_attack_runs_and_zoo_says_why_it_cannot(german: German) -> None:
    predict = decisions(fitted(german, sex=0.0))
    boundary = run(evaluation(german, predict), SMALL | {"attack": "boundary", "sample_rows": 2})
    assert boundary.details["attack"]["rows_attacked"] == 2
    assert "BoundaryAttack flipped" in boundary.reason
    zoo = run(evaluation(german, predict), SMALL | {"attack": "zoo"})
    assert zoo.outcome == INSUFFICIENT
    assert zoo.details["attack"]["ran"] is False
    assert "class probabilities" in zoo.reason


def test_a_tiny_time_budget_stops_the_attack_and_says_how_far_it_got(german: German) -> None:
    predict = decisions(fitted(german, sex=0.0))

    def slow(matrix: np.ndarray) -> np.ndarray:
        time.sleep(0.01)
        return predict(matrix)

    budget = 1.0
    started = time.monotonic()
    outcome = run(evaluation(german, slow), LIMITS | {"sample_rows": 30, "time_budget_seconds": budget})
    elapsed = time.monotonic() - started
    attack = outcome.details["attack"]
    assert elapsed < budget + 1.5
    assert attack["stopped_by_time_budget"] is True
    assert attack["rows_attacked"] < attack["rows_sampled"] == 30
    assert outcome.outcome == INSUFFICIENT
    assert f"after attacking {attack['rows_attacked']} of 30 sampled rows" in outcome.reason
    # The counterfactual test ran on every row all the same.
    assert outcome.details["counterfactual"]["rows"] == 1000


def test_the_engine_finds_the_check_by_its_policy_name(german: German) -> None:
    document = {"confidence_level": 0.95, "min_group_size": 30, "checks": {"adversarial": SMALL}}
    result = evaluate(evaluation(german, decisions(fitted(german, sex=0.0))), document)
    assert result.results["checks"]["adversarial"]["attack"]["rows_attacked"] == 4
    assert result.verdict == PASS
