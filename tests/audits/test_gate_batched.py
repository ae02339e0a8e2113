"""The gate under batched sequencing (``TRAIL_SEQUENCING=batched``): a decision is committed to the trail's queue
before the answer, the answer says it is queued and where to ask, and the gate takes no trail lock to answer.

Transactional, as in production: a decision is durable only once committed. Runs on SQLite and on PostgreSQL (the
lock test on PostgreSQL only: SQLite has no lock of the trail's own, every write transaction holds the database's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections

from audits.gate import decisions
from governance.trail import log, sequencer
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.models import Event, QueuedEvent
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from registry import actions as registry
from tests.conftest import Cast
from tests.registry.conftest import acting, register_model

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]

GATE = "/api/v1/gates/check"
MODEL = "fraud-alerts"
ASK: dict[str, Any] = {"model": MODEL, "version": 1, "environment": "production"}


@pytest.fixture
def approved(cast: Cast, unprotected_trail: None) -> Iterator[None]:
    """A minimal-risk model (no audit required) whose version 1 a reviewer approved: the gate passes it. Afterwards
    the queue is emptied (its triggers dropped for that, then restored), as tests/trail/test_sequencer.py does."""
    model = register_model(cast, "minimal", name=MODEL)
    version = registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_approve(version=version, user=cast.reviewer.user, actor=acting(cast.reviewer))
    yield
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


@pytest.fixture
def dedicated_sequencer(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched mode where no writer sequences after its commit (a dedicated sequencer does, here the test, by
    calling it): what is queued stays queued until then."""
    settings.TRAIL_SEQUENCING = "batched"
    monkeypatch.setattr(log, "_queue_listeners", [])


def ask(cast: Cast) -> dict[str, Any]:
    response = cast.ci.client().post(GATE, ASK, format="json")
    body = response.json()
    assert (response.status_code, body["decision"]) == (200, "pass"), body
    return body


def gate_events() -> list[Event]:
    return list(Event.objects.filter(action="gate.decided").order_by("seq"))


def test_inline_a_decision_is_answered_with_its_id_and_no_trail_object(approved: None, cast: Cast) -> None:
    # The default keeps its API: the decision's id and proof URL at once, no "trail" object.
    body = ask(cast)
    (event,) = gate_events()
    assert (body["decision_id"], body["proof_url"]) == (event.seq, f"/api/v1/gates/decisions/{event.seq}/proof")
    assert "trail" not in body
    assert event.payload["token_sha256"] == hashlib.sha256(body["token"].encode()).hexdigest()


def test_batched_a_decision_is_committed_to_the_queue_before_the_answer_and_provable_once_sequenced(
    approved: None, cast: Cast, dedicated_sequencer: None
) -> None:
    body = ask(cast)
    queued = body["trail"]["queued"]
    assert body["trail"] == {
        "state": "queued",
        "queued": queued,
        "url": f"/api/v1/trail/proofs/inclusion?queued={queued}",
    }
    assert (body["decision_id"], body["proof_url"]) == (None, None)  # no place in the trail yet: nothing to prove
    assert gate_events() == []  # answered without sequencing it
    # Durable: committed, as another connection (another process would see the same) reads it.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT action, payload, seq FROM governance_queuedevent WHERE id = %s", [queued])
            action, payload, seq = cursor.fetchone()
    finally:
        other.close()
    token_sha256 = hashlib.sha256(body["token"].encode()).hexdigest()
    assert (action, seq) == ("gate.decided", None)
    assert f'"token_sha256":"{token_sha256}"' in payload
    client = cast.ci.client()  # a CI token may ask where its decision stands (proofs:read)
    waiting = client.get(body["trail"]["url"])
    assert (waiting.status_code, waiting.json()) == (202, {"state": "queued", "queued": queued})

    assert sequencer.sequence_all() == 1  # the sequencer's next batch
    sequenced = client.get(body["trail"]["url"]).json()
    (event,) = gate_events()
    assert (sequenced["state"], sequenced["leaf_index"]) == ("sequenced", event.seq)
    assert event.payload["token_sha256"] == token_sha256
    issue_checkpoint()
    proof = client.get(f"/api/v1/gates/decisions/{event.seq}/proof")
    assert proof.status_code == 200, proof.content
    assert proof.json()["leaf_index"] == event.seq


def test_batched_the_next_batch_sequences_a_decision_when_writers_sequence_after_their_commit(
    approved: None, cast: Cast, settings: Any
) -> None:
    # Today's batched mode: the writer's commit hook sequences what is queued (unless another holds the lock), after
    # the decision was recorded; the answer still reports the state it was recorded in.
    settings.TRAIL_SEQUENCING = "batched"
    body = ask(cast)
    assert body["trail"]["state"] == "queued"
    (event,) = gate_events()
    assert QueuedEvent.objects.get(pk=body["trail"]["queued"]).seq == event.seq
    found = cast.ci.client().get(body["trail"]["url"]).json()
    assert (found["state"], found["leaf_index"]) == ("sequenced", event.seq)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("mode", ["batched", "inline"])
def test_batched_the_gate_answers_while_another_holds_the_trail_lock(
    approved: None, cast: Cast, settings: Any, mode: str
) -> None:
    # Another transaction holds the trail's lock (a sequencer writing a batch, a checkpoint). A batched decision is
    # recorded and answered without it; the control, inline, must wait for it, and gives up at the lock timeout set
    # here so that the control fails instead of hanging.
    settings.TRAIL_SEQUENCING = mode
    ask(cast)  # the first pass publishes the signing key (a trail event of its own, under the lock): before
    sequencer.sequence_all()
    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [log._ADVISORY_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        if mode == "batched":
            body = ask(cast)
            assert QueuedEvent.objects.get(pk=body["trail"]["queued"]).seq is None  # the writer's try-lock lost
        else:
            with pytest.raises(DatabaseError, match="lock timeout"):
                ask(cast)
            assert len(gate_events()) == 1  # the first one only
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    if mode == "batched":
        assert sequencer.sequence_all() == 1
        assert len(gate_events()) == 2


def test_batched_the_measured_alternative_waits_for_the_decision_s_place_and_answers_with_its_id(
    approved: None, cast: Cast, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # benchmarks/bench_gate.py's "live-wait" arrangement: the answer waits for the sequencer, then names the seq.
    settings.TRAIL_SEQUENCING = "batched"
    monkeypatch.setattr(decisions, "ANSWER_WHEN_QUEUED", False)
    body = ask(cast)
    (event,) = gate_events()
    assert (body["decision_id"], "trail" in body) == (event.seq, False)
