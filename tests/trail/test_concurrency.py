"""Concurrent appends lose nothing and fork nothing; without the lock they would.

Runs on whichever database the suite uses (SQLite by default, PostgreSQL in CI): each thread has its own
connection, as separate web workers would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from governance.trail import events, log
from governance.trail.log import Actor, current_root, record_event
from governance.trail.merkle import root_from_leaf_hashes
from governance.trail.models import Event
from tests.trail.helpers import run_verify_trail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]


def run_writers(writers: int, appends: int, *, before_write: Callable[[], None] | None = None) -> list[BaseException]:
    """Start ``writers`` threads that each append ``appends`` events; return the errors they hit."""
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(appends):
                with transaction.atomic():
                    if before_write:
                        before_write()
                    record_event(
                        events.TEAM_CREATED,
                        actor=Actor.system(),
                        object_type="test",
                        object_id=f"{worker}-{i}",
                        payload={"slug": f"w{worker}-{i}"},
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def test_eight_writers_times_one_hundred_appends_lose_nothing(unprotected_trail: None) -> None:
    errors = run_writers(8, 100)
    assert errors == []
    seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    # 800 appends, plus the signing key's registration by the first automatic checkpoint.
    assert len(seqs) == 801
    assert seqs == list(range(801))
    ids = set(Event.objects.filter(action="team.created").values_list("object_id", flat=True))
    assert ids == {f"{w}-{i}" for w in range(8) for i in range(100)}
    size, root = current_root()
    hashes = [bytes(h) for h in Event.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert (size, root) == (801, root_from_leaf_hashes(hashes))
    code, output = run_verify_trail()
    assert code == 0, output


def test_without_the_lock_concurrent_appends_collide(unprotected_trail: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control experiment: remove the serialisation and two writers that read the same head collide.

    Both writers are held at a barrier after reading the log's head, so the collision is certain, not timing luck.
    """
    read_head = threading.Barrier(2, timeout=2)
    real_compact_range = log.compact_range

    def read_edge_then_wait(size: int):
        edge = real_compact_range(size)  # called by record_event right after it has read the head
        with contextlib.suppress(threading.BrokenBarrierError):  # a lone writer (the checkpoint) waits it out
            read_head.wait()
        return edge

    monkeypatch.setattr(log, "compact_range", read_edge_then_wait)
    monkeypatch.setattr(log, "lock_trail", lambda: None)
    if connection.vendor == "sqlite":
        # SQLite's lock is the IMMEDIATE transaction mode; DEFERRED is what "no lock" means there.
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "transaction_mode", "DEFERRED")
    errors = run_writers(2, 1)
    assert errors, "two writers appended at the same head without colliding: the test lost its power"
    assert (
        Event.objects.filter(action="team.created").count() == 1
    )  # one append won; the other was refused, not silently forked
