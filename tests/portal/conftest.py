"""Arrangements of the portal tests: one small world (a high-risk model under review, trained on a dataset of
applicants, a failing four-fifths audit, consents) built through the apps' actions, and signed-in clients.

Nothing is autouse. The browser tests build the same world on a live server (see test_browser.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from audits.actions import do_start_audit, ensure_builtin_policies
from audits.models import AuditRun, Policy
from governance.data import actions as data
from governance.data.models import DatasetVersion, Purpose
from registry import actions
from registry.models import ModelVersion, RegisteredModel
from registry.portal.evidence import evidence_for
from tests.audits.conftest import FAILING_RATES, PREDICTION_ROLES, decision_rows, rows_csv
from tests.conftest import Cast, Member
from tests.data.conftest import make_dataset, make_file_version, media_root, pseudonym  # noqa: F401 - media_root
from tests.registry.conftest import acting, register_model

CONSENTING = [f"F-{i:04d}" for i in range(12)]  # applicants of the dataset who gave consent
WITHDRAWING = CONSENTING[3]


@dataclass
class World:
    model: RegisteredModel
    version: ModelVersion  # v1, submitted by the owner, trained on dataset_version
    dataset_version: DatasetVersion
    run: AuditRun  # four-fifths, failed
    purpose: Purpose


def build_world(cast: Cast) -> World:
    """The world every portal test starts from (needs media_root; the audit runs when its transaction commits)."""
    model = register_model(cast, "high")  # credit-scoring, two approvers needed
    dataset = make_dataset(cast, "applications")
    dataset_version = make_file_version(
        cast,
        dataset,
        rows_csv(decision_rows(FAILING_RATES)),
        name="applications.csv",
        subject_id_column="applicant_id",
        label_column="label",
    )
    version = actions.do_register_version(
        model=model,
        user=cast.owner.user,
        actor=acting(cast.owner),
        metrics={"auc": 0.8},
        input_schema=[{"name": "income", "type": "int"}],
        training_datasets=[{"dataset": "applications", "version": 1}],
        model_card={"intended_use": "Pre-screening of loan applications."},
    )
    actions.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner), reason="ready")
    ensure_builtin_policies(only="four-fifths")
    policy_version = Policy.objects.get(name="four-fifths").latest_version()
    run, _ = do_start_audit(
        user=cast.owner.user,
        actor=acting(cast.owner),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=policy_version,
        column_roles=PREDICTION_ROLES,
    )
    purpose = data.do_create_purpose(
        user=cast.officer.user,
        actor=acting(cast.officer),
        code="model_training",
        description="Training credit models.",
        legal_basis="consent",
    )
    given = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
    for external_id in CONSENTING:
        data.do_record_consent(
            user=cast.officer.user,
            actor=acting(cast.officer),
            purpose=purpose,
            kind="given",
            occurred_at=given,
            external_id=external_id,
            source="application form",
        )
    run.refresh_from_db()
    return World(model=model, version=version, dataset_version=dataset_version, run=run, purpose=purpose)


@pytest.fixture
def world(cast: Cast, media_root: Any, django_capture_on_commit_callbacks: Any) -> World:  # noqa: F811 - the fixture
    with django_capture_on_commit_callbacks(execute=True):  # the audit job is queued on commit
        built = build_world(cast)
    built.run.refresh_from_db()
    assert (built.run.status, built.run.verdict) == ("done", "fail")
    return built


def acknowledged(member: Member, version: ModelVersion, reason: str) -> dict[str, str]:
    """Approval form data over evidence that is not clean (the world's failing audit): the acknowledgement of exactly
    the evidence ``member`` is shown (registry.portal.evidence), and the reason."""
    return {"reason": reason, "acknowledge": evidence_for(member.user, version).digest()}


def signed_in(member: Member | None, **kwargs: Any) -> Client:
    """A browser-like client signed in as ``member`` (anonymous when None)."""
    client = Client(**kwargs)
    if member is not None:
        client.force_login(member.user)
    return client
