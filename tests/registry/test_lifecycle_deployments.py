"""The version lifecycle's deployments through the action functions: one live version per environment, deployment
checks that block or pass, reclassified models, retirement, and version numbers.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry import actions, hooks
from registry.actions import RegistryError
from registry.models import ModelVersion, RegisteredModel
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, sha256_text
from tests.registry.conftest import MakeVersion, Walk, acting, risk_answers
from tests.registry.lifecycle_helpers import assert_refused, live, perform


def test_deploying_a_new_version_retires_the_one_live_there(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    v1 = walk(make_version(minimal_risk_model), "deployed", environment="production")
    v2 = walk(make_version(minimal_risk_model), "approved")

    seq = last_seq()
    perform("deploy", v2, cast.officer, reason="better AUC")

    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.state, v2.state) == ("retired", "deployed")
    assert live(minimal_risk_model, "production") == [2]
    old = v1.deployments.get()
    assert (old.retired_by, old.retire_reason) == (cast.officer.user, "replaced by v2")
    assert old.retired_at is not None
    recorded = events_since(seq)
    assert [(e.action, e.object_id, e.payload) for e in recorded] == [
        (
            "model_version.retired",
            str(v1.pk),
            {
                "model": "document-router",
                "version": 1,
                "environment": "production",
                "replaced_by": 2,
                "reason_sha256": sha256_text("replaced by v2"),
            },
        ),
        (
            "model_version.deployed",
            str(v2.pk),
            {
                "model": "document-router",
                "version": 2,
                "environment": "production",
                "artifact_sha256": None,
                "replaced_version": 1,
                "reason_sha256": sha256_text("better AUC"),
            },
        ),
    ]


def test_a_replaced_version_still_live_in_staging_stays_deployed(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    v1 = walk(make_version(minimal_risk_model), "deployed", environment="staging")
    perform("deploy", v1, cast.officer)  # and to production
    v2 = walk(make_version(minimal_risk_model), "approved")

    seq = last_seq()
    perform("deploy", v2, cast.officer)

    v1.refresh_from_db()
    assert v1.state == "deployed"
    assert (live(minimal_risk_model, "staging"), live(minimal_risk_model, "production")) == ([1], [2])
    retired = events_since(seq, "model_version.retired")
    assert [(e.payload["version"], e.payload["environment"], e.payload["replaced_by"]) for e in retired] == [
        (1, "production", 2)
    ]


def test_deploying_a_version_where_it_is_already_live_is_refused(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "deployed", environment="production")

    assert_refused(lambda: perform("deploy", version, cast.officer), "already_deployed")
    assert live(minimal_risk_model, "production") == [1]


def test_an_unknown_environment_is_refused(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "approved")

    error = assert_refused(lambda: perform("deploy", version, cast.officer, environment="moon"), "refused", status=422)

    assert "staging, production" in str(error)


def test_a_registered_deployment_check_blocks_the_deploy_and_nothing_changes(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, request: Any
) -> None:
    v1 = walk(make_version(minimal_risk_model), "approved")
    perform("deploy", v1, cast.officer)  # live in production before the check is registered
    request.getfixturevalue("blocking_check")
    v2 = walk(make_version(minimal_risk_model), "approved")

    error = assert_refused(lambda: perform("deploy", v2, cast.officer), "deployment_blocked", status=409)

    assert "No passing fairness audit for document-router v2." in str(error)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.state, v2.state) == ("deployed", "approved")  # the live version was not retired either
    assert live(minimal_risk_model, "production") == [1]


def test_a_passing_deployment_check_lets_the_deploy_through(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    seen: list[str] = []

    def passes(version: ModelVersion) -> None:
        seen.append(str(version))

    hooks.DEPLOYMENT_CHECKS.append(passes)
    try:
        version = walk(make_version(minimal_risk_model), "approved")
        perform("deploy", version, cast.officer)
    finally:
        hooks.DEPLOYMENT_CHECKS.remove(passes)

    assert seen == ["document-router v1"]
    assert live(minimal_risk_model, "production") == [1]


def test_a_prohibited_model_cannot_be_submitted(
    cast: Cast, prohibited_model: RegisteredModel, make_version: MakeVersion
) -> None:
    version = make_version(prohibited_model)

    error = assert_refused(lambda: perform("submit", version, cast.owner), "prohibited")

    assert "Art. 5" in str(error)
    version.refresh_from_db()
    assert (version.state, version.submitted_by) == ("draft", None)


def test_a_model_reclassified_as_prohibited_cannot_be_deployed(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "approved")
    actions.do_change_risk(
        model=minimal_risk_model,
        user=cast.officer.user,
        actor=acting(cast.officer),
        risk_answers=risk_answers("prohibited"),
        reason="it turned out to score citizens",
    )

    assert_refused(lambda: perform("deploy", version, cast.officer), "prohibited")
    assert live(minimal_risk_model, "production") == []


def test_a_model_reclassified_as_high_risk_needs_its_second_approver_before_deploying(
    cast: Cast, minimal_risk_model: RegisteredModel, minimal_draft: ModelVersion, walk: Walk
) -> None:
    version = walk(minimal_draft, "approved")  # one approver: all a minimal-risk model needs
    seq = last_seq()
    actions.do_change_risk(
        model=minimal_risk_model,
        user=cast.officer.user,
        actor=acting(cast.officer),
        risk_answers=risk_answers("high"),
        reason="it profiles applicants after all",
    )
    version.refresh_from_db()
    assert version.state == "submitted"  # back to review, its first approval kept
    assert [e.action for e in events_since(seq)] == ["model_version.returned_to_review", "model.risk_changed"]
    before, seq = db_state(), last_seq()

    with pytest.raises(RegistryError):
        perform("deploy", version, cast.officer)
    assert events_since(seq) == []
    assert db_state() == before

    # The first approver cannot count twice; a second, distinct approver completes the approval.
    with pytest.raises(RegistryError):
        perform("approve", version, cast.reviewer)
    perform("approve", version, cast.officer)
    version.refresh_from_db()
    assert version.state == "approved"
    perform("deploy", version, cast.officer)
    version.refresh_from_db()
    assert version.state == "deployed"


@pytest.mark.parametrize("reason", ["", "  \n"])
def test_retiring_needs_a_reason(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, reason: str
) -> None:
    version = walk(make_version(minimal_risk_model), "deployed")

    assert_refused(lambda: perform("retire", version, cast.officer, reason=reason), "reason_required", status=422)
    assert live(minimal_risk_model, "staging") == [1]


def test_retiring_from_one_environment_keeps_the_other_live(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "deployed", environment="staging")
    perform("deploy", version, cast.officer)

    seq = last_seq()
    perform("retire", version, cast.officer, environment="staging", reason="staging freed for v2")
    version.refresh_from_db()
    assert version.state == "deployed"
    assert (live(minimal_risk_model, "staging"), live(minimal_risk_model, "production")) == ([], [1])

    perform("retire", version, cast.officer, environment="production", reason="end of life")
    version.refresh_from_db()
    assert version.state == "retired"
    assert [
        (e.payload["environment"], e.payload["replaced_by"], e.payload["reason_sha256"]) for e in events_since(seq)
    ] == [
        ("staging", None, sha256_text("staging freed for v2")),
        ("production", None, sha256_text("end of life")),
    ]


def test_retiring_from_an_environment_it_is_not_live_in_is_refused(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "deployed", environment="staging")

    assert_refused(lambda: perform("retire", version, cast.officer, environment="production"), "not_deployed")


def test_version_numbers_are_per_model_and_monotonic(
    cast: Cast, minimal_risk_model: RegisteredModel, high_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    numbers = [make_version(minimal_risk_model).number for _ in range(3)]
    numbers.append(make_version(high_risk_model, by=cast.ci).number)

    assert numbers == [1, 2, 3, 1]
