"""Batched sequencing (TRAIL_SEQUENCING=batched): queued events become the same leaves an inline append writes.

Runs on whichever database the suite uses (SQLite by default; PostgreSQL with DATABASE_URL). Transactional: the
sequencer runs after commits, as in production.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance.trail import events, sequencer
from governance.trail.leaf import rederive
from governance.trail.log import Actor, TrailError, current_root, record_event
from governance.trail.merkle import root_from_leaf_hashes
from governance.trail.models import Event, PendingEvent, QueuedEvent
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from tests.conftest import Cast
from tests.trail.helpers import run_verify_trail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]

ROW_COLUMNS = (
    "seq, recorded_at, action, actor_kind, actor_user_id, actor_token_id, object_type, object_id, payload, leaf, "
    "leaf_hash, prev_hash"
)


@pytest.fixture
def batched(settings: Any, unprotected_trail: None) -> Iterator[None]:
    """Batched mode for one test; afterwards the queue is emptied (its triggers dropped for that, then restored)."""
    settings.TRAIL_SEQUENCING = "batched"
    yield
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


def queue(i: int, **payload: Any) -> Event:
    return record_event(
        events.TEAM_CREATED,
        actor=Actor.system(),
        object_type="test",
        object_id=i,
        payload=payload or {"slug": f"t{i}"},
    )


def chain_is_whole() -> list[int]:
    """Every stored leaf re-derives from its columns and the tree over them is the stored one; returns the seqs."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ROW_COLUMNS} FROM governance_event ORDER BY seq")
        rows = cursor.fetchall()
    checked = [rederive(row) for row in rows]
    assert all(exact for _, _, exact in checked)
    seqs = [seq for seq, _, _ in checked]
    assert current_root() == (len(rows), root_from_leaf_hashes([digest for _, digest, _ in checked]))
    return seqs


def test_an_event_is_queued_in_the_transaction_and_sequenced_after_its_commit(batched: None) -> None:
    with transaction.atomic():
        handle = queue(0)
        assert isinstance(handle, PendingEvent)
        assert not handle.is_sequenced
        assert (handle.action, handle.object_id, handle.payload) == ("team.created", "0", {"slug": "t0"})
        assert Event.objects.count() == 0  # nothing appended, no lock taken
        assert QueuedEvent.objects.filter(pk=handle.queued_id, seq=None).exists()
    # The commit ran the in-process sequencer: the event is in the log, with the time it was queued with.
    event = Event.objects.get(action="team.created")
    assert event.recorded_at == handle.recorded_at
    assert QueuedEvent.objects.get(pk=handle.queued_id).seq == event.seq
    assert handle.seq == event.seq
    assert bytes(handle.leaf_hash) == bytes(event.leaf_hash)
    assert not sequencer.pending_exists()
    assert chain_is_whole() == list(range(Event.objects.count()))
    code, output = run_verify_trail()
    assert code == 0, output


def test_reading_the_seq_in_the_transaction_sequences_it_there_and_later_events_append_inline(batched: None) -> None:
    with transaction.atomic():
        first = queue(0)
        assert first.seq == 0  # read: sequenced now, under the lock, in this transaction
        assert Event.objects.filter(seq=0, object_id="0").exists()
        second = queue(1)  # this transaction holds the lock: nothing to gain by queueing
        assert not isinstance(second, PendingEvent)
        assert second.seq == 1
    assert list(Event.objects.order_by("seq").values_list("object_id", flat=True)[:2]) == ["0", "1"]
    assert chain_is_whole()[:2] == [0, 1]


def test_a_rolled_back_transaction_leaves_no_queued_event(batched: None) -> None:
    handle = None

    def failing_action() -> None:
        nonlocal handle
        with transaction.atomic():
            handle = queue(0)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    assert isinstance(handle, PendingEvent)
    assert not QueuedEvent.objects.exists()
    assert not Event.objects.exists()
    with pytest.raises(TrailError, match="not in the queue"):
        _ = handle.seq


def test_events_queued_together_keep_their_order_and_the_leaves_equal_inline_ones(batched: None) -> None:
    with transaction.atomic():
        for i in range(7):
            queue(i, slug=f"s{i}-é\u2028😀")
            record_event(
                events.TOKEN_ISSUED,
                actor=Actor(kind="token", user_id=i, token_id=10 + i),
                object_type="access.apitoken",
                object_id=f"{i}",
                payload={"read_only": i % 2 == 0, "expires_at": None, "user": i},
            )
    events_in_log = list(Event.objects.filter(object_type__in=["test", "access.apitoken"]).order_by("seq"))
    assert [(e.action, e.object_id) for e in events_in_log] == [
        (action, str(i)) for i in range(7) for action in ("team.created", "token.issued")
    ]
    assert events_in_log[1].payload == {"read_only": True, "expires_at": None, "user": 0}
    assert chain_is_whole() == list(range(Event.objects.count()))


def test_a_bad_payload_fails_in_the_action_that_queued_it(batched: None) -> None:
    with pytest.raises(TrailError, match="does not declare payload fields"), transaction.atomic():
        queue(0, slug="x", password="hunter2")
    with pytest.raises(ValueError, match="not representable"), transaction.atomic():
        queue(1, slug=float("nan"))
    assert not QueuedEvent.objects.exists()


def test_the_sequencer_revalidates_rows_written_behind_its_back(batched: None) -> None:
    """Someone with database access writes the queue by hand: the sequencer refuses what record_event would have."""
    with transaction.atomic():
        queue(0)
        good = {"action": "team.created", "actor_kind": "system", "object_type": "t", "object_id": "1"}
        bad = [
            {**good, "payload": '{"secret":"y","slug":"x"}'},
            {**good, "action": "no.such.type", "payload": "{}"},
            {**good, "actor_kind": "root", "payload": '{"slug":"x"}'},
            {**good, "payload": '{"slug":NaN}'},
        ]
        for fields in bad:
            QueuedEvent.objects.create(queued_at=timezone.now(), **fields)
        queue(2)
    refused = dict(QueuedEvent.objects.exclude(rejected="").values_list("id", "rejected"))
    assert len(refused) == 4
    reasons = " | ".join(refused.values())
    for needle in ("does not declare payload fields", "not registered", "unknown actor kind", "cannot be encoded"):
        assert needle in reasons
    assert list(Event.objects.filter(action="team.created").values_list("object_id", flat=True)) == ["0", "2"]
    assert chain_is_whole() == list(range(Event.objects.count()))


def test_the_queue_refuses_rewriting_deleting_or_forging_positions(batched: None) -> None:
    with transaction.atomic():
        handle = queue(0)
        pending = queue(1)
        _ = handle.seq  # sequences both
    with transaction.atomic():
        waiting = queue(2)
        attempts = [
            f"UPDATE governance_queuedevent SET seq = 99 WHERE id = {handle.queued_id}",  # move a sequenced event
            f"UPDATE governance_queuedevent SET payload = '{{}}' WHERE id = {waiting.queued_id}",  # change one waiting
            f"DELETE FROM governance_queuedevent WHERE id = {waiting.queued_id}",  # lose one waiting
            "INSERT INTO governance_queuedevent (queued_at, action, actor_kind, object_type, object_id, payload, seq, "
            "rejected) VALUES ('2026-01-01 00:00:00', 'team.created', 'system', 't', '9', '{}', 5, '')",  # a seq
        ]
        for sql in attempts:
            with (
                pytest.raises(DatabaseError, match="assay: a queued event"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql)
    assert QueuedEvent.objects.get(pk=handle.queued_id).seq == handle.seq
    assert QueuedEvent.objects.get(pk=pending.queued_id).seq == pending.seq
    assert QueuedEvent.objects.filter(pk=waiting.queued_id).exclude(seq=None).exists()
    # A sequenced row may go (its event stays in the log): that is how the queue is pruned.
    QueuedEvent.objects.filter(pk=handle.queued_id).delete()
    assert Event.objects.filter(seq=handle.seq).exists()
    assert chain_is_whole() == list(range(Event.objects.count()))


def test_the_proof_endpoint_says_queued_then_proves(batched: None, cast: Cast) -> None:
    client = cast.officer.client()
    with transaction.atomic():
        handle = queue(0)
    assert client.get("/api/v1/trail/proofs/inclusion?queued=999999").status_code == 404
    body = client.get(f"/api/v1/trail/proofs/inclusion?queued={handle.queued_id}").json()
    assert body["state"] == "sequenced"
    assert body["leaf_index"] == handle.seq
    # A row still waiting (its writer's process died before sequencing: here, queued with the sequencer unhooked).
    waiting = QueuedEvent.objects.create(
        queued_at=timezone.now(), action="team.created", actor_kind="system", payload='{"slug":"w"}'
    )
    response = client.get(f"/api/v1/trail/proofs/inclusion?queued={waiting.pk}")
    assert (response.status_code, response.json()) == (202, {"state": "queued", "queued": waiting.pk})
    assert sequencer.sequence_trail_task() == 1  # the sweeper
    body = client.get(f"/api/v1/trail/proofs/inclusion?queued={waiting.pk}").json()
    assert body["state"] == "sequenced"
    assert body["leaf_hash"] == bytes(Event.objects.get(seq=body["leaf_index"]).leaf_hash).hex()
    assert body["tree_size"] == Event.objects.count()


def test_the_sweeper_prunes_rows_sequenced_long_ago_and_keeps_recent_and_waiting_ones(batched: None) -> None:
    old = timezone.now() - sequencer.KEEP_SEQUENCED - dt.timedelta(minutes=1)
    with transaction.atomic():
        recent = queue(0)
    long_ago = QueuedEvent.objects.create(queued_at=old, action="team.created", actor_kind="system", payload="{}")
    assert sequencer.sequence_trail_task() == 1
    assert not QueuedEvent.objects.filter(pk=long_ago.pk).exists()  # sequenced (its event is in the log), then gone
    assert Event.objects.filter(recorded_at=old, action="team.created").exists()
    assert QueuedEvent.objects.get(pk=recent.queued_id).seq == recent.seq
