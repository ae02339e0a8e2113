"""Audits that score a model artifact: the version's ONNX model decides, through onnxruntime, row by row."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pyarrow.csv as pv
import pytest

from audits import actions as audits
from audits.models import AuditRun, Policy
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.trail.log import Actor
from registry import actions as registry
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

ROLES = {"label": "credit_risk", "favourable": "1", "protected": ["age_group"], "features": list(DEMO_FEATURES)}


@pytest.fixture
def onnx_version(cast: Cast, media_root: Path) -> dict[str, Any]:
    """The demo model (ONNX) as version 1 of a model, and German credit (with age groups) as a dataset version."""
    content = german_credit_csv(with_groups=True)
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), content, name="german.csv")
    model = register_model(cast, "minimal")
    artifact = Path(tempfile.mkdtemp()) / "model.onnx"
    artifact.write_bytes(train_demo_model(content))
    version = registry.do_register_version(
        model=model,
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        artifact_path=artifact,
        artifact_name="model.onnx",
    )
    audits.ensure_builtin_policies()
    return {"version": version, "dataset_version": dataset_version, "content": content, "artifact": artifact}


def start(cast: Cast, inputs: dict[str, Any], roles: dict[str, Any], policy: str = "four-fifths") -> AuditRun:
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=inputs["version"],
        dataset_version=inputs["dataset_version"],
        policy_version=Policy.objects.get(name=policy).latest_version(),
        column_roles=roles,
    )
    return audits.execute_audit(run.pk)


@pytest.mark.django_db
def test_the_models_own_decisions_are_audited(cast: Cast, onnx_version: dict[str, Any]) -> None:
    run = start(cast, onnx_version, ROLES)

    assert (run.status, run.verdict) == ("done", "fail")
    # The decisions the audit judged are the ones onnxruntime gives for the same rows.
    table = pv.read_csv(io.BytesIO(onnx_version["content"]))
    features = np.column_stack([table.column(n).to_numpy().astype(np.float32) for n in DEMO_FEATURES])
    session = onnxruntime.InferenceSession(str(onnx_version["artifact"]), providers=["CPUExecutionProvider"])
    labels = session.run(None, {session.get_inputs()[0].name: features})[0]
    young = np.array([value == "<=25" for value in table.column("age_group").to_pylist()])
    approved = labels == 1
    groups = run.results["group_metrics"]["groupings"]["age_group"]
    assert groups["age_group=<=25"]["selection_rate"] == pytest.approx(approved[young].mean(), abs=1e-12)
    assert groups["age_group=>25"]["selection_rate"] == pytest.approx(approved[~young].mean(), abs=1e-12)
    assert groups["age_group=<=25"]["count"] == int(young.sum())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (["duration_months", "credit_amount"], "could not score"),  # the model needs 7 inputs
        (["duration_months", "ghost", "age"], "no column named 'ghost'"),
        (["purpose", *DEMO_FEATURES[1:]], "must be numeric"),
    ],
    ids=["too-few-inputs", "missing-column", "text-input"],
)
def test_a_model_that_cannot_score_the_data_ends_the_run_in_error_never_a_pass(
    cast: Cast, onnx_version: dict[str, Any], features: list[str], expected: str
) -> None:
    run = start(cast, onnx_version, {**ROLES, "features": features})

    assert (run.status, run.verdict) == ("error", "")
    assert expected in run.error
    assert not run.checks.exists()


@pytest.mark.django_db
def test_a_predictions_only_version_needs_a_decision_column(cast: Cast, onnx_version: dict[str, Any]) -> None:
    bare = registry.do_register_version(
        model=onnx_version["version"].model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user)
    )
    run = start(cast, {**onnx_version, "version": bare}, {**ROLES, "features": []})

    assert run.status == "error"
    assert "predictions only" in run.error
