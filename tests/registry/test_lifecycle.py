"""The version lifecycle through the action functions: the state machine and separation of duties. Deployments
are in test_lifecycle_deployments.py, atomicity under failure and under concurrency in test_lifecycle_atomicity.py.

The expected outcome of every (state, transition, person) is derived from the rules of the issue, written out
below as tables, and never read from ``registry.actions.TRANSITIONS``: a change to the code's table that breaks
a rule fails here.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from governance.access.models import User
from governance.access.roles import Role
from registry import actions
from registry.models import Deployment, ModelVersion, RegisteredModel, Review
from tests.api import events_since, last_seq
from tests.conftest import Cast, Member, sha256_text
from tests.registry.conftest import MakeVersion, Walk, acting, new_member
from tests.registry.lifecycle_helpers import actions_of, assert_refused, perform

STATES = ("draft", "submitted", "approved", "rejected", "deployed", "retired")


TRANSITIONS = ("submit", "approve", "reject", "deploy", "retire")


# Every member of the cast but ``read_only``: that is the owner's user behind a read-only token, and the action
# functions see users, not tokens (the HTTP tests cover the token).
PEOPLE = ("admin", "officer", "owner", "reviewer", "outsider", "regulator", "ci")


# draft -> submitted -> approved | rejected -> deployed -> retired. A deployed version may also be deployed to the
# other environment (the matrix deploys to production; its deployed versions are live in staging only).
ALLOWED_FROM = {
    "submit": {"draft"},
    "approve": {"submitted"},
    "reject": {"submitted"},
    "deploy": {"approved", "deployed"},
    "retire": {"deployed"},
}


# Who is refused, and why, on a minimal-risk model of credit-risk whose version the owner registered and submitted.
# - submit: only the owning team (its owners) or CI;
# - approve, reject: reviewers of the team or officers, never the submitter or creator of the version;
# - deploy, retire: the roles holding models:deploy in the role-to-scope table (officer, admin).
REFUSED_BECAUSE: dict[str, dict[str, set[str]]] = {
    "submit": {
        "admin": {"role_refused"},
        "officer": {"role_refused"},
        "owner": set(),
        "reviewer": {"role_refused"},
        "outsider": {"not_in_team"},
        "regulator": {"role_refused"},
        "ci": set(),
    },
    "approve": {
        "admin": {"role_refused"},
        "officer": set(),
        "owner": {"role_refused", "self_review"},
        "reviewer": set(),
        "outsider": {"role_refused", "not_in_team"},
        "regulator": {"role_refused"},
        "ci": {"role_refused"},
    },
    "deploy": {
        "admin": set(),
        "officer": set(),
        "owner": {"role_refused"},
        "reviewer": {"role_refused"},
        "outsider": {"role_refused"},
        "regulator": {"role_refused"},
        "ci": {"role_refused"},
    },
}


REFUSED_BECAUSE["reject"] = REFUSED_BECAUSE["approve"]


REFUSED_BECAUSE["retire"] = REFUSED_BECAUSE["deploy"]


TARGET = {"submit": "submitted", "approve": "approved", "reject": "rejected", "deploy": "deployed", "retire": "retired"}


EVENTS = {
    "submit": ["model_version.submitted"],
    "approve": ["model_version.approval_added", "model_version.approved"],
    "reject": ["model_version.rejected"],
    "deploy": ["model_version.deployed"],
    "retire": ["model_version.retired"],
}


NEW_REVIEWS = {"approve": 1, "reject": 1}


NEW_DEPLOYMENTS = {"deploy": 1}


def expected_refusals(state: str, transition: str, person: str) -> set[str]:
    """The error codes a refusal may carry (empty: the transition must succeed)."""
    reasons = set(REFUSED_BECAUSE[transition][person])
    if state not in ALLOWED_FROM[transition]:
        reasons.add("illegal_transition")
    return reasons


class Undo(Exception):
    """Rolls one attempt back, so that every person of the matrix starts from the same state."""


def attempt(*, state: str, transition: str, version: ModelVersion, person: str, member: Member) -> None:
    """Try ``transition`` as ``member`` and check the outcome against the tables; assert-fails on a mismatch."""
    refusals = expected_refusals(state, transition, person)
    reviews, deployments = Review.objects.count(), Deployment.objects.count()
    if refusals:
        assert_refused(lambda: perform(transition, version, member), refusals)
        version.refresh_from_db()
        assert version.state == state
        assert (Review.objects.count(), Deployment.objects.count()) == (reviews, deployments)
        return
    seq = last_seq()
    perform(transition, version, member)
    version.refresh_from_db()
    assert version.state == TARGET[transition]
    recorded = events_since(seq)
    assert actions_of(recorded) == EVENTS[transition]
    assert {(e.object_type, e.object_id, e.actor_user_id) for e in recorded} == {
        ("registry.modelversion", str(version.pk), member.user.pk)
    }
    assert Review.objects.count() == reviews + NEW_REVIEWS.get(transition, 0)
    assert Deployment.objects.count() == deployments + NEW_DEPLOYMENTS.get(transition, 0)
    if transition == "deploy":
        assert version.deployments.get(environment="production", retired_at__isnull=True).deployed_by == member.user
    if transition == "retire":
        assert not version.deployments.filter(retired_at__isnull=True).exists()


@pytest.mark.parametrize("case", [pytest.param((s, t), id=f"{s}-{t}") for s in STATES for t in TRANSITIONS])
def test_every_transition_from_every_state_by_every_role(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, subtests: pytest.Subtests, case: tuple[str, str]
) -> None:
    state, transition = case
    version = walk(minimal_draft, state)
    for person in PEOPLE:
        with subtests.test(person=person):
            try:
                with transaction.atomic():
                    attempt(
                        state=state, transition=transition, version=version, person=person, member=getattr(cast, person)
                    )
                    raise Undo
            except Undo:
                pass
        version.refresh_from_db()
        assert version.state == state, "an attempt was not undone"


# --- separation of duties --------------------------------------------------------------------------------------


def become_reviewer(member: Member) -> User:
    """The person moves from owner to reviewer in the same team (no action changes roles yet, so the row does)."""
    User.objects.filter(pk=member.user.pk).update(role=Role.REVIEWER)
    return User.objects.get(pk=member.user.pk)


@pytest.mark.parametrize("transition", ["approve", "reject"])
def test_the_submitter_never_reviews_their_own_version(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, transition: str
) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    version = make_version(minimal_risk_model)  # created by the owner
    actions.do_submit(version=version, user=pat.user, actor=acting(pat))
    pat.user = become_reviewer(pat)

    error = assert_refused(lambda: perform(transition, version, pat), "self_review", status=403)

    assert "separation of duties" in str(error)
    version.refresh_from_db()
    assert version.state == "submitted"
    assert not Review.objects.filter(version=version).exists()
    # The same step by anyone else of the team goes through: the refusal was about who, not what.
    perform(transition, version, cast.reviewer)
    version.refresh_from_db()
    assert version.state == TARGET[transition]


@pytest.mark.parametrize("transition", ["approve", "reject"])
def test_the_creator_never_reviews_their_own_version_even_when_someone_else_submitted_it(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, transition: str
) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    version = make_version(minimal_risk_model, by=pat)
    actions.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner))
    pat.user = become_reviewer(pat)

    assert_refused(lambda: perform(transition, version, pat), "self_review", status=403)

    version.refresh_from_db()
    assert (version.state, version.created_by_id, version.submitted_by_id) == (
        "submitted",
        pat.user.pk,
        cast.owner.user.pk,
    )


@pytest.mark.parametrize("person", ["regulator", "ci", "owner", "admin", "outsider"])
def test_only_reviewers_and_officers_approve(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, person: str
) -> None:
    version = walk(make_version(high_risk_model), "submitted")

    error = assert_refused(lambda: perform("approve", version, getattr(cast, person)), "role_refused", status=403)

    assert "officer, reviewer" in str(error)
    assert not Review.objects.filter(version=version).exists()


def test_a_reviewer_of_another_team_is_refused(
    high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    hugo = new_member("hugo", "reviewer", ["hiring"])
    version = walk(make_version(high_risk_model), "submitted")

    for transition in ("approve", "reject"):
        assert_refused(lambda t=transition: perform(t, version, hugo), "not_in_team", status=403)

    version.refresh_from_db()
    assert version.state == "submitted"


def test_high_risk_needs_two_distinct_approvers_and_nobody_counts_twice(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(high_risk_model), "submitted")

    seq = last_seq()
    perform("approve", version, cast.reviewer, reason="fairness audit passed")
    version.refresh_from_db()
    assert version.state == "submitted"  # one approval of the two needed
    first = events_since(seq)
    assert [(e.action, e.payload) for e in first] == [
        (
            "model_version.approval_added",
            {
                "model": "credit-scoring",
                "version": 1,
                "approvals": 1,
                "required_approvals": 2,
                "reason_sha256": sha256_text("fairness audit passed"),
            },
        )
    ]

    assert_refused(lambda: perform("approve", version, cast.reviewer), "duplicate_review", status=409)
    assert Review.objects.filter(version=version).count() == 1

    seq = last_seq()
    perform("approve", version, cast.officer, reason="four eyes")
    version.refresh_from_db()
    assert version.state == "approved"
    second = events_since(seq)
    assert actions_of(second) == ["model_version.approval_added", "model_version.approved"]
    assert second[0].payload["approvals"] == 2
    assert second[1].payload == {
        "model": "credit-scoring",
        "version": 1,
        "approvers": [cast.reviewer.user.pk, cast.officer.user.pk],
    }
    assert list(Review.objects.filter(version=version).values_list("reviewer_id", "decision")) == [
        (cast.reviewer.user.pk, "approve"),
        (cast.officer.user.pk, "approve"),
    ]


def test_two_reviewers_of_the_team_suffice_for_high_risk(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    ravi = new_member("ravi", "reviewer", ["credit-risk"])
    version = walk(make_version(high_risk_model), "submitted")

    perform("approve", version, cast.reviewer)
    perform("approve", version, ravi)

    version.refresh_from_db()
    assert version.state == "approved"


def test_after_a_rejection_the_second_approver_has_nothing_left_to_approve(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    ravi = new_member("ravi", "reviewer", ["credit-risk"])
    version = walk(make_version(high_risk_model), "submitted")
    perform("approve", version, cast.reviewer)
    perform("reject", version, cast.officer, reason="training data predates the policy")

    assert_refused(lambda: perform("approve", version, ravi), "illegal_transition")
    version.refresh_from_db()
    assert version.state == "rejected"


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, reason: str
) -> None:
    version = walk(make_version(minimal_risk_model), "submitted")

    assert_refused(lambda: perform("reject", version, cast.reviewer, reason=reason), "reason_required", status=422)
