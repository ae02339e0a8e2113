"""The deployment gate: with AUDIT_REQUIRED_POLICIES naming a policy for a risk tier, a version of that tier deploys
only when its latest completed audit under that policy passed. Audits are started over the API and run when the
test's transaction would commit; deployments are asked for over the API, as the officer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from registry.models import Deployment, ModelVersion
from tests.api import events_since, last_seq
from tests.audits.conftest import (
    API,
    FAILING_RATES,
    PASSING_RATES,
    audit_body,
    decision_rows,
    post_audit,
    predictions_only_version,
    upload,
)
from tests.conftest import Cast
from tests.data.conftest import refused
from tests.registry.conftest import Walk

REQUIRED = {"high": "four-fifths"}


@pytest.fixture
def gate() -> Iterator[None]:
    """High-risk versions need a passing four-fifths audit (the tests' settings require none)."""
    with override_settings(AUDIT_REQUIRED_POLICIES=REQUIRED):
        yield


@pytest.fixture
def approved(cast: Cast, walk: Walk, gate: None, media_root: Any) -> ModelVersion:
    """Version 1 of the high-risk model credit-scoring, approved by the reviewer and the officer."""
    return walk(predictions_only_version(cast, tier="high", name="credit-scoring"), "approved")


@pytest.fixture
def audit(cast: Cast, django_capture_on_commit_callbacks: Any) -> Callable[..., dict[str, Any]]:
    """``audit(version, rates, policy=...)``: upload the rows, audit them over the API, return the finished run."""

    def run(version: ModelVersion, rates: dict[str, tuple[int, int]], *, policy: str = "four-fifths") -> dict:
        dataset_version = upload(cast, decision_rows(rates))
        with django_capture_on_commit_callbacks(execute=True):
            started = post_audit(cast.owner, audit_body(version, dataset_version, policy=policy))
        assert started.status_code == 201, started.content
        return cast.owner.client().get(f"{API}/audits/{started.json()['id']}/").json()

    return run


def deploy(cast: Cast, version: ModelVersion) -> Any:
    path = f"{API}/models/{version.model.name}/versions/{version.number}/deploy"
    return cast.officer.client().post(path, {"environment": "production"}, format="json")


def assert_blocked(cast: Cast, version: ModelVersion, *words: str) -> str:
    """The deployment is refused with 409 naming ``words``, and nothing changed."""
    error = refused(lambda: deploy(cast, version), 409, "deployment_blocked")
    for word in words:
        assert word in error["message"], error
    version.refresh_from_db()
    assert version.state == "approved"
    assert not Deployment.objects.filter(version=version).exists()
    return error["message"]


def assert_deploys(cast: Cast, version: ModelVersion) -> None:
    seq = last_seq()
    response = deploy(cast, version)
    assert response.status_code == 200, response.content
    version.refresh_from_db()
    assert version.state == "deployed"
    assert version.deployments.get(environment="production", retired_at__isnull=True).deployed_by == cast.officer.user
    assert [e.action for e in events_since(seq) if e.action.startswith("model_version.")] == ["model_version.deployed"]


def test_a_high_risk_version_without_an_audit_cannot_deploy(cast: Cast, approved: ModelVersion) -> None:
    message = assert_blocked(cast, approved, "'four-fifths' policy", "has none yet")

    assert message.startswith("Deployment blocked: high-risk models need a passing audit")


def test_after_a_failing_audit_it_cannot_deploy(cast: Cast, approved: ModelVersion, audit: Callable) -> None:
    run = audit(approved, FAILING_RATES)
    assert run["verdict"] == "fail"

    assert_blocked(
        cast, approved, f"under 'four-fifths' (run {run['id']}) is fail", "sex=F: impact ratio 0.500 against sex=M"
    )


def test_after_a_passing_audit_it_deploys(cast: Cast, approved: ModelVersion, audit: Callable) -> None:
    assert audit(approved, PASSING_RATES)["verdict"] == "pass"

    assert_deploys(cast, approved)


def test_the_latest_audit_decides(cast: Cast, approved: ModelVersion, audit: Callable) -> None:
    assert audit(approved, PASSING_RATES)["verdict"] == "pass"
    failed = audit(approved, FAILING_RATES)

    assert_blocked(cast, approved, f"(run {failed['id']}) is fail")

    assert audit(approved, {"F": (100, 48), "M": (100, 50)})["verdict"] == "pass"
    assert_deploys(cast, approved)


def test_insufficient_evidence_does_not_open_the_gate(cast: Cast, approved: ModelVersion, audit: Callable) -> None:
    run = audit(approved, {"F": (100, 50), "M": (10, 3)})  # M is below the policy's minimum group size
    assert run["verdict"] == "insufficient_evidence"

    assert_blocked(cast, approved, "is insufficient_evidence", "only 10 rows")


def test_audits_under_another_policy_or_that_could_not_run_do_not_count(
    cast: Cast, approved: ModelVersion, audit: Callable
) -> None:
    assert audit(approved, PASSING_RATES, policy="baseline")["verdict"] == "pass"
    assert audit(approved, {"F": (60, 30)})["status"] == "error"  # one group: nothing to compare

    assert_blocked(cast, approved, "has none yet")


def test_a_minimal_risk_model_deploys_without_an_audit(cast: Cast, walk: Walk, gate: None) -> None:
    version = walk(predictions_only_version(cast, tier="minimal"), "approved")

    assert_deploys(cast, version)
