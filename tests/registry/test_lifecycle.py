"""The version lifecycle through the action functions: the state machine, separation of duties, deployments,
deployment checks, atomicity under failure and under concurrency.

The expected outcome of every (state, transition, person) is derived from the rules of the issue, written out
below as tables, and never read from ``registry.actions.TRANSITIONS``: a change to the code's table that breaks
a rule fails here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections, transaction

from governance.access.actions import ActionError
from governance.access.models import User
from governance.access.roles import Role
from governance.trail import log
from governance.trail.models import Event
from registry import actions, hooks
from registry.actions import RegistryError, common, findings, versions, webhooks
from registry.actions import models as model_actions
from registry.models import Deployment, ModelVersion, RegisteredModel, Review
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member, sha256_text
from tests.registry.conftest import MakeVersion, Walk, acting, new_member, register_model, risk_answers

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


def perform(transition: str, version: ModelVersion, member: Member, **extra: Any) -> Any:
    """Call ``do_<transition>`` as ``member`` with what the transition needs (reasons, production)."""
    kwargs: dict[str, Any] = {"version": version, "user": member.user, "actor": acting(member), **extra}
    if transition in ("reject", "retire"):
        kwargs.setdefault("reason", "the matrix says so")
    if transition == "deploy":
        kwargs.setdefault("environment", "production")
    return getattr(actions, f"do_{transition}")(**kwargs)


def assert_refused(call: Callable[[], Any], codes: set[str] | str, *, status: int | None = None) -> RegistryError:
    """``call`` raises a RegistryError with one of ``codes`` and leaves every table (and the trail) as it was."""
    codes = {codes} if isinstance(codes, str) else codes
    before, seq = db_state(), last_seq()
    with pytest.raises(RegistryError) as caught:
        call()
    assert caught.value.code in codes, f"{caught.value.code}: {caught.value}"
    assert isinstance(caught.value, ActionError)
    assert str(caught.value).strip()
    if status is not None:
        assert caught.value.status == status
    assert events_since(seq) == []
    assert db_state() == before
    return caught.value


def actions_of(events: list[Event]) -> list[str]:
    return [event.action for event in events]


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


# --- deployments -----------------------------------------------------------------------------------------------


def live(model: RegisteredModel, environment: str) -> list[int]:
    """Version numbers live in ``environment`` (never more than one, if the registry is right)."""
    return sorted(
        Deployment.objects.filter(model=model, environment=environment, retired_at__isnull=True).values_list(
            "version__number", flat=True
        )
    )


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


# --- atomicity: an event that fails to record takes its change with it ---------------------------------------------


class TrailDown(Exception):
    """The trail refused the append (disk full, lock lost): the action's change must not survive it."""


@dataclass
class Arranged:
    """What a scenario needs: the cast and the registry's helpers."""

    cast: Cast
    make_version: MakeVersion
    walk: Walk

    def model(self, tier: str = "minimal") -> RegisteredModel:
        return RegisteredModel.objects.filter(risk_tier=tier).first() or register_model(self.cast, tier)

    def version(self, state: str, *, tier: str = "minimal", environment: str = "staging") -> ModelVersion:
        return self.walk(self.make_version(self.model(tier)), state, environment=environment)


def _update_model(a: Arranged) -> Callable[[], Any]:
    model, owner = a.model(), a.cast.owner
    return lambda: actions.do_update_model(
        model=model, user=owner.user, actor=acting(owner), changes={"purpose": "Something else."}
    )


def _change_risk(a: Arranged) -> Callable[[], Any]:
    model, officer = a.model(), a.cast.officer
    return lambda: actions.do_change_risk(
        model=model, user=officer.user, actor=acting(officer), risk_answers=risk_answers("high"), reason="profiling"
    )


def _register_version(a: Arranged) -> Callable[[], Any]:
    model = a.model()
    return lambda: a.make_version(model)


def _edit_model_card(a: Arranged) -> Callable[[], Any]:
    version, owner = a.version("draft"), a.cast.owner
    return lambda: actions.do_edit_model_card(
        version=version, user=owner.user, actor=acting(owner), card={"factors": "age, region"}
    )


def _deploy_replacing(a: Arranged) -> Callable[[], Any]:
    a.version("deployed", environment="production")
    version = a.version("approved")
    return lambda: perform("deploy", version, a.cast.officer)


def _retire_everywhere(a: Arranged) -> Callable[[], Any]:
    version = a.version("deployed")  # live in staging
    perform("deploy", version, a.cast.officer)  # and in production
    return lambda: perform("retire", version, a.cast.officer)


def _transition(transition: str, state: str, person: str, *, tier: str = "minimal") -> Callable[[Arranged], Any]:
    def arrange(a: Arranged) -> Callable[[], Any]:
        version = a.version(state, tier=tier)
        return lambda: perform(transition, version, getattr(a.cast, person))

    return arrange


# scenario -> set-up returning the one action call whose trail event the test makes fail
SCENARIOS: dict[str, Callable[[Arranged], Callable[[], Any]]] = {
    "register_model": lambda a: lambda: register_model(a.cast, "minimal"),
    "update_model": _update_model,
    "change_risk": _change_risk,
    "register_version": _register_version,
    "edit_model_card": _edit_model_card,
    "submit": _transition("submit", "draft", "owner"),
    "approve": _transition("approve", "submitted", "reviewer"),
    "approve_high_risk_first": _transition("approve", "submitted", "reviewer", tier="high"),
    "reject": _transition("reject", "submitted", "reviewer"),
    "deploy": _transition("deploy", "approved", "officer"),
    "deploy_replacing": _deploy_replacing,
    "retire": _transition("retire", "deployed", "officer"),
    "retire_everywhere": _retire_everywhere,
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param((scenario, events), id=f"{scenario}-fails-at-{events[-1]}")
        for scenario, events in [
            ("register_model", ["model.registered"]),
            ("update_model", ["model.updated"]),
            ("change_risk", ["model.risk_changed"]),
            ("register_version", ["model_version.registered"]),
            ("edit_model_card", ["model_card.edited"]),
            ("submit", ["model_version.submitted"]),
            ("approve", ["model_version.approval_added"]),
            # After the review row and the approval_added event were written:
            ("approve", ["model_version.approval_added", "model_version.approved"]),
            ("approve_high_risk_first", ["model_version.approval_added"]),
            ("reject", ["model_version.rejected"]),
            ("deploy", ["model_version.deployed"]),
            ("deploy_replacing", ["model_version.retired"]),
            # After the live version was retired and its event written:
            ("deploy_replacing", ["model_version.retired", "model_version.deployed"]),
            ("retire", ["model_version.retired"]),
            # After the first environment was retired and its event written:
            ("retire_everywhere", ["model_version.retired", "model_version.retired"]),
        ]
    ],
)
def test_when_the_event_cannot_be_recorded_the_change_is_undone(
    cast: Cast, make_version: MakeVersion, walk: Walk, monkeypatch: pytest.MonkeyPatch, case: tuple[str, list[str]]
) -> None:
    scenario, events = case
    call = SCENARIOS[scenario](Arranged(cast, make_version, walk))
    real_record_event = log.record_event
    calls: list[str] = []

    def record_event(event_type: Any, **kwargs: Any) -> Any:
        calls.append(event_type.name)
        if len(calls) == len(events):
            raise TrailDown(event_type.name)
        return real_record_event(event_type, **kwargs)

    for module in (common, model_actions, versions, findings, webhooks):  # every action module that records
        monkeypatch.setattr(module, "record_event", record_event)
    before, seq = db_state(), last_seq()

    with pytest.raises(TrailDown):
        call()

    assert calls == events  # the failure came where the scenario says: after the business write it records
    assert events_since(seq) == []
    assert db_state() == before


# --- concurrency -----------------------------------------------------------------------------------------------


def run_together(*calls: Callable[[], Any]) -> list[BaseException | None]:
    """Run each call in its own thread (and so its own database connection), released at the same moment."""
    start = threading.Barrier(len(calls), timeout=30)
    outcomes: list[BaseException | None] = [None] * len(calls)

    def work(index: int, call: Callable[[], Any]) -> None:
        try:
            start.wait()
            call()
        except BaseException as exc:  # reported to the test, which asserts on it
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a transition hung"
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
def test_two_approvers_at_once_approve_once(
    unprotected_trail: None, cast: Cast, make_version: MakeVersion, walk: Walk
) -> None:
    model = register_model(cast, "minimal")
    ravi = new_member("ravi", "reviewer", ["credit-risk"])
    version = walk(make_version(model), "submitted")
    seq = last_seq()

    outcomes = run_together(
        lambda: perform("approve", version, cast.reviewer), lambda: perform("approve", version, ravi)
    )

    errors = [exc for exc in outcomes if exc is not None]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], RegistryError)
    assert errors[0].code == "illegal_transition"
    winner = (cast.reviewer, ravi)[outcomes.index(None)]
    version.refresh_from_db()
    assert version.state == "approved"
    assert list(Review.objects.filter(version=version).values_list("reviewer_id", flat=True)) == [winner.user.pk]
    recorded = events_since(seq)
    assert actions_of(recorded) == ["model_version.approval_added", "model_version.approved"]
    assert recorded[1].payload["approvers"] == [winner.user.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
def test_two_deploys_to_production_at_once_leave_exactly_one_live(
    unprotected_trail: None, cast: Cast, make_version: MakeVersion, walk: Walk
) -> None:
    model = register_model(cast, "minimal")
    oscar = new_member("oscar", "officer", [])
    v1 = walk(make_version(model), "approved")
    v2 = walk(make_version(model), "approved")
    seq = last_seq()

    outcomes = run_together(lambda: perform("deploy", v1, cast.officer), lambda: perform("deploy", v2, oscar))

    assert Deployment.objects.filter(model=model, environment="production", retired_at__isnull=True).count() == 1
    (live_version,) = live(model, "production")
    deployed = events_since(seq, "model_version.deployed")
    retired = events_since(seq, "model_version.retired")
    succeeded = {number for number, exc in zip((1, 2), outcomes, strict=True) if exc is None}
    failed = [(number, exc) for number, exc in zip((1, 2), outcomes, strict=True) if exc is not None]
    in_order = [e.payload["version"] for e in deployed]  # the order in which the deploys committed
    assert sorted(in_order) == sorted(succeeded)  # one event per deployment that went through, none for the loser
    assert live_version == in_order[-1]
    for number, exc in failed:
        # The loser got a clear error, and nothing of its attempt remains.
        assert isinstance(exc, RegistryError), exc
        assert exc.code == "concurrent_deploy"
        assert ModelVersion.objects.get(model=model, number=number).state == "approved"
    if len(succeeded) == 2:
        # Both went through one after the other: the first was replaced by the second.
        first, second = in_order
        assert ModelVersion.objects.get(model=model, number=first).state == "retired"
        assert [(e.payload["version"], e.payload["replaced_by"]) for e in retired] == [(first, second)]
        assert deployed[1].payload["replaced_version"] == first
    else:
        assert retired == []
    assert ModelVersion.objects.get(model=model, number=live_version).state == "deployed"
