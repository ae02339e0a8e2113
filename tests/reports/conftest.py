"""Arrangements for the report tests: real audit runs of a real model on real data.

The full run is the demo's: UCI German credit (with age group and sex), the ONNX logistic regression trained on it
(``governance.data.demo``), registered as version 1 of a high-risk model of the credit-risk team, trained on the
dataset (a lineage link), with consent records, and audited under a variant of the EU AI Act policy that also runs the
four-fifths disparate-impact check and examines the age group x sex intersection (so every check type has results).
Everything goes through the apps' own actions, as the cast's members.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audits import actions as audits
from audits.models import AuditRun, Policy
from audits.policies import builtin_policies
from governance.data import actions as data
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.data.models import Purpose
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion
from tests.audits.conftest import FAILING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version, make_purpose, media_root  # noqa: F401 - fixture
from tests.registry.conftest import register_model

ROLES = {
    "label": "credit_risk",
    "favourable": "1",
    "protected": ["age_group", "sex"],
    "features": list(DEMO_FEATURES),
}
FULL_POLICY = "report-full"


def full_policy_text() -> str:
    """The EU AI Act policy, renamed, with the intersection examined, small sample sizes (fast) and the four-fifths
    disparate-impact check added: one policy whose run has results for every check type."""
    text = builtin_policies()["eu-ai-act-high-risk"]
    text = text.replace("name: eu-ai-act-high-risk", f"name: {FULL_POLICY}", 1)
    text = text.replace("intersections: false", "intersections:\n  - [age_group, sex]", 1)
    text = text.replace("sample_rows: 500", "sample_rows: 60", 1).replace("sample_rows: 200", "sample_rows: 40", 1)
    four_fifths = builtin_policies()["four-fifths"]
    block = four_fifths[four_fifths.index("  disparate_impact:") :]
    return text.replace("checks:\n", "checks:\n" + block, 1)


@dataclass
class Arranged:
    version: ModelVersion
    dataset_version: Any
    run: AuditRun


def _policy_version(cast: Cast, name: str) -> Any:
    audits.ensure_builtin_policies()
    if name == FULL_POLICY and not Policy.objects.filter(name=name).exists():
        audits.do_save_policy(user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=full_policy_text())
    return Policy.objects.get(name=name).latest_version()


def audit(cast: Cast, version: ModelVersion, dataset_version: Any, policy: str, roles: dict[str, Any]) -> AuditRun:
    """Start an audit as the owner and run its job here (as the in-process worker would)."""
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=_policy_version(cast, policy),
        column_roles=roles,
    )
    return audits.execute_audit(run.pk)


def arrange_german(cast: Cast, *, name: str = "credit-scoring", consents: int = 40) -> tuple[ModelVersion, Any]:
    """The demo's dataset and ONNX model version (high risk, trained on the dataset), with ``consents`` subjects'
    consent records for model training (one of them withdrawn)."""
    content = german_credit_csv(with_groups=True)
    dataset_version = make_file_version(
        cast,
        make_dataset(cast, f"{name}-data"),
        content,
        name="german-credit.csv",
        subject_id_column="applicant_id",
        label_column="credit_risk",
        source="UCI Statlog German Credit",
        licence="CC BY 4.0",
    )
    model = register_model(cast, "high", name=name)
    with tempfile.TemporaryDirectory() as folder:
        artifact = Path(folder) / "model.onnx"
        artifact.write_bytes(train_demo_model(content))
        version = registry.do_register_version(
            model=model,
            user=cast.owner.user,
            actor=Actor.for_user(cast.owner.user),
            artifact_path=artifact,
            artifact_name="model.onnx",
            hyperparameters={"estimator": "LogisticRegression", "class_weight": "balanced"},
            training_datasets=[{"dataset": dataset_version.dataset.name, "version": dataset_version.number}],
            model_card={"intended_use": "Pre-screening of consumer loan applications, with a human decision on each."},
        )
    if consents:
        purpose = Purpose.objects.filter(code="model_training").first() or make_purpose(cast)
        when = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        # Consents given, then one withdrawn a day later.
        for number, kind, at in [(n, "given", when) for n in range(1, consents + 1)] + [
            (1, "withdrawn", when + dt.timedelta(days=1))
        ]:
            data.do_record_consent(
                user=cast.officer.user,
                actor=Actor.for_user(cast.officer.user),
                purpose=purpose,
                kind=kind,
                occurred_at=at,
                external_id=f"DE-{number:04d}",
            )
    return version, dataset_version


@pytest.fixture
def german_full(cast: Cast, media_root: Path) -> Arranged:  # noqa: F811 - media_root is the fixture
    """A completed audit of the demo model under the full policy (every check type has results)."""
    version, dataset_version = arrange_german(cast)
    run = audit(cast, version, dataset_version, FULL_POLICY, ROLES)
    assert run.status == "done", run.error
    return Arranged(version=version, dataset_version=dataset_version, run=run)


@pytest.fixture
def small_run(cast: Cast, media_root: Path) -> Arranged:  # noqa: F811 - media_root is the fixture
    """A completed four-fifths audit of a predictions-only version (decisions in the data): quick to build on."""
    version = predictions_only_version(cast)
    dataset_version = upload(cast, decision_rows(FAILING_RATES))
    run = audit(cast, version, dataset_version, "four-fifths", dict(PREDICTION_ROLES))
    assert run.status == "done", run.error
    return Arranged(version=version, dataset_version=dataset_version, run=run)
