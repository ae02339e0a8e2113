"""The version lifecycle's atomicity through the action functions: an event that fails to record takes its change
with it, and two people acting at once change the version once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections

from governance.trail import log
from registry import actions
from registry.actions import RegistryError, common, findings, versions, webhooks
from registry.actions import models as model_actions
from registry.models import Deployment, ModelVersion, RegisteredModel, Review
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.registry.conftest import MakeVersion, Walk, acting, new_member, register_model, risk_answers
from tests.registry.lifecycle_helpers import actions_of, live, perform

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
