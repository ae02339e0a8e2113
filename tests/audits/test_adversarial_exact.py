"""The adversarial check's exact attack on linear models, against the references outside it: ART's own
FastGradientMethod (for a linear model the L-infinity FGSM step of size epsilon is exactly the furthest the score
can move in the ball, clipped to the data's range, so it must give the same points and flips), ART's minimal FGM
(its smallest flipping step on a grid must bracket the closed-form radius) and HopSkipJump (a black-box search can
only find flips the exact attack finds too, never closer than its minimal change). Models are real: fitted here,
exported with skl2onnx or saved with skops, and loaded as an audit loads them."""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import skops.io as sio
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from audits.checks.adversarial import AdversarialCheck, Standardized, bounded_evasion
from audits.checks.adversarial.structural import linear_evasion, minimal_linear_radius, plan_attack
from audits.checks.base import CheckContext
from audits.checks.explainability import TimeBudget, seeded_rows
from audits.evaluation import ColumnRoles, build_evaluation
from registry.artifacts import load_predictor
from tests.audits.german import FEATURES, German, fitted

with warnings.catch_warnings():  # ART warns at import about optional deep-learning frameworks
    warnings.simplefilter("ignore")
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

SETTINGS = {
    "sample_rows": 60,
    "time_budget_seconds": 120,
    "epsilon": {"value": 0.3, "operator": "<=", "basis": {"text": "t", "citation": "c"}},
    "max_success_rate": {"value": 0.5, "operator": "<=", "basis": {"text": "t", "citation": "c"}},
}


def saved(content: bytes, suffix: str) -> Path:
    path = Path(tempfile.mkdtemp()) / f"model.{suffix}"
    path.write_bytes(content)
    return path


def german_table(german: German) -> pa.Table:
    columns: dict[str, Any] = {name: german.features[:, j] for j, name in enumerate(FEATURES)}
    columns["credit_risk"] = german.favourable.astype(np.int64)
    columns["age_group"] = german.age_group
    return pa.table(columns)


def onnx_evaluation(german: German, model: Any) -> Any:
    """The German credit evaluation of a scikit-learn pipeline exported to ONNX, loaded as an audit loads it."""
    content = to_onnx(model, german.features[:1], options={id(model): {"zipmap": False}}).SerializeToString()
    predictor = load_predictor(saved(content, "onnx"), framework="onnx")
    roles = ColumnRoles(label="credit_risk", protected=("age_group",), features=FEATURES)
    return build_evaluation(german_table(german), roles, predictor=predictor)


@pytest.fixture(scope="module")
def linear(german: German) -> dict[str, Any]:
    model = fitted(german)
    evaluation = onnx_evaluation(german, model)
    features = np.asarray(evaluation.features, dtype=np.float64)
    decisions = np.asarray(evaluation.predict(features), dtype=bool)
    plan = plan_attack(evaluation, features, decisions, "hop_skip_jump")
    return {"model": model, "evaluation": evaluation, "features": features, "plan": plan}


def art_classifier(model: Any, space: Standardized) -> Any:
    """ART's logistic regression on the pipeline's standardised inputs (the space the attack measures in), clipped
    to the data's range as the check's attacks are."""
    return ScikitlearnLogisticRegression(model=model[-1], clip_values=(space.low, space.high))


def test_the_check_runs_the_exact_attack_on_an_onnx_linear_model_and_says_why(linear: dict[str, Any]) -> None:
    outcome = AdversarialCheck().run(linear["evaluation"], SETTINGS, CheckContext())
    attack = outcome.details["attack"]
    assert attack["name"] == "linear_exact"
    assert attack["exact"] is True
    assert "ONNX Scaler + LinearClassifier" in attack["attack_reason"]
    assert attack["parameters"]["decision_threshold"] == 0.0
    assert attack["parameters"]["norm"] == "L-infinity"
    assert attack["rows_attacked"] == attack["rows_sampled"] == 60
    assert attack["stopped_by_time_budget"] is False
    assert "the exact attack on the linear score flipped" in outcome.reason.lower()
    assert "no change within epsilon flips any other sampled decision" in outcome.reason
    # The black-box attack asked for explicitly still runs, and says why.
    black_box = AdversarialCheck(structure=False).run(
        linear["evaluation"], SETTINGS | {"sample_rows": 2}, CheckContext()
    )
    assert black_box.details["attack"]["name"] == "hop_skip_jump"
    assert black_box.details["attack"]["exact"] is False


def test_the_corner_of_radius_epsilon_is_arts_fgsm_step_and_flips_the_same_rows(linear: dict[str, Any]) -> None:
    features = linear["features"]
    space = Standardized.of(features)
    rows = np.arange(0, 1000, 5)
    epsilon = 0.3
    found = linear_evasion(
        plan=linear["plan"], predict=linear["evaluation"].predict, features=features, rows=rows, epsilon=epsilon
    )
    z = space.to_z(features[rows])
    classifier = art_classifier(linear["model"], space)
    step = FastGradientMethod(classifier, norm=np.inf, eps=epsilon, targeted=False).generate(z.astype(np.float32))
    counted = found.within_epsilon
    assert 0 < counted.sum() < len(rows)
    np.testing.assert_allclose(found.within_epsilon_points[counted], step[counted], atol=1e-5)
    art_flips = classifier.predict(step).argmax(axis=1) != classifier.predict(z.astype(np.float32)).argmax(axis=1)
    np.testing.assert_array_equal(art_flips, counted)


def test_arts_minimal_fgm_stops_at_the_first_grid_step_past_the_closed_form_radius(linear: dict[str, Any]) -> None:
    features = linear["features"]
    space = Standardized.of(features)
    rows = np.arange(3, 1000, 10)
    found = linear_evasion(
        plan=linear["plan"], predict=linear["evaluation"].predict, features=features, rows=rows, epsilon=0.1
    )
    z = space.to_z(features[rows])
    grid = 0.01
    attack = FastGradientMethod(
        art_classifier(linear["model"], space), norm=np.inf, eps=2.0, eps_step=grid, minimal=True
    )
    art = attack.generate(z.astype(np.float32))
    # ART tries steps of grid, 2 grid, ... and keeps the first that flips: the one at or just past the exact radius.
    steps = found.minimal / grid
    clear = np.isfinite(steps) & (found.minimal < 1.9) & (np.abs(steps - np.round(steps)) > 0.05)
    assert clear.sum() > len(rows) // 2
    first = np.ceil(steps[clear]) * grid
    expected = np.clip(z[clear] + first[:, None] * np.sign(found.adversarial[clear] - z[clear]), space.low, space.high)
    np.testing.assert_allclose(art[clear], expected, atol=1e-4)


def test_the_exact_attack_flips_every_row_hop_skip_jump_flips_and_never_needs_more(linear: dict[str, Any]) -> None:
    features = linear["features"]
    space = Standardized.of(features)
    predict = linear["evaluation"].predict
    rows = np.arange(0, 1000, 50)  # 20 rows
    epsilon = 0.3
    exact = linear_evasion(plan=linear["plan"], predict=predict, features=features, rows=rows, epsilon=epsilon)
    black_box = bounded_evasion(
        attack="hop_skip_jump",
        predict=predict,
        features=features,
        rows=rows,
        epsilon=epsilon,
        budget=TimeBudget(120),
        seed=7,
    )
    assert black_box.within_epsilon.any()
    assert (exact.within_epsilon | ~black_box.within_epsilon).all()
    z = space.to_z(features[rows])
    searched = np.abs(black_box.adversarial - z).max(axis=1)
    assert (exact.minimal[black_box.flipped] <= searched[black_box.flipped] + 1e-6).all()
    # Every counted point is within epsilon and the model itself gives it the other decision.
    points = exact.within_epsilon_points[exact.within_epsilon]
    assert np.abs(points - z[exact.within_epsilon]).max() <= epsilon + 1e-9
    originals = features[rows][exact.within_epsilon]
    assert (predict(space.to_features(points, originals)) != predict(originals)).all()


def test_the_minimal_radius_is_where_the_models_own_decision_changes(linear: dict[str, Any]) -> None:
    features = linear["features"]
    space = Standardized.of(features)
    predict = linear["evaluation"].predict
    rows = np.arange(1, 1000, 7)
    found = linear_evasion(plan=linear["plan"], predict=predict, features=features, rows=rows, epsilon=0.1)
    z = space.to_z(features[rows])
    np.testing.assert_array_equal(found.flipped, np.isfinite(found.minimal))
    clear = np.isfinite(found.minimal) & (found.minimal > 1e-3)
    assert clear.sum() > len(rows) // 2
    # Just short of the radius, along the direction that moves the score fastest, the model keeps the decision.
    short = np.clip(z + (found.minimal * (1 - 1e-4))[:, None] * np.sign(found.adversarial - z), space.low, space.high)
    own = predict(features[rows])
    assert (predict(space.to_features(short, features[rows]))[clear] == own[clear]).all()
    assert (predict(space.to_features(found.adversarial, features[rows]))[clear] != own[clear]).all()
    np.testing.assert_array_equal(found.within_epsilon, found.minimal <= 0.1)


def test_the_piecewise_radius_solves_a_hand_worked_case() -> None:
    # |w| = (1, 2); room (0.1, 1.0): g(r) = 3r up to r = 0.1 (0.3), then 0.1 + 2r, reaching 2.1 at r = 1.
    weights = np.array([1.0, -2.0])
    room = np.array([[0.1, 1.0], [0.1, 1.0], [0.1, 1.0], [0.1, 1.0]])
    radius = minimal_linear_radius(weights, room, np.array([0.15, 0.3, 1.1, 2.5]))
    np.testing.assert_allclose(radius[:3], [0.05, 0.1, 0.5])
    assert radius[3] == np.inf


@pytest.mark.parametrize("favourable", ["1", "0"])
def test_a_skops_logistic_regression_takes_the_exact_attack_for_either_favourable_class(
    german: German, favourable: str
) -> None:
    model = LogisticRegression(max_iter=1000).fit(german.features, german.favourable)
    predictor = load_predictor(saved(sio.dumps(model), "skops"), framework="skops")
    roles = ColumnRoles(label="credit_risk", protected=("age_group",), favourable=favourable, features=FEATURES)
    evaluation = build_evaluation(german_table(german), roles, predictor=predictor)
    outcome = AdversarialCheck().run(evaluation, SETTINGS, CheckContext())
    attack = outcome.details["attack"]
    assert attack["name"] == "linear_exact"
    assert "skops LogisticRegression" in attack["attack_reason"]
    # The count, recomputed with scikit-learn alone: each sampled row moved epsilon standard deviations against
    # the sign of each weight (towards the other class), clipped to the data's range, then predicted again.
    features = evaluation.features.astype(np.float64)
    rows = seeded_rows(len(features), 60, np.random.default_rng(CheckContext().seed))
    scale = features.std(axis=0)
    x = features[rows]
    label = model.predict(x.astype(np.float32))
    toward = np.where(label[:, None] == model.classes_[1], -1.0, 1.0) * np.sign(model.coef_[0])
    moved = np.clip(x + 0.3 * scale * toward, features.min(axis=0), features.max(axis=0))
    flips = int((model.predict(moved.astype(np.float32)) != label).sum())
    assert attack["succeeded_within_epsilon"] == flips > 0
    assert attack["rows_sampled"] == 60


def test_decisions_at_another_cut_of_the_score_keep_the_exact_attack(linear: dict[str, Any]) -> None:
    # Favourable only where the probability is above 0.7: still one threshold on the log-odds, found in the data.
    model = linear["model"]
    evaluation = replace(
        linear["evaluation"],
        predict=lambda matrix: model.predict_proba(np.asarray(matrix, dtype=np.float32))[:, 1] > 0.7,
    )
    features = linear["features"]
    decisions = evaluation.predict(features)
    plan = plan_attack(evaluation, features, decisions, "hop_skip_jump")
    assert plan.attack == "linear_exact"
    scores = plan.structure.score.function(features)
    assert scores[~decisions].max() < plan.threshold < scores[decisions].min()
    rows = np.arange(2, 1000, 9)
    found = linear_evasion(plan=plan, predict=evaluation.predict, features=features, rows=rows, epsilon=0.1)
    space = Standardized.of(features)
    z = space.to_z(features[rows])
    short = np.clip(z + (found.minimal * (1 - 1e-3))[:, None] * np.sign(found.adversarial - z), space.low, space.high)
    clear = np.isfinite(found.minimal) & (found.minimal > 1e-2)
    own = evaluation.predict(features[rows])
    # The threshold lies somewhere in the gap between the data's scores: just short of the radius nothing flips.
    assert (evaluation.predict(space.to_features(short, features[rows]))[clear] == own[clear]).all()
    assert found.flipped[np.isfinite(found.minimal)].all()


def test_decisions_that_are_no_threshold_of_the_score_take_the_black_box_attack(linear: dict[str, Any]) -> None:
    own = linear["evaluation"].predict
    evaluation = replace(linear["evaluation"], predict=lambda matrix: own(matrix) ^ (np.asarray(matrix)[:, 0] > 30))
    outcome = AdversarialCheck().run(evaluation, SETTINGS | {"sample_rows": 2}, CheckContext())
    attack = outcome.details["attack"]
    assert (attack["name"], attack["exact"]) == ("hop_skip_jump", False)
    assert "does not separate its decisions by one threshold" in attack["attack_reason"]
