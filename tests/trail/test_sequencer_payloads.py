"""Batched sequencing: the leaf holds exactly the payload record_event validated, and reading a seq inside the
transaction sequences as many batches as are queued ahead of it.

Runs on whichever database the suite uses (SQLite by default; PostgreSQL with DATABASE_URL): on PostgreSQL a jsonb
queue column would rewrite 1e16 as the integer 10000000000000000 (beyond 2**53, which the leaf encoder refuses).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from governance.trail.checks import QUEUE_STALE_AFTER, trail_queue_clear
from governance.trail.leaf import encode_leaf
from governance.trail.log import Actor
from governance.trail.models import Event, QueuedEvent
from tests.trail.test_sequencer import batched, chain_is_whole, queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]
__all__ = ["batched"]  # the fixture, imported for the tests here

NUMBERS = [1e16, 0.1, 1e21, 5e-324, -2.5, 2**53 - 1, -(2**53 - 1), 0]


def inline_leaf(event: Event, payload: dict[str, Any]) -> bytes:
    """The leaf an inline append of ``payload`` at ``event``'s place would have written."""
    return encode_leaf(
        seq=event.seq,
        prev_hash=bytes(event.prev_hash),
        recorded_at=event.recorded_at,
        action=event.action,
        actor=Actor.system().as_leaf(),
        object_type=event.object_type,
        object_id=event.object_id,
        payload=payload,
    )


def test_float_payloads_are_sequenced_into_the_leaf_an_inline_append_writes(batched: None) -> None:
    payload = {"slug": NUMBERS}
    with transaction.atomic():
        handle = queue(0, **payload)
    queued = QueuedEvent.objects.get(pk=handle.queued_id)
    assert queued.rejected == ""
    assert queued.payload == '{"slug":[10000000000000000,0.1,1e+21,5e-324,-2.5,9007199254740991,-9007199254740991,0]}'
    event = Event.objects.get(seq=queued.seq)
    leaf = bytes(event.leaf)
    assert leaf == inline_leaf(event, payload)
    assert b'"payload":' + queued.payload.encode() in leaf
    assert bytes(handle.leaf) == leaf


def test_hand_written_payload_text_that_is_not_canonical_is_refused(batched: None) -> None:
    good = {"action": "team.created", "actor_kind": "system", "object_type": "t", "object_id": "1"}
    texts = {
        '{"slug": "x"}': "canonical form",  # a space
        # No float is spelt 9007199254740993 (2**53 + 1): it stays an integer, beyond what RFC 8785 may write.
        '{"slug":9007199254740993}': "exceeds safe integer domain",
        '{"slug":"a","slug":"b"}': "canonical form",  # a duplicate key
        '{"slug":1.0}': "canonical form",
        "not json": "not JSON text",
        '{"slug":"1e16 is 10000000000000000"}': None,  # canonical: accepted
    }
    rows = {text: QueuedEvent.objects.create(queued_at=timezone.now(), payload=text, **good).pk for text in texts}
    with transaction.atomic():
        queue(2)  # its commit runs the sequencer, which takes the hand-written rows too
    for text, needle in texts.items():
        row = QueuedEvent.objects.get(pk=rows[text])
        if needle is None:
            assert (row.rejected, row.seq is not None) == ("", True)
        else:
            assert needle in row.rejected, (text, row.rejected)
            assert row.seq is None
    assert chain_is_whole() == list(range(Event.objects.count()))


def test_reading_a_seq_in_the_transaction_sequences_every_batch_ahead_of_it(batched: None, settings: Any) -> None:
    settings.TRAIL_SEQUENCER_BATCH = 1
    with transaction.atomic():
        handles = [queue(i) for i in range(4)]
        assert handles[2].seq == 2  # three batches of one, in this transaction
        assert [handle.is_sequenced for handle in handles] == [False, False, True, False]
        assert handles[0].seq == 0
        assert list(Event.objects.order_by("seq").values_list("object_id", flat=True)) == ["0", "1", "2"]
        assert handles[3].seq == 3
    assert not QueuedEvent.objects.filter(seq=None).exists()
    assert chain_is_whole()[:4] == [0, 1, 2, 3]  # and the checkpoint's event after them
    assert list(Event.objects.filter(seq__lt=4).values_list("object_id", flat=True)) == ["0", "1", "2", "3"]


def test_the_system_check_reports_refused_and_stale_queued_events(batched: None) -> None:
    with transaction.atomic():
        queue(0)
    assert trail_queue_clear() == []  # sequenced after its commit: nothing to report
    old = timezone.now() - QUEUE_STALE_AFTER - dt.timedelta(minutes=1)
    fields = {"action": "team.created", "actor_kind": "system", "payload": '{"slug":"w"}'}
    recent = QueuedEvent.objects.create(queued_at=timezone.now(), **fields)  # its writer's process died: no hook
    assert trail_queue_clear() == []  # the sweeper has time to take it
    stale = QueuedEvent.objects.create(queued_at=old, **fields)
    dropped = QueuedEvent.objects.create(queued_at=timezone.now(), **fields)
    # What the triggers cannot refuse: someone marking a pending event refused so that it never reaches the log.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE governance_queuedevent SET rejected = 'x' WHERE id = %s", [dropped.pk])
    [warning] = trail_queue_clear()
    assert warning.id == "assay.W002"
    assert warning.msg.startswith("queued trail events: 1 refused by the sequencer and 1 waiting longer than 0:15:00")
    assert {recent.pk, stale.pk} <= set(QueuedEvent.objects.filter(seq=None, rejected="").values_list("pk", flat=True))
