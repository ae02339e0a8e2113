"""The adversarial check's exact attack on tree ensembles, against answers found outside it: a brute-force search
over every cell the trees' thresholds cut the epsilon box into (a tree ensemble is constant on each, so the search
is exhaustive), ART's DecisionTreeAttack (a flipping point on a single tree, never closer than the exact minimum),
ART's robustness verification of tree ensembles (a row it proves robust must not be flipped) and HopSkipJump (it
can only find flips the exact attack finds too). Models are real: fitted here, saved with skops or exported with
skl2onnx, and loaded as an audit loads them."""

from __future__ import annotations

import itertools
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import skops.io as sio
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from audits.checks.adversarial import AdversarialCheck, Standardized, bounded_evasion
from audits.checks.adversarial.structural import plan_attack
from audits.checks.adversarial.trees import extreme_point, minimal_change, tree_evasion
from audits.checks.base import CheckContext
from audits.checks.explainability import TimeBudget
from audits.evaluation import ColumnRoles, build_evaluation
from registry.artifacts import load_predictor

with warnings.catch_warnings():  # ART warns at import about optional deep-learning frameworks
    warnings.simplefilter("ignore")
    from art.attacks.evasion import DecisionTreeAttack
    from art.estimators.classification.scikitlearn import (
        ScikitlearnDecisionTreeClassifier,
        ScikitlearnGradientBoostingClassifier,
    )
    from art.metrics import RobustnessVerificationTreeModelsCliqueMethod

BASIS = {"text": "t", "citation": "c"}
SETTINGS = {
    "sample_rows": 30,
    "time_budget_seconds": 120,
    "epsilon": {"value": 0.3, "operator": "<=", "basis": BASIS},
    "max_success_rate": {"value": 0.5, "operator": "<=", "basis": BASIS},
}


def synthetic(width: int, rows: int = 400, *, seed: int = 3, same_spread: bool = False) -> tuple[np.ndarray, Any]:
    """Features and labels with an interaction, as the explainability tests use. ``same_spread``: every feature is
    a permutation of one column in [0, 1], so all share one standard deviation and range (ART's verification needs
    inputs in [0, 1] and one epsilon for every feature)."""
    rng = np.random.default_rng(seed)
    if same_spread:
        column = rng.uniform(size=rows)
        matrix = np.column_stack([rng.permutation(column) for _ in range(width)]).astype(np.float32)
        centred = (matrix - 0.5) * 4
    else:
        matrix = rng.normal(size=(rows, width)).astype(np.float32)
        centred = matrix
    logit = centred[:, 0] - 0.8 * centred[:, 1] + 0.5 * centred[:, 2] * centred[:, 3]
    labels = np.where(logit + rng.logistic(size=rows) > 0, "good", "bad")
    return matrix, labels


def evaluation_of(model: Any, matrix: np.ndarray, labels: np.ndarray, *, onnx: bool = False) -> Any:
    width = matrix.shape[1]
    if onnx:
        content = to_onnx(model, matrix[:1], options={id(model): {"zipmap": False}}).SerializeToString()
    else:
        content = sio.dumps(model)
    path = Path(tempfile.mkdtemp()) / ("model.onnx" if onnx else "model.skops")
    path.write_bytes(content)
    predictor = load_predictor(path, framework="onnx" if onnx else "skops")
    columns: dict[str, Any] = {f"x{j}": matrix[:, j] for j in range(width)}
    columns["label"] = labels
    columns["group"] = np.where(np.arange(len(labels)) % 2 == 0, "a", "b")
    roles = ColumnRoles(
        label="label", protected=("group",), favourable="good", features=tuple(f"x{j}" for j in range(width))
    )
    return build_evaluation(pa.table(columns), roles, predictor=predictor)


def planned(evaluation: Any) -> tuple[np.ndarray, Any]:
    features = np.asarray(evaluation.features, dtype=np.float64)
    decisions = np.asarray(evaluation.predict(features), dtype=bool)
    return features, plan_attack(evaluation, features, decisions, "hop_skip_jump")


def boxes(features: np.ndarray, rows: np.ndarray, epsilon: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    space = Standardized.of(features)
    radius = epsilon * space.scale
    return [
        (x, np.maximum(features.min(axis=0), x - radius), np.minimum(features.max(axis=0), x + radius))
        for x in features[rows]
    ]


def test_the_extreme_score_equals_a_search_of_every_cell_of_the_box() -> None:
    matrix, labels = synthetic(4)
    model = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(matrix, labels)
    evaluation = evaluation_of(model, matrix, labels)
    features, plan = planned(evaluation)
    assert plan.attack == "tree_exact"
    for x, low, high in boxes(features, np.arange(0, 400, 40), 0.3):
        # The trees are constant between consecutive thresholds: one point per interval per feature covers them all.
        axes = []
        for j in range(4):
            cuts = {
                float(np.float32(t))
                for e in model.estimators_[:, 0]
                for t, f in zip(e.tree_.threshold, e.tree_.feature, strict=True)
                if f == j
            }
            inside = sorted(c for c in cuts if low[j] <= c < high[j])
            edges = [low[j], *inside, high[j]]
            axes.append([low[j]] + [(a + b) / 2 for a, b in itertools.pairwise(edges) if b > a] + [high[j]])
        grid = np.array(list(itertools.product(*axes)))
        grid = np.clip(grid, low, high)
        scores = model.decision_function(grid.astype(np.float32))  # log-odds of "good", the favourable class
        for lowest, expected in ((True, scores.min()), (False, scores.max())):
            point, score = extreme_point(plan.ensemble, x, low, high, lowest=lowest)
            assert score == pytest.approx(expected, abs=1e-9)
            assert (point >= low - 1e-12).all()
            assert (point <= high + 1e-12).all()
            assert model.decision_function(point[None].astype(np.float32))[0] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("make", "source"),
    [
        (lambda: DecisionTreeClassifier(max_depth=6, random_state=0), "skops DecisionTreeClassifier"),
        (lambda: RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0), "skops RandomForestClassifier"),
        (lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0), "skops HistGradientBoostingClassifier"),
    ],
    ids=["tree", "forest", "hist-boosting"],
)
def test_the_check_runs_the_exact_tree_attack_and_flips_every_row_hop_skip_jump_does(make: Any, source: str) -> None:
    matrix, labels = synthetic(6)
    model = make().fit(matrix, labels)
    evaluation = evaluation_of(model, matrix, labels)
    outcome = AdversarialCheck().run(evaluation, SETTINGS, CheckContext())
    attack = outcome.details["attack"]
    assert (attack["name"], attack["exact"]) == ("tree_exact", True)
    assert source in attack["attack_reason"]
    assert attack["rows_attacked"] == 30
    assert "the exact attack on the trees flipped" in outcome.reason.lower()
    features, plan = planned(evaluation)
    rows = np.arange(0, 400, 40)
    exact = tree_evasion(
        ensemble=plan.ensemble,
        threshold=plan.threshold,
        predict=evaluation.predict,
        features=features,
        rows=rows,
        epsilon=0.3,
        budget=TimeBudget(120),
    )
    black_box = bounded_evasion(
        attack="hop_skip_jump",
        predict=evaluation.predict,
        features=features,
        rows=rows,
        epsilon=0.3,
        budget=TimeBudget(120),
        seed=7,
    )
    assert (exact.within_epsilon | ~black_box.within_epsilon).all()
    # Every counted point lies within epsilon and the model itself decides it otherwise.
    space = Standardized.of(features)
    z = space.to_z(features[rows])
    counted = exact.within_epsilon
    assert counted.any()
    assert np.abs(exact.within_epsilon_points - z)[counted].max() <= 0.3 + 1e-9
    points = space.to_features(exact.within_epsilon_points[counted], features[rows][counted])
    assert (evaluation.predict(points) != evaluation.predict(features[rows][counted])).all()
    # The smallest change (a separate programme over the data's whole range) agrees with the epsilon question.
    known = ~np.isnan(exact.minimal)
    np.testing.assert_array_equal(exact.minimal[known] <= 0.3, exact.within_epsilon[known])
    searched = np.abs(black_box.adversarial - z).max(axis=1)
    both = known & black_box.flipped
    assert (exact.minimal[both] <= searched[both] + 1e-6).all()


def test_no_flip_is_closer_than_arts_decision_tree_attack_finds() -> None:
    matrix, labels = synthetic(6)
    model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(matrix, labels)
    evaluation = evaluation_of(model, matrix, labels)
    features, plan = planned(evaluation)
    space = Standardized.of(features)
    rows = np.arange(0, 400, 20)
    art = DecisionTreeAttack(ScikitlearnDecisionTreeClassifier(model), offset=1e-4, verbose=False).generate(
        features[rows].astype(np.float32)
    )
    art_distance = np.abs(space.to_z(art.astype(np.float64)) - space.to_z(features[rows])).max(axis=1)
    flipped = model.predict(art) != model.predict(features[rows].astype(np.float32))
    assert flipped.sum() > len(rows) // 2
    own = evaluation.predict(features[rows])
    for i in np.flatnonzero(flipped):
        x = features[rows[i]]
        radius, point = minimal_change(
            plan.ensemble,
            x,
            space.scale,
            features.min(axis=0),
            features.max(axis=0),
            target=plan.threshold,
            down=bool(own[i]),
        )
        assert radius <= art_distance[i] + 1e-3
        assert point is not None
        assert evaluation.predict(point[None])[0] != own[i]
        assert np.abs(space.to_z(point[None]) - space.to_z(x[None])).max() == pytest.approx(radius, abs=1e-5)


def test_a_row_arts_verification_proves_robust_is_never_flipped() -> None:
    matrix, labels = synthetic(4, same_spread=True)
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(matrix, labels)
    evaluation = evaluation_of(model, matrix, labels)
    features, plan = planned(evaluation)
    scale = float(Standardized.of(features).scale[0])
    rows = np.arange(0, 400, 20)
    epsilon = 0.15
    exact = tree_evasion(
        ensemble=plan.ensemble,
        threshold=plan.threshold,
        predict=evaluation.predict,
        features=features,
        rows=rows,
        epsilon=epsilon,
        budget=TimeBudget(120),
    )
    verifier = RobustnessVerificationTreeModelsCliqueMethod(ScikitlearnGradientBoostingClassifier(model), verbose=False)
    proved = []
    for row in rows:
        x = features[row : row + 1].astype(np.float32)
        label = model.predict(x)
        _, unverified = verifier.verify(
            x, (label == model.classes_[1]).astype(int), eps_init=epsilon * scale, nb_search_steps=1, max_level=4
        )
        proved.append(unverified == 0)
    proved = np.asarray(proved)
    assert proved.any()
    assert exact.within_epsilon.any()
    assert not (proved & exact.within_epsilon).any()


def test_an_onnx_forest_gives_the_same_attack_as_its_skops_original() -> None:
    matrix, labels = synthetic(6)
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(matrix, labels)
    from_skops = AdversarialCheck().run(evaluation_of(model, matrix, labels), SETTINGS, CheckContext())
    from_onnx = AdversarialCheck().run(evaluation_of(model, matrix, labels, onnx=True), SETTINGS, CheckContext())
    assert from_onnx.details["attack"]["name"] == "tree_exact"
    assert "ONNX TreeEnsembleClassifier" in from_onnx.details["attack"]["attack_reason"]
    for key in ("succeeded_within_epsilon", "rows_attacked"):
        assert from_onnx.details["attack"][key] == from_skops.details["attack"][key]


def test_a_spent_budget_stops_the_tree_attack_and_says_so() -> None:
    matrix, labels = synthetic(6)
    model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(matrix, labels)
    evaluation = evaluation_of(model, matrix, labels)
    features, plan = planned(evaluation)
    stopped = tree_evasion(
        ensemble=plan.ensemble,
        threshold=plan.threshold,
        predict=evaluation.predict,
        features=features,
        rows=np.arange(10),
        epsilon=0.3,
        budget=TimeBudget(0.0),
    )
    assert stopped.stopped_by_time_budget is True
    assert len(stopped.rows) == 0
    assert stopped.rows_sampled == 10
