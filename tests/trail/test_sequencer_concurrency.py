"""Batched sequencing under concurrency: writers queue without the lock and lose nothing; sequencers need the lock.

Each thread has its own database connection, as separate web workers and sequencers would (SQLite by default,
PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from governance.trail import events, sequencer
from governance.trail.log import Actor, current_root, record_event
from governance.trail.merkle import root_from_leaf_hashes
from governance.trail.models import Event, QueuedEvent
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from tests.trail.helpers import run_verify_trail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]


@pytest.fixture
def batched(settings: Any, unprotected_trail: None) -> Iterator[None]:
    settings.TRAIL_SEQUENCING = "batched"
    yield
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


def in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(n)`` in ``count`` threads started together; return the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def assert_whole_chain() -> list[Event]:
    events_in_log = list(Event.objects.order_by("seq"))
    assert [e.seq for e in events_in_log] == list(range(len(events_in_log)))
    hashes = [bytes(e.leaf_hash) for e in events_in_log]
    assert current_root() == (len(hashes), root_from_leaf_hashes(hashes))
    code, output = run_verify_trail()
    assert code == 0, output
    return events_in_log


def test_eight_writers_queue_concurrently_and_every_event_is_sequenced_once(batched: None) -> None:
    def write(worker: int) -> None:
        for i in range(50):
            with transaction.atomic():
                record_event(
                    events.TEAM_CREATED,
                    actor=Actor.system(),
                    object_type="test",
                    object_id=f"{worker}-{i}",
                    payload={"slug": f"w{worker}-{i}"},
                )

    assert in_threads(8, write) == []
    # No sweeper ran: the try-lock hand-over alone left nothing behind (a writer that lost the try-lock committed
    # before the holder's release, and the holder looked again after it).
    assert not sequencer.pending_exists()
    written = [e.object_id for e in assert_whole_chain() if e.action == "team.created"]
    assert sorted(written) == sorted(f"{w}-{i}" for w in range(8) for i in range(50))
    assert len(written) == len(set(written)) == 400
    assert QueuedEvent.objects.filter(seq=None).count() == 0


def queue_by_hand(count: int) -> None:
    """Rows as committed writers leave them when their process died before its sequencing (no hook runs)."""
    QueuedEvent.objects.bulk_create(
        QueuedEvent(
            queued_at=timezone.now(),
            action="team.created",
            actor_kind="system",
            object_type="test",
            object_id=str(i),
            payload=f'{{"slug":"q{i}"}}',
        )
        for i in range(count)
    )


def race_sequencers(*, lock: bool) -> list[BaseException]:
    """Two sequencers, each holding at a barrier after reading the log's head, then writing the same pending rows.

    With the lock the second cannot read the head until the first commits (the barrier times out, which is fine);
    without it both read the same head, so the collision is certain, not timing luck.
    """
    read_head = threading.Barrier(2, timeout=2)

    def sequence(_: int) -> None:
        with transaction.atomic():
            if lock:
                sequencer.log.lock_trail(sequencer=True)
            head = sequencer.read_head()
            with contextlib.suppress(threading.BrokenBarrierError):
                read_head.wait()
            rows = sequencer.read_pending(1000)
            if rows:
                sequencer.write_batch(head, rows)

    return in_threads(2, sequence)


def test_two_sequencers_with_the_lock_take_turns(batched: None) -> None:
    queue_by_hand(30)
    assert race_sequencers(lock=True) == []
    assert not sequencer.pending_exists()
    assert [e.object_id for e in assert_whole_chain()] == [str(i) for i in range(30)]


def test_without_the_lock_two_sequencers_collide_and_the_database_refuses_the_fork(
    batched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control experiment: the same race without the lock. The loser's inserts claim the head's next seq and
    its leaf hash as parent, which the primary key, the unique prev_hash and the chain trigger refuse."""
    queue_by_hand(30)
    if connection.vendor == "sqlite":
        # SQLite's lock is the IMMEDIATE transaction mode; DEFERRED is what "no lock" means there.
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "transaction_mode", "DEFERRED")
    errors = race_sequencers(lock=False)
    assert errors, "two sequencers wrote after the same head without colliding: the test lost its power"
    assert all(isinstance(error, DatabaseError) for error in errors), errors
    assert len(errors) == 1
    # One batch won, whole; the other left nothing behind, and the queue says each event's seq once.
    assert [e.object_id for e in assert_whole_chain()] == [str(i) for i in range(30)]
    assert sorted(QueuedEvent.objects.values_list("seq", flat=True)) == list(range(30))
