"""Scores from the model itself when an audit takes its decisions from the version's artifact.

Known answers from outside the project: classifiers trained here with scikit-learn on UCI German credit and UCI Adult
(the shared known-answer data, see SOURCES.md there), exported with skl2onnx or saved with skops, registered and
audited through the actions. The audit's ROC-AUC must equal scikit-learn's ``roc_auc_score`` on the estimator's own
``predict_proba`` column for the favourable class, computed here. German credit's favourable class (1, good risk) is
the first of the model's classes and Adult's (">50K") the second, so a scorer that took a fixed column would fail one
of them. A model without class probabilities, or whose probability columns do not say which class they are, leaves
ROC-AUC uncomputed and the check says why. A high-risk model audited under eu-ai-act-high-risk from its artifact has
every check judged.
"""

from __future__ import annotations

import functools
import io
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from audits import actions as audits
from audits.checks.base import INSUFFICIENT, PASS, CheckContext
from audits.checks.explainability import ExplainabilityCheck
from audits.evaluation import ColumnRoles, build_evaluation
from audits.models import AuditRun, Policy
from governance.data.demo import GERMAN_COLUMNS, SEX_OF_PERSONAL_STATUS
from governance.trail.log import Actor
from registry import actions as registry
from registry.artifacts import ProbabilitiesUnavailable, label_text, load_predictor
from registry.models import ModelVersion
from tests import ADULT_COLUMNS, KNOWN_ANSWER_DATA
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

TOLERANCE = 1e-9

# German credit: a few numeric attributes and indicators of the categorical ones (german.doc's codes), enough for a
# linear model to rank applicants well (ROC-AUC about 0.77) without the protected attribute or age among its inputs.
GERMAN_FEATURES = (
    "duration_months",
    "credit_amount",
    "checking_below_0_dm",  # attribute 1, A11
    "checking_0_to_200_dm",  # attribute 1, A12
    "no_checking_account",  # attribute 1, A14
    "critical_account",  # attribute 3, A34
    "savings_below_100_dm",  # attribute 6, A61
)
GERMAN_ROLES = {"label": "credit_risk", "favourable": "1", "protected": ["sex"], "features": list(GERMAN_FEATURES)}
ADULT_FEATURES = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")
ADULT_ROLES = {"label": "income", "favourable": ">50K", "protected": ["sex"], "features": list(ADULT_FEATURES)}


@dataclass(frozen=True)
class Known:
    """Rows to train on, rows to audit (as CSV, and as the arrays the known answer is computed from)."""

    train_X: np.ndarray
    train_y: np.ndarray
    audit_csv: bytes
    audit_X: np.ndarray
    audit_y: np.ndarray
    roles: dict[str, Any]


@functools.cache
def german() -> pd.DataFrame:
    path = KNOWN_ANSWER_DATA / "german.data"
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    raw = pd.read_csv(path, sep=" ", header=None, names=list(GERMAN_COLUMNS))
    assert len(raw) == 1000
    return pd.DataFrame(
        {
            "duration_months": raw["duration_months"],
            "credit_amount": raw["credit_amount"],
            "checking_below_0_dm": (raw["checking_status"] == "A11").astype(int),
            "checking_0_to_200_dm": (raw["checking_status"] == "A12").astype(int),
            "no_checking_account": (raw["checking_status"] == "A14").astype(int),
            "critical_account": (raw["credit_history"] == "A34").astype(int),
            "savings_below_100_dm": (raw["savings"] == "A61").astype(int),
            "sex": raw["personal_status_sex"].map(SEX_OF_PERSONAL_STATUS),
            "credit_risk": raw["credit_risk"],  # 1 good, 2 bad
        }
    )


@functools.cache
def adult() -> pd.DataFrame:
    path = KNOWN_ANSWER_DATA / "adult.data"
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    return pd.read_csv(path, header=None, names=list(ADULT_COLUMNS), skipinitialspace=True, nrows=2400)


def known(frame: pd.DataFrame, roles: dict[str, Any], *, train: slice, audit: slice) -> Known:
    features, label = list(roles["features"]), roles["label"]
    rows = frame.iloc[audit]
    out = io.StringIO()
    rows[[*features, *roles["protected"], label]].to_csv(out, index=False)
    return Known(
        train_X=frame.iloc[train][features].to_numpy(np.float32),
        train_y=frame.iloc[train][label].to_numpy(),
        audit_csv=out.getvalue().encode("ascii"),
        audit_X=rows[features].to_numpy(np.float32),  # the audit reads its features as float32 too
        audit_y=rows[label].to_numpy(),
        roles=roles,
    )


def german_known(*, train: slice = slice(0, 700), audit: slice = slice(700, 1000)) -> Known:
    return known(german(), GERMAN_ROLES, train=train, audit=audit)


def adult_known() -> Known:
    return known(adult(), ADULT_ROLES, train=slice(0, 1600), audit=slice(1600, 2400))


def onnx_tensor(model: Any, X: np.ndarray) -> tuple[bytes, str]:
    """skl2onnx without ZipMap: probabilities as a tensor, its classes named on the classifier node."""
    return to_onnx(model, X[:1], options={id(model): {"zipmap": False}}).SerializeToString(), "model.onnx"


def onnx_default(model: Any, X: np.ndarray) -> tuple[bytes, str]:
    """skl2onnx's defaults: for a classifier with probabilities, one {class: probability} map per row (ZipMap)."""
    return to_onnx(model, X[:1]).SerializeToString(), "model.onnx"


def skops_file(model: Any, X: np.ndarray) -> tuple[bytes, str]:
    return skops.io.dumps(model), "model.skops"


def scaled_logistic() -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def small_forest() -> Any:
    return RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0, n_jobs=1)


def small_boosting() -> Any:
    return GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0)


def fit(model: Any, data: Known) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the known answer is computed from the same fit
        return model.fit(data.train_X, data.train_y)


def sklearn_roc_auc(model: Any, data: Known) -> float:
    """The known answer: scikit-learn's ROC-AUC of the estimator's probability of the favourable class."""
    favourable = data.roles["favourable"]
    column = [label_text(c) for c in model.classes_].index(favourable)
    y_true = np.array([label_text(v) for v in data.audit_y]) == favourable
    return float(roc_auc_score(y_true, model.predict_proba(data.audit_X)[:, column]))


def register(cast: Cast, artifact: tuple[bytes, str], *, tier: str = "minimal") -> ModelVersion:
    content, name = artifact
    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(content)
    return registry.do_register_version(
        model=register_model(cast, tier),
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        artifact_path=path,
        artifact_name=name,
    )


def audit(
    cast: Cast, version: ModelVersion, data: Known, *, policy: str = "baseline", roles: dict | None = None
) -> AuditRun:
    audits.ensure_builtin_policies()
    policy_version = Policy.objects.get(name=policy).latest_version()
    assert policy_version is not None
    dataset_version = make_file_version(cast, make_dataset(cast, "evaluation"), data.audit_csv, name="evaluation.csv")
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=policy_version,
        column_roles=roles or data.roles,
    )
    return audits.execute_audit(run.pk)


# --- ROC-AUC from the model equals scikit-learn's --------------------------------------------------------------------

CASES: dict[str, tuple[Callable[[], Known], Callable[[], Any], Callable[[Any, np.ndarray], tuple[bytes, str]]]] = {
    "onnx-logistic-tensor-german": (german_known, scaled_logistic, onnx_tensor),
    "onnx-boosting-tensor-german": (german_known, small_boosting, onnx_tensor),
    "onnx-forest-zipmap-adult": (adult_known, small_forest, onnx_default),
    "skops-logistic-adult": (adult_known, scaled_logistic, skops_file),
    "skops-forest-german": (german_known, small_forest, skops_file),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_roc_auc_from_the_model_is_scikit_learns_on_the_favourable_class(
    cast: Cast, media_root: Path, case: str
) -> None:
    make_data, make_model, export = CASES[case]
    data = make_data()
    model = fit(make_model(), data)
    version = register(cast, export(model, data.train_X))

    run = audit(cast, version, data)

    assert run.status == "done", run.error
    performance = run.results["checks"]["performance"]
    assert performance["overall"]["roc_auc"] == pytest.approx(sklearn_roc_auc(model, data), abs=TOLERANCE)
    assert performance["outcome"] == PASS, performance["reason"]  # baseline asks for better than chance (0.5)
    # A model that decides is a selection tool although it now gives scores too: baseline's by_output rate stays the
    # selection rate (LL144's scoring rate is for tools whose output is a score).
    assert run.results["checks"]["disparate_impact"]["rate"] == "selection_rate"


# --- no probabilities: ROC-AUC is not computed, and the reason says why ----------------------------------------------

NO_PROBABILITIES = "the model gives no class probabilities (LinearSVC has no predict_proba)"
NO_SCORES = {
    "skops-linear-svc": (LinearSVC, skops_file, NO_PROBABILITIES),
    # skl2onnx names LinearSVC's decision scores "probabilities": their rows do not add up to 1.
    "onnx-linear-svc": (LinearSVC, onnx_default, "is not class probabilities"),
    # Gaussian naive Bayes computes its probabilities with plain tensor operators that name no class.
    "onnx-naive-bayes-tensor": (GaussianNB, onnx_tensor, "does not say which class each of its columns is"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(NO_SCORES))
def test_a_model_without_usable_probabilities_leaves_roc_auc_uncomputed_and_says_why(
    cast: Cast, media_root: Path, case: str
) -> None:
    make_model, export, why = NO_SCORES[case]
    data = german_known()
    version = register(cast, export(fit(make_model(), data), data.train_X))

    run = audit(cast, version, data)

    assert run.status == "done", run.error
    performance = run.results["checks"]["performance"]
    assert performance["outcome"] == INSUFFICIENT
    assert performance["reason"].startswith("roc_auc could not be computed: ")
    assert why in performance["reason"]
    assert "roc_auc" not in performance["overall"]
    assert [(t["metric"], t["value"]) for t in performance["thresholds"]] == [("roc_auc", None)]
    # The decisions are still the model's, and judged as such.
    assert performance["overall"]["accuracy"] is not None


# --- a high-risk model under eu-ai-act-high-risk --------------------------------------------------------------------


@pytest.fixture
def high_risk(cast: Cast, media_root: Path) -> dict[str, Any]:
    """A logistic regression on German credit, registered as version 1 of a high-risk model (ONNX), and audited on
    the rows it was trained on: the policy's group-fairness intervals (at most 0.2 wide) need all 1000 of them."""
    data = german_known(train=slice(0, 1000), audit=slice(0, 1000))
    model = fit(scaled_logistic(), data)
    return {"data": data, "model": model, "version": register(cast, onnx_tensor(model, data.train_X), tier="high")}


@pytest.mark.django_db
def test_a_high_risk_model_audited_from_its_artifact_has_every_check_of_its_policy_judged(
    cast: Cast, high_risk: dict[str, Any]
) -> None:
    data, model = high_risk["data"], high_risk["model"]
    assert high_risk["version"].model.risk_tier == "high"

    run = audit(cast, high_risk["version"], data, policy="eu-ai-act-high-risk")

    assert run.status == "done", run.error
    checks = run.results["checks"]
    assert set(checks) == {"data_quality", "performance", "group_fairness", "explainability", "adversarial"}
    assert {name: check["outcome"] for name, check in checks.items()} == dict.fromkeys(checks, PASS), {
        name: check["reason"] for name, check in checks.items()
    }
    assert (run.verdict, run.results["verdict"]) == (PASS, PASS)
    performance = checks["performance"]
    assert performance["overall"]["roc_auc"] == pytest.approx(sklearn_roc_auc(model, data), abs=TOLERANCE)
    assert {t["metric"]: t["value"] >= t["limit"] for t in performance["thresholds"]} == {
        "accuracy": True,
        "roc_auc": True,
    }
    explained = checks["explainability"]["coverage"]
    assert explained["rows_explained"] == explained["rows_sampled"] == 500
    assert explained["exact_shapley_values"] is True  # seven inputs: every coalition is evaluated
    attack = checks["adversarial"]["attack"]
    assert attack["rows_attacked"] == attack["rows_sampled"] == 200
    assert not any("could not be computed" in check["reason"] for check in checks.values())


# --- decisions from the dataset's columns although the version has an artifact --------------------------------------


def with_decisions(data: Known, model: Any) -> Known:
    """``data`` with the model's own decisions and probabilities as columns of the evaluation dataset."""
    frame = pd.read_csv(io.BytesIO(data.audit_csv))
    frame["decision"] = model.predict(data.audit_X)
    frame["probability"] = model.predict_proba(data.audit_X)[:, list(model.classes_).index(1)].round(6)
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return replace(data, audit_csv=out.getvalue().encode("ascii"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("columns", "named"),
    [
        ({"prediction": "decision"}, "prediction column 'decision'"),
        ({"score": "probability", "threshold": 0.5}, "score column 'probability'"),
    ],
    ids=["prediction", "score"],
)
def test_checks_that_need_the_model_say_the_audit_used_the_datasets_columns_and_how_to_audit_the_model(
    cast: Cast, high_risk: dict[str, Any], columns: dict[str, Any], named: str
) -> None:
    data = with_decisions(high_risk["data"], high_risk["model"])

    run = audit(cast, high_risk["version"], data, policy="eu-ai-act-high-risk", roles={**data.roles, **columns})

    assert run.status == "done", run.error
    checks = run.results["checks"]
    for name in ("explainability", "adversarial"):
        assert checks[name]["outcome"] == INSUFFICIENT
        reason = checks[name]["reason"]
        assert f"this audit used the dataset's {named} instead of it" in reason
        # The engine knows the version has an artifact, so the refusal says so and how to audit it.
        assert "The version has a model artifact: leave prediction and score out of column_roles" in reason
        assert "predictions only" not in reason
    assert run.verdict == INSUFFICIENT


def test_the_refusal_says_whether_the_version_has_an_artifact_when_the_caller_knows() -> None:
    table = pa.table({"label": ["1", "0", "1", "0"], "sex": ["f", "f", "m", "m"], "decision": ["1", "0", "0", "0"]})
    roles = ColumnRoles(label="label", protected=("sex",), prediction="decision")
    reasons = {
        known_artifact: ExplainabilityCheck()
        .run(build_evaluation(table, roles, model_artifact=known_artifact), {}, CheckContext())
        .reason
        for known_artifact in (True, False)
    }

    assert reasons[True].endswith(
        "The version has a model artifact: leave prediction and score out of column_roles to audit the model."
    )
    assert reasons[False].endswith(
        "The version has no model artifact (predictions only): register one with its ONNX or skops artifact."
    )


# --- the Predictor's classes, read from the model's own metadata ----------------------------------------------------


@pytest.fixture(scope="module")
def german_models() -> dict[str, Any]:
    data = german_known()
    return {"data": data, "logistic": fit(scaled_logistic(), data), "naive_bayes": fit(GaussianNB(), data)}


@pytest.mark.parametrize(
    ("export", "classes"),
    [(onnx_tensor, ["1", "2"]), (onnx_default, ["1", "2"]), (skops_file, ["1", "2"])],
    ids=["onnx-tensor", "onnx-zipmap", "skops"],
)
def test_class_labels_follow_the_probability_columns(
    tmp_path: Path, german_models: dict[str, Any], export: Any, classes: list[str]
) -> None:
    data, model = german_models["data"], german_models["logistic"]
    content, name = export(model, data.train_X)
    (tmp_path / name).write_bytes(content)
    predictor = load_predictor(tmp_path / name, framework=name.rsplit(".", 1)[1])

    assert predictor.class_labels() == classes == [label_text(c) for c in model.classes_]
    np.testing.assert_allclose(
        predictor.probability_of(data.audit_X, "2"), model.predict_proba(data.audit_X)[:, 1], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ProbabilitiesUnavailable, match=r"the model's classes \('1', '2'\) do not include 'good'"):
        predictor.probability_of(data.audit_X, "good")


def test_a_probability_tensor_without_class_labels_is_not_guessed(tmp_path: Path, german_models: dict) -> None:
    data, model = german_models["data"], german_models["naive_bayes"]
    content, name = onnx_tensor(model, data.train_X)
    (tmp_path / name).write_bytes(content)
    predictor = load_predictor(tmp_path / name, framework="onnx")

    assert predictor.class_labels() is None
    assert predictor.predict_proba(data.audit_X) is not None  # the probabilities are there; their order is not said
    with pytest.raises(ProbabilitiesUnavailable, match="does not say which class each of its columns is"):
        predictor.probability_of(data.audit_X, "1")


@pytest.mark.parametrize(("value", "text"), [(1.0, "1"), (np.float32(2.0), "2"), (np.int64(1), "1"), (0.5, "0.5")])
def test_labels_read_as_the_label_columns_text(value: Any, text: str) -> None:
    assert label_text(value) == text
    assert label_text(np.str_(">50K")) == ">50K"
