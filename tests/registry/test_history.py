"""What was live when: GET /api/v1/models/{name}/history?as_of=T, replayed from the trail.

A scripted life of one high-risk model (two versions, two environments) is played through the actions; the
time of each step is read back from its trail event, and the history is asked about the instants between
steps. The evidence it cites (trail seq numbers) is then proven to be in a signed checkpoint of the trail.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from governance.trail import log, verifier
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import published_verifier_keys
from governance.trail.models import Event
from registry import actions
from registry.models import RegisteredModel
from tests.api import assert_error, events_since, last_seq
from tests.conftest import Cast
from tests.registry.conftest import MakeVersion, Walk, acting, new_member

HISTORY = "/api/v1/models/credit-scoring/history"
MICROSECOND = dt.timedelta(microseconds=1)


class StrictlyIncreasingClock:
    """The real clock, nudged by a microsecond when two trail events would share a timestamp.

    Two events recorded within one microsecond are possible on a fast machine; with distinct times every step
    of the script has an instant of its own to ask about, so no assertion depends on timing luck.
    """

    def __init__(self) -> None:
        self.last: dt.datetime | None = None

    def now(self) -> dt.datetime:
        moment = timezone.now()
        if self.last is not None and moment <= self.last:
            moment = self.last + MICROSECOND
        self.last = moment
        return moment


@pytest.fixture(autouse=True)
def distinct_event_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log, "timezone", StrictlyIncreasingClock())


@dataclass
class Step:
    """One step of the script: when it began and ended (its first and last events) and what is live after it."""

    name: str
    began: dt.datetime
    at: dt.datetime
    live: dict[str, int]


def ask(client: Any, as_of: dt.datetime) -> dict[str, Any]:
    response = client.get(HISTORY, {"as_of": as_of.isoformat()})
    assert response.status_code == 200, response.content
    return response.json()


def live_versions(answer: dict[str, Any]) -> dict[str, int]:
    return {environment: entry["version"] for environment, entry in answer["environments"].items()}


@pytest.fixture
def script(cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk) -> list[Step]:
    """v1 to staging and production, v2 replaces v1 in production, v1 leaves staging, v2 is retired."""
    ravi = new_member("ravi", "reviewer", ["credit-risk"])
    officer = cast.officer

    steps: list[Step] = []
    seq = last_seq()

    def done(name: str, live: dict[str, int]) -> None:
        nonlocal seq
        times = [event.recorded_at for event in events_since(seq)]
        steps.append(Step(name, began=times[0], at=times[-1], live=live))
        seq = last_seq()

    v1 = walk(make_version(high_risk_model), "approved")  # rhea and olivia approve
    done("v1 approved", {})
    actions.do_deploy(version=v1, user=officer.user, actor=acting(officer), environment="staging")
    done("v1 to staging", {"staging": 1})
    actions.do_deploy(version=v1, user=officer.user, actor=acting(officer), environment="production")
    done("v1 to production", {"staging": 1, "production": 1})
    v2 = make_version(high_risk_model)
    actions.do_submit(version=v2, user=cast.owner.user, actor=acting(cast.owner))
    for approver in (ravi, officer):
        actions.do_approve(version=v2, user=approver.user, actor=acting(approver))
    done("v2 approved", {"staging": 1, "production": 1})
    actions.do_deploy(version=v2, user=officer.user, actor=acting(officer), environment="production")
    done("v2 replaces v1 in production", {"staging": 1, "production": 2})
    actions.do_retire(version=v1, user=officer.user, actor=acting(officer), reason="staging freed")
    done("v1 leaves staging", {"production": 2})
    actions.do_retire(version=v2, user=officer.user, actor=acting(officer), reason="model withdrawn")
    done("v2 retired", {})
    return steps


def test_the_history_answers_what_was_live_at_every_instant_between_steps(
    cast: Cast, high_risk_model: RegisteredModel, script: list[Step]
) -> None:
    client = cast.officer.client()
    first_event = Event.objects.filter(payload__model="credit-scoring").order_by("seq").first()
    assert first_event is not None

    assert ask(client, first_event.recorded_at - MICROSECOND)["environments"] == {}
    for step, following in zip(script, [*script[1:], None], strict=True):
        assert live_versions(ask(client, step.at)) == step.live, f"right after {step.name}"
        if following is not None:
            # The last instant before the next step began still shows this step's state.
            before_next = following.began - MICROSECOND
            assert live_versions(ask(client, before_next)) == step.live, f"just before {following.name}"


def test_the_answer_names_who_deployed_and_approved_with_their_trail_events(
    cast: Cast, high_risk_model: RegisteredModel, script: list[Step]
) -> None:
    (moment,) = [step.at for step in script if step.name == "v2 replaces v1 in production"]

    answer = ask(cast.officer.client(), moment)

    assert answer["model"] == "credit-scoring"
    assert answer["as_of"].startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    expected = {"staging": (1, ["rhea", "olivia"]), "production": (2, ["ravi", "olivia"])}
    assert set(answer["environments"]) == set(expected)
    for environment, (number, approvers) in expected.items():
        entry = answer["environments"][environment]
        version_events = Event.objects.filter(payload__model="credit-scoring", payload__version=number)
        deployed = version_events.get(action="model_version.deployed", payload__environment=environment)
        approvals = list(version_events.filter(action="model_version.approval_added").order_by("seq"))
        assert entry["version"] == number
        assert entry["deployed_by"] == "olivia"
        assert entry["deployed"]["seq"] == deployed.seq
        assert entry["deployed"]["leaf_hash"] == bytes(deployed.leaf_hash).hex()
        assert [(a["username"], a["seq"]) for a in entry["approvals"]] == [
            (username, event.seq) for username, event in zip(approvers, approvals, strict=True)
        ]
        assert [a["leaf_hash"] for a in entry["approvals"]] == [bytes(e.leaf_hash).hex() for e in approvals]


def test_approvals_given_after_the_instant_are_not_shown(
    cast: Cast, high_risk_model: RegisteredModel, script: list[Step]
) -> None:
    answer = ask(cast.officer.client(), script[1].at)  # v1 in staging; v2 not even registered yet

    assert [a["username"] for a in answer["environments"]["staging"]["approvals"]] == ["rhea", "olivia"]
    assert "production" not in answer["environments"]


def test_without_as_of_the_history_answers_for_now(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "deployed", environment="production")

    response = cast.reviewer.client().get(HISTORY)

    assert response.status_code == 200
    assert live_versions(response.json()) == {"production": 1}


def test_before_anything_happened_nothing_was_live(cast: Cast, high_risk_model: RegisteredModel) -> None:
    answer = ask(cast.officer.client(), dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    assert answer["environments"] == {}


def test_another_models_deployments_never_leak_into_the_answer(
    cast: Cast,
    high_risk_model: RegisteredModel,
    minimal_risk_model: RegisteredModel,
    make_version: MakeVersion,
    walk: Walk,
) -> None:
    walk(make_version(minimal_risk_model), "deployed", environment="production")

    assert ask(cast.officer.client(), timezone.now())["environments"] == {}


@pytest.mark.parametrize(
    "as_of",
    [
        "yesterday",
        "2026-01-31",  # a date, not an instant
        "2026-01-31T12:00:00",  # no timezone: ambiguous
        "",
    ],
)
def test_a_bad_as_of_is_422(cast: Cast, high_risk_model: RegisteredModel, as_of: str) -> None:
    response = cast.officer.client().get(HISTORY, {"as_of": as_of})

    if as_of == "":
        assert response.status_code == 200  # empty means "now", like no parameter
        return
    error = assert_error(response, 422, "validation_failed")
    assert list(error["details"]) == ["as_of"]


@pytest.mark.parametrize("as_of", ["2026-13-01T00:00:00Z", "2026-02-30T10:00:00+00:00"])
def test_an_impossible_as_of_is_422_not_a_crash(cast: Cast, high_risk_model: RegisteredModel, as_of: str) -> None:
    response = cast.officer.client().get(HISTORY, {"as_of": as_of})

    error = assert_error(response, 422, "validation_failed")
    assert list(error["details"]) == ["as_of"]


def test_a_replacement_leaves_no_instant_without_a_live_version(
    cast: Cast, high_risk_model: RegisteredModel, script: list[Step]
) -> None:
    retired = Event.objects.get(action="model_version.retired", payload__replaced_by=2)
    deployed = Event.objects.get(action="model_version.deployed", payload__version=2)
    assert retired.seq + 1 == deployed.seq  # one transaction: nothing else between them
    assert retired.recorded_at < deployed.recorded_at

    answer = ask(cast.officer.client(), retired.recorded_at)

    assert live_versions(answer).get("production") in (1, 2)


def test_every_cited_event_is_proven_in_a_signed_checkpoint(
    cast: Cast, high_risk_model: RegisteredModel, script: list[Step]
) -> None:
    (moment,) = [step.at for step in script if step.name == "v2 replaces v1 in production"]
    answer = ask(cast.officer.client(), moment)
    cited = {entry["deployed"]["seq"]: entry["deployed"]["leaf_hash"] for entry in answer["environments"].values()} | {
        a["seq"]: a["leaf_hash"] for entry in answer["environments"].values() for a in entry["approvals"]
    }
    assert len(cited) == 6  # two deployments, four approvals

    issue_checkpoint()
    # Verified as a regulator would: the checkpoint's signature with the published keys, then each proof.
    keys = [verifier.parse_verifier_key(text) for text in published_verifier_keys()]
    latest = cast.regulator.client().get("/api/v1/trail/checkpoints/latest").json()
    checkpoint = verifier.verify_checkpoint(latest["note"], keys=keys)
    assert checkpoint.tree_size == latest["tree_size"]
    for seq, leaf_hash in sorted(cited.items()):
        response = cast.regulator.client().get(
            "/api/v1/trail/proofs/inclusion", {"seq": seq, "tree_size": checkpoint.tree_size}
        )
        assert response.status_code == 200, response.content
        proof = response.json()
        assert proof["leaf_hash"] == leaf_hash
        assert bytes.fromhex(proof["root"]) == checkpoint.root
        verifier.verify_inclusion(
            leaf_hash=bytes.fromhex(leaf_hash),
            index=seq,
            tree_size=checkpoint.tree_size,
            proof=[bytes.fromhex(node) for node in proof["proof"]],
            root=checkpoint.root,
        )
        # And the leaf behind the hash says what the history claims it says.
        leaf = bytes(Event.objects.get(seq=seq).leaf)
        assert verifier.leaf_hash(leaf).hex() == leaf_hash
        assert json.loads(leaf)["payload"]["model"] == "credit-scoring"


def test_a_forged_citation_does_not_verify(cast: Cast, high_risk_model: RegisteredModel, script: list[Step]) -> None:
    # The control experiment: the proof check above has the power to fail.
    answer = ask(cast.officer.client(), script[-2].at)
    seq = answer["environments"]["production"]["deployed"]["seq"]
    issue_checkpoint()
    size = last_seq() + 1
    proof = cast.officer.client().get("/api/v1/trail/proofs/inclusion", {"seq": seq, "tree_size": size}).json()
    other = Event.objects.exclude(seq=seq).order_by("-seq").first()
    assert other is not None

    with pytest.raises(verifier.VerificationError):
        verifier.verify_inclusion(
            leaf_hash=bytes(other.leaf_hash),
            index=seq,
            tree_size=size,
            proof=[bytes.fromhex(node) for node in proof["proof"]],
            root=bytes.fromhex(proof["root"]),
        )
    assert events_since(last_seq()) == []
