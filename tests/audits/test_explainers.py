"""The explainability check's fast paths, each against shap's own explainer on the same model, rows and background:
linear SHAP read from an ONNX graph or a skops estimator (shap's LinearExplainer on the scikit-learn original),
TreeSHAP on skops tree ensembles (shap's TreeExplainer), exact enumeration (shap's ExactExplainer), and the choice
between them with its reason. Models are real (fitted here, saved and loaded as an audit loads them)."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pytest
import skops.io as sio
from skl2onnx import to_onnx
from sklearn.ensemble import (
    AdaBoostClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audits.checks.base import FAIL, CheckContext
from audits.checks.explainability import ExplainabilityCheck, TimeBudget, seeded_rows
from audits.checks.explainability.explainers import choose, exact_shap, explain
from audits.evaluation import ColumnRoles, build_evaluation
from audits.policies.loader import builtin_policies, load_policy
from governance.data.demo import (
    DEMO_FEATURES,
    MAX_ITERATIONS,
    SOLVER_TOLERANCE,
    _fit_logistic_onnx,
    audit_roles,
    german_credit_csv,
    train_demo_model,
)
from registry.artifacts import load_predictor

with warnings.catch_warnings():  # shap's plotting module warns at import about matplotlib deprecations
    warnings.simplefilter("ignore")
    import shap

SEED = CheckContext().seed
TOLERANCE = 1e-6


def shap_module() -> Any:
    return shap


def drawn(features: np.ndarray, sample_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and background the check draws with its seed (the same seeded draws, in the same order)."""
    rng = np.random.default_rng(SEED)
    rows = seeded_rows(len(features), sample_rows, rng)
    return rows, features[seeded_rows(len(features), 100, rng)]


def saved(content: bytes, suffix: str) -> Path:
    path = Path(tempfile.mkdtemp()) / f"model.{suffix}"
    path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    content = german_credit_csv(with_groups=True)
    table = pv.read_csv(io.BytesIO(content))
    predictor = load_predictor(saved(train_demo_model(content), "onnx"), framework="onnx")
    evaluation = build_evaluation(table, ColumnRoles.from_json(audit_roles(DEMO_FEATURES)), predictor=predictor)
    return {"content": content, "table": table, "evaluation": evaluation}


def run(evaluation: Any, settings: dict[str, Any]) -> Any:
    return ExplainabilityCheck().run(evaluation, settings, CheckContext())


def values_of(outcome: Any) -> dict[str, float]:
    return {entry["feature"]: entry["mean_abs_shap"] for entry in outcome.details["global_importance"]}


def test_demo_onnx_linear_model_equals_shaps_linear_explainer_on_the_scikit_learn_original(
    demo: dict[str, Any],
) -> None:
    settings = dict(load_policy(builtin_policies()["eu-ai-act-high-risk"]).document["checks"]["explainability"])
    outcome = run(demo["evaluation"], settings)
    details = outcome.details
    assert details["explainer"] == "linear"
    assert details["model_structure"] == "ONNX Scaler + LinearClassifier"
    assert details["explained_output"] == "log-odds of class '1' (favourable)"
    assert "linear in its inputs" in details["explainer_note"]
    assert details["coverage"]["rows_explained"] == 500
    assert details["coverage"]["exact_shapley_values"] is True
    assert details["coverage"]["local_accuracy_gap"] < 1e-9

    # shap's LinearExplainer on the same pipeline fitted by scikit-learn (not read from the ONNX graph): Shapley
    # values on standardised inputs equal those on raw inputs (each feature is rescaled on its own).
    table = demo["table"]
    matrix = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in DEMO_FEATURES])
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=MAX_ITERATIONS, tol=SOLVER_TOLERANCE, class_weight="balanced"),
    ).fit(matrix, table.column("credit_risk").to_numpy())
    features = demo["evaluation"].features.astype(np.float64)
    rows, background = drawn(features, 500)
    # classes_ is [1, 2] (good, bad): scikit-learn's log-odds are of class 2, and class 1's are their negation.
    assert list(model.classes_) == [1, 2]
    explainer = shap_module().LinearExplainer(model[-1], model[0].transform(background))
    reference = -np.asarray(explainer.shap_values(model[0].transform(features[rows])))
    expected = np.abs(reference).mean(axis=0)
    found = values_of(outcome)
    for j, name in enumerate(DEMO_FEATURES):
        assert found[name] == pytest.approx(expected[j], abs=TOLERANCE), name
    assert details["base_value"] == pytest.approx(-float(explainer.expected_value), abs=TOLERANCE)
    for local in details["local_explanations"]:
        row = list(rows).index(local["row"])
        np.testing.assert_allclose(list(local["values"].values()), reference[row], atol=TOLERANCE)
        assert local["output"] == pytest.approx(-float(model.decision_function(features[[local["row"]]])[0]), abs=1e-5)
        assert sum(local["values"].values()) + details["base_value"] == pytest.approx(local["output"], abs=1e-9)

    # The verdict's share is computed as docs/verdicts.md says, from values that are shap's own: age (a proxy of
    # age_group) carries its share of all attribution, above the 10% limit.
    share = expected[DEMO_FEATURES.index("age")] / expected.sum()
    assert details["protected_share"] == pytest.approx(share, abs=TOLERANCE)
    assert outcome.outcome == FAIL
    assert [entry["feature"] for entry in details["counted_features"]] == ["age"]


def test_a_structure_that_does_not_reproduce_the_model_is_not_used(demo: dict[str, Any]) -> None:
    content = demo["content"]
    predictor = load_predictor(saved(train_demo_model(content), "onnx"), framework="onnx")
    other = load_predictor(
        saved(_fit_logistic_onnx(content, DEMO_FEATURES, class_weight=None), "onnx"), framework="onnx"
    )
    predictor.onnx_model = other.onnx_model  # a graph whose coefficients are not the ones the session runs
    evaluation = build_evaluation(demo["table"], ColumnRoles.from_json(audit_roles(DEMO_FEATURES)), predictor=predictor)
    outcome = run(evaluation, {"sample_rows": 20, "time_budget_seconds": 120})
    details = outcome.details
    assert details["explainer"] == "exact"  # seven inputs: every coalition, on the model's own probability
    assert details["explained_output"] == "probability of class '1' (favourable)"
    assert "does not reproduce its outputs" in details["explainer_note"]
    for local in details["local_explanations"]:
        assert sum(local["values"].values()) + details["base_value"] == pytest.approx(local["output"], abs=1e-9)


def synthetic(features: int, rows: int = 600, *, seed: int = 3) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, features)).astype(np.float32)
    logit = matrix[:, 0] - 0.8 * matrix[:, 1] + 0.5 * matrix[:, 2] * matrix[:, 3]
    labels = np.where(logit + rng.logistic(size=rows) > 0, "good", "bad")
    columns: dict[str, Any] = {f"x{j}": matrix[:, j] for j in range(features)}
    columns["label"] = labels
    columns["group"] = np.where(rng.random(rows) < 0.5, "a", "b")
    return matrix, labels, pa.table(columns)


def skops_evaluation(model: Any, table: pa.Table, width: int, favourable: str) -> Any:
    predictor = load_predictor(saved(sio.dumps(model), "skops"), framework="skops")
    roles = ColumnRoles(
        label="label", protected=("group",), favourable=favourable, features=tuple(f"x{j}" for j in range(width))
    )
    return build_evaluation(table, roles, predictor=predictor)


@pytest.mark.parametrize("favourable", ["good", "bad"])
def test_skops_logistic_regression_equals_shaps_linear_explainer(favourable: str) -> None:
    matrix, labels, table = synthetic(6)
    model = LogisticRegression().fit(matrix, labels)  # classes_ = ["bad", "good"]: the log-odds are of "good"
    evaluation = skops_evaluation(model, table, 6, favourable)
    outcome = run(evaluation, {"sample_rows": 50, "time_budget_seconds": 120})
    details = outcome.details
    assert (details["explainer"], details["model_structure"]) == ("linear", "skops LogisticRegression")
    assert details["explained_output"] == f"log-odds of class {favourable!r} (favourable)"
    rows, background = drawn(evaluation.features.astype(np.float64), 50)
    explainer = shap_module().LinearExplainer(model, background)
    sign = 1.0 if favourable == "good" else -1.0
    reference = sign * np.asarray(explainer.shap_values(evaluation.features[rows].astype(np.float64)))
    found = values_of(outcome)
    for j, value in enumerate(np.abs(reference).mean(axis=0)):
        assert found[f"x{j}"] == pytest.approx(value, abs=TOLERANCE)
    assert details["base_value"] == pytest.approx(sign * float(explainer.expected_value), abs=TOLERANCE)
    first = details["local_explanations"][0]
    np.testing.assert_allclose(list(first["values"].values()), reference[0], atol=TOLERANCE)


@pytest.mark.parametrize(
    ("make", "favourable", "output"),
    [
        (lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0), "good", "log-odds"),
        (lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0), "bad", "log-odds"),
        (lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0), "bad", "probability"),
    ],
    ids=["gradient-boosting-good", "gradient-boosting-bad", "random-forest-bad"],
)
def test_skops_tree_ensembles_equal_shaps_tree_explainer(make: Any, favourable: str, output: str) -> None:
    matrix, labels, table = synthetic(12)
    model = make().fit(matrix, labels)
    evaluation = skops_evaluation(model, table, 12, favourable)
    outcome = run(evaluation, {"sample_rows": 60, "time_budget_seconds": 120})
    details = outcome.details
    assert details["explainer"] == "tree"
    assert details["explained_output"] == f"{output} of class {favourable!r} (favourable)"
    assert "tree ensemble" in details["explainer_note"]
    rows, background = drawn(evaluation.features.astype(np.float64), 60)
    explainer = shap_module().TreeExplainer(model, background, feature_perturbation="interventional")
    reference = np.asarray(explainer.shap_values(evaluation.features[rows].astype(np.float64)))
    index = list(model.classes_).index(favourable)
    if reference.ndim == 3:  # a forest: one output per class
        reference = reference[:, :, index]
    elif index == 0:  # boosting: the log-odds of classes_[1]; the other class's are their negation
        reference = -reference
    found = values_of(outcome)
    for j, value in enumerate(np.abs(reference).mean(axis=0)):
        assert found[f"x{j}"] == pytest.approx(value, abs=TOLERANCE)
    # Local accuracy against the model's own score (scikit-learn's, not shap's).
    features = evaluation.features
    for local in details["local_explanations"]:
        x = features[[local["row"]]]
        own = (
            model.predict_proba(x)[0, index]
            if output == "probability"
            else (1 if index == 1 else -1) * model.decision_function(x)[0]
        )
        assert local["output"] == pytest.approx(own, abs=1e-9)
        assert sum(local["values"].values()) + details["base_value"] == pytest.approx(own, abs=TOLERANCE)


def test_exact_enumeration_equals_shaps_exact_explainer() -> None:
    matrix, labels, _ = synthetic(7)
    model = AdaBoostClassifier(n_estimators=15, random_state=0).fit(matrix, labels)

    def probability(x: np.ndarray) -> np.ndarray:
        return model.predict_proba(np.asarray(x, dtype=np.float32))[:, 1]

    features = matrix.astype(np.float64)
    rows, background = np.arange(12), features[100:130]
    found = exact_shap(score=probability, features=features, rows=rows, background=background, budget=TimeBudget(120))
    shap = shap_module()
    explainer = shap.ExactExplainer(probability, shap.maskers.Independent(background, max_samples=len(background)))
    reference = explainer(features[rows])
    np.testing.assert_allclose(found.values, reference.values, atol=TOLERANCE)
    assert found.base_value == pytest.approx(float(np.ravel(reference.base_values)[0]), abs=TOLERANCE)
    np.testing.assert_allclose(found.outputs, probability(features[rows]), atol=1e-12)
    assert found.exact
    assert found.coalitions == 2**7


@pytest.mark.parametrize(("width", "explainer"), [(7, "exact"), (10, "exact"), (11, "kernel")])
def test_a_model_without_readable_structure_is_queried_for_its_probability(width: int, explainer: str) -> None:
    matrix, labels, table = synthetic(width)
    model = AdaBoostClassifier(n_estimators=10, random_state=0).fit(matrix, labels)
    evaluation = skops_evaluation(model, table, width, "good")
    choice = choose(
        model=evaluation.model,
        favourable="good",
        decide=evaluation.predict,
        features=evaluation.features.astype(np.float64),
        probabilities=evaluation.scores is not None,
        no_probability_reason=evaluation.no_scores_reason,
    )
    assert choice.explainer == explainer
    assert choice.score.output == "probability of class 'good' (favourable)"
    assert "AdaBoostClassifier is neither a linear model nor a tree ensemble" in choice.reason
    assert ("at most 10" if explainer == "exact" else "more than 10") in choice.reason
    np.testing.assert_allclose(
        choice.score.function(matrix[:5]), model.predict_proba(matrix[:5])[:, list(model.classes_).index("good")]
    )


def test_decisions_alone_are_explained_as_decisions() -> None:
    matrix, _, _ = synthetic(4)
    choice = choose(
        model=None,
        favourable="1",
        decide=lambda x: (np.asarray(x)[:, 0] > 0).astype(float),
        features=matrix.astype(np.float64),
        probabilities=False,
        no_probability_reason="",
    )
    assert (choice.explainer, choice.score.kind) == ("exact", "decision")
    assert "no model object was given" in choice.reason


def onnx_bytes(model: Any, sample: np.ndarray) -> bytes:
    options = {id(model): {"zipmap": False}} if hasattr(model, "classes_") else None
    return to_onnx(model, sample[:1], options=options).SerializeToString()


@pytest.mark.parametrize("favourable", ["good", "bad"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
    ],
    ids=["gradient-boosting", "random-forest"],
)
def test_an_onnx_tree_ensemble_gives_the_values_of_its_skops_original(make: Any, favourable: str) -> None:
    matrix, labels, table = synthetic(12)
    model = make().fit(matrix, labels)
    roles = ColumnRoles(
        label="label", protected=("group",), favourable=favourable, features=tuple(f"x{j}" for j in range(12))
    )
    onnx_model = load_predictor(saved(onnx_bytes(model, matrix), "onnx"), framework="onnx")
    from_onnx = run(
        build_evaluation(table, roles, predictor=onnx_model), {"sample_rows": 60, "time_budget_seconds": 120}
    )
    from_skops = run(skops_evaluation(model, table, 12, favourable), {"sample_rows": 60, "time_budget_seconds": 120})
    assert from_onnx.details["explainer"] == "tree"
    assert from_onnx.details["model_structure"] == "ONNX TreeEnsembleClassifier"
    assert from_onnx.details["explained_output"] == from_skops.details["explained_output"]
    assert from_onnx.details["base_value"] == pytest.approx(from_skops.details["base_value"], abs=TOLERANCE)
    for mine, original in zip(
        from_onnx.details["local_explanations"], from_skops.details["local_explanations"], strict=True
    ):
        assert mine["row"] == original["row"]
        assert mine["output"] == pytest.approx(original["output"], abs=TOLERANCE)
        np.testing.assert_allclose(list(mine["values"].values()), list(original["values"].values()), atol=TOLERANCE)
    assert values_of(from_onnx) == pytest.approx(values_of(from_skops), abs=TOLERANCE)


@pytest.mark.parametrize(
    ("make", "explainer"),
    [
        (LinearRegression, "linear"),
        (lambda: GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0), "tree"),
    ],
    ids=["linear-regression", "gradient-boosting-regressor"],
)
def test_onnx_regressors_are_read_and_equal_shaps_explainers(make: Any, explainer: str) -> None:
    matrix, _, _ = synthetic(5)
    target = matrix[:, 0] - 2 * matrix[:, 1] + matrix[:, 2] * matrix[:, 3]
    model = make().fit(matrix, target)
    predictor = load_predictor(saved(onnx_bytes(model, matrix), "onnx"), framework="onnx")
    features = matrix.astype(np.float64)
    choice = choose(
        model=predictor,
        favourable="1",
        decide=lambda x: np.zeros(len(x)),
        features=features,
        probabilities=False,
        no_probability_reason="",
    )
    assert (choice.explainer, choice.score.output) == (explainer, "the model's predicted value")
    rows, background = np.arange(40), features[100:200]
    found = explain(choice, features=features, rows=rows, background=background, budget=TimeBudget(120), seed=SEED)
    reference = (
        shap.LinearExplainer(model, background)
        if explainer == "linear"
        else shap.TreeExplainer(model, background, feature_perturbation="interventional")
    )
    np.testing.assert_allclose(found.values, reference.shap_values(features[rows]), atol=1e-5)
    np.testing.assert_allclose(found.outputs, model.predict(matrix[rows]), atol=1e-5)
