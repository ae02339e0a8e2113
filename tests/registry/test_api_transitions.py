"""The registry's HTTP API for a version's transitions: submit, approve, reject, deploy, who may do each, and
that an illegal or refused transition changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from governance.access.actions import do_issue_token
from governance.access.models import User
from governance.access.roles import Role
from registry.models import ModelVersion, RegisteredModel, Review
from tests.api import events_since, last_seq
from tests.conftest import Cast, sha256_text
from tests.registry.api_helpers import client_of, post, refused, url
from tests.registry.conftest import MakeVersion, Walk, acting, new_member

# --- transitions -----------------------------------------------------------------------------------------------


def test_a_minimal_risk_version_goes_through_its_whole_life_over_http(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    version = make_version(minimal_risk_model)
    steps = [
        (cast.owner, "submit", {"reason": "ready"}, "submitted", ["model_version.submitted"]),
        (
            cast.reviewer,
            "approve",
            {"reason": "fine"},
            "approved",
            ["model_version.approval_added", "model_version.approved"],
        ),
        (cast.officer, "deploy", {"environment": "staging"}, "deployed", ["model_version.deployed"]),
        (cast.officer, "deploy", {"environment": "production", "reason": "go"}, "deployed", ["model_version.deployed"]),
        (cast.officer, "retire", {"reason": "superseded"}, "retired", ["model_version.retired"] * 2),
    ]
    for member, transition, body, state, expected in steps:
        seq = last_seq()
        response = post(member, url("document-router", 1, transition), body)
        assert response.status_code == 200, (transition, response.content)
        assert response.json()["state"] == state
        version.refresh_from_db()
        assert version.state == state
        recorded = events_since(seq)
        assert [e.action for e in recorded] == expected, transition
        assert {e.actor_user_id for e in recorded} == {member.user.pk}
        assert {e.actor_kind for e in recorded} == {"token"}

    body = cast.owner.client().get(url("document-router", 1)).json()
    assert (body["submitted_by"], [r["reviewer"] for r in body["reviews"]]) == ("omar", ["rhea"])
    assert sorted((d["environment"], d["retired_by"]) for d in body["deployments"]) == [
        ("production", "olivia"),
        ("staging", "olivia"),
    ]


def test_a_high_risk_version_needs_a_second_approver_over_http(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "submitted")

    first = post(cast.reviewer, url("credit-scoring", 1, "approve"))
    assert (first.status_code, first.json()["state"]) == (200, "submitted")
    refused(lambda: post(cast.reviewer, url("credit-scoring", 1, "approve")), 409, "duplicate_review")
    second = post(cast.officer, url("credit-scoring", 1, "approve"))

    assert (second.status_code, second.json()["state"]) == (200, "approved")
    assert [r["reviewer"] for r in second.json()["reviews"]] == ["rhea", "olivia"]


@pytest.mark.parametrize(
    ("state", "attempt"),
    [
        ("draft", ("reviewer", "approve", {})),  # approve a draft
        ("draft", ("reviewer", "reject", {"reason": "no"})),
        ("draft", ("officer", "deploy", {})),
        ("rejected", ("officer", "deploy", {})),  # deploy a rejected version
        ("rejected", ("owner", "submit", {})),
        ("approved", ("officer", "retire", {"reason": "x"})),
        ("retired", ("officer", "deploy", {"environment": "staging"})),
        ("submitted", ("owner", "submit", {})),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, state: str, attempt: tuple[str, str, dict[str, Any]]
) -> None:
    who, transition, body = attempt
    walk(minimal_draft, state)

    error = refused(lambda: post(getattr(cast, who), url("document-router", 1, transition), body), 409)

    assert error["code"] == "illegal_transition"
    assert f"it is {state}" in error["message"]


def test_self_approval_is_403_self_review(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    make_version(minimal_risk_model, by=pat)
    assert post(pat, url("document-router", 1, "submit")).status_code == 200
    # Pat moves to reviewing in the same team; their token now carries models:approve.
    User.objects.filter(pk=pat.user.pk).update(role=Role.REVIEWER)

    seq = last_seq()
    error = refused(lambda: post(pat, url("document-router", 1, "approve")), 403, "self_review")

    assert "separation of duties" in error["message"]
    assert not Review.objects.exists()
    # An authorization failure decided by the action is recorded like a missing scope, with the refusal's code.
    [denied] = events_since(seq)
    assert (denied.action, denied.actor_user_id) == ("access.denied", pat.user.pk)
    assert denied.payload == {
        "method": "POST",
        "path": "api/v1/models/<slug:name>/versions/<int:number>/approve",
        "reason": "self_review",
        "scope": "",
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", (401, {"not_authenticated"})),
        ("owner", (403, {"permission_denied"})),  # no models:approve scope
        ("read_only", (403, {"permission_denied"})),
        ("ci", (403, {"permission_denied"})),
        ("regulator", (403, {"permission_denied"})),
        ("admin", (403, {"permission_denied"})),  # administrators run the system; they do not approve
    ],
)
def test_who_may_not_approve_over_http(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, who: str, expected: tuple[int, set[str]]
) -> None:
    status, codes = expected
    walk(minimal_draft, "submitted")

    error = refused(lambda: client_of(cast, who).post(url("document-router", 1, "approve"), {}, format="json"), status)

    assert error["code"] in codes


def test_a_reviewer_of_another_team_cannot_even_see_the_version(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "submitted")
    hugo = new_member("hugo", "reviewer", ["hiring"])

    refused(lambda: post(hugo, url("document-router", 1, "approve")), 404, "not_found")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
    ],
)
def test_who_may_not_submit_over_http(
    cast: Cast, minimal_draft: ModelVersion, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).post(url("document-router", 1, "submit"), {}, format="json"), status, code)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_a_rejection_without_a_reason_is_422(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, body: dict[str, Any]
) -> None:
    walk(make_version(minimal_risk_model), "submitted")

    refused(lambda: post(cast.reviewer, url("document-router", 1, "reject"), body), 422, "reason_required")


def test_a_rejection_with_a_reason_is_recorded(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "submitted")
    seq = last_seq()

    response = post(cast.reviewer, url("document-router", 1, "reject"), {"reason": "No fairness audit."})

    assert (response.status_code, response.json()["state"]) == (200, "rejected")
    assert response.json()["reviews"][0] == {**response.json()["reviews"][0], "decision": "reject"}
    assert [(e.action, e.payload["reason_sha256"]) for e in events_since(seq)] == [
        ("model_version.rejected", sha256_text("No fairness audit."))
    ]
    assert response.json()["reviews"][0]["reason"] == "No fairness audit."  # the text stays in the review


@pytest.mark.parametrize(
    ("attempt", "field"),
    [
        (("retire", {}), "reason"),
        (("retire", {"reason": ""}), "reason"),
        (("retire", {"reason": "x", "environment": "moon"}), "environment"),
        (("deploy", {"environment": "moon"}), "environment"),
        (("deploy", {"environment": "production", "force": True}), "force"),
    ],
)
def test_bad_transition_bodies_are_422_naming_the_field(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, attempt: tuple[str, dict[str, Any]], field: str
) -> None:
    transition, body = attempt
    walk(minimal_draft, "deployed")

    error = refused(lambda: post(cast.officer, url("document-router", 1, transition), body), 422, "validation_failed")

    assert field in error["details"]


def test_a_blocked_deployment_is_409_and_changes_nothing(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, blocking_check: Any
) -> None:
    walk(make_version(minimal_risk_model), "approved")

    error = refused(lambda: post(cast.officer, url("document-router", 1, "deploy")), 409, "deployment_blocked")

    assert "No passing fairness audit" in error["message"]


def test_deploying_over_http_replaces_the_live_version(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "deployed", environment="production")
    walk(make_version(minimal_risk_model), "approved")

    response = post(cast.officer, url("document-router", 2, "deploy"), {"environment": "production"})

    assert response.status_code == 200, response.content
    model = cast.owner.client().get(url("document-router")).json()
    assert model["live"] == {"production": 2}
    assert cast.owner.client().get(url("document-router", 1)).json()["state"] == "retired"


def test_acting_as_a_read_only_token_of_the_submitter_changes_nothing(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    # A read-only token never writes, whatever its user may do with a full token.
    make_version(minimal_risk_model)
    read_only = do_issue_token(user=cast.owner.user, actor=acting(cast.owner), read_only=True, days=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only.raw}")

    for path in (url("document-router", 1, "submit"), url("document-router", "versions")):
        refused(lambda p=path: client.post(p, {}, format="json"), 403, "permission_denied")
