"""The dedicated sequencer (``manage.py sequence_trail --follow``): writers leave sequencing to it while it runs.

Real processes on the suite's database: the sequencer runs as its own ``manage.py`` process, as it is deployed, and
is stopped with SIGTERM or killed with SIGKILL. The loop needs PostgreSQL (DATABASE_URL); on SQLite the command
refuses ``--follow`` and the in-process path is the only one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from governance.trail import events, sequencer, sequencer_live
from governance.trail.log import Actor, TrailError, record_event
from governance.trail.models import Event, PendingEvent, QueuedEvent
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from tests.crash_helpers import ROOT, child_env, wait_for
from tests.trail.helpers import run_verify_trail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]
postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the dedicated sequencer runs on PostgreSQL (set DATABASE_URL)"
)

# A process that holds the dedicated sequencer's lock and never sequences: a sequencer that is alive but stuck.
HOLDER = (
    "import django, time; django.setup()\n"
    "from governance.trail import sequencer_live\n"
    "assert sequencer_live.take_live_lock()\n"
    "while True: time.sleep(0.05)\n"
)


@pytest.fixture
def batched(settings: Any, unprotected_trail: None) -> Iterator[None]:
    settings.TRAIL_SEQUENCING = "batched"
    sequencer_live.forget()
    yield
    sequencer_live.forget()
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


@pytest.fixture
def start_process(batched: None, tmp_path: Path) -> Iterator[Any]:
    """Start a child process on the test's database; every one still running is killed afterwards."""
    children: list[tuple[subprocess.Popen[str], Path]] = []

    def start(*argv: str) -> subprocess.Popen[str]:
        output = tmp_path / f"child-{len(children)}.log"
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env={**child_env(), "TRAIL_SEQUENCING": "batched"},
            stdout=output.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        children.append((process, output))
        return process

    yield start
    for process, _ in children:
        if process.poll() is None:
            process.kill()
            process.wait()
    wait_for(lambda: not sequencer_live.dedicated_sequencer_live(fresh=True), "the children's locks to go")


def start_sequencer(start_process: Any, *argv: str) -> subprocess.Popen[str]:
    process: subprocess.Popen[str] = start_process("manage.py", "sequence_trail", "--follow", *argv)
    wait_for(
        lambda: sequencer_live.dedicated_sequencer_live(fresh=True) or process.poll() is not None,
        "the dedicated sequencer to hold its lock",
    )
    assert process.poll() is None, "the dedicated sequencer exited"
    return process


def write(i: int) -> Event:
    with transaction.atomic():
        return record_event(
            events.TEAM_CREATED, actor=Actor.system(), object_type="test", object_id=i, payload={"slug": f"d{i}"}
        )


def pending() -> list[str]:
    return list(QueuedEvent.objects.filter(seq=None, rejected="").order_by("id").values_list("object_id", flat=True))


def assert_sequenced_in_order(count: int) -> None:
    """The test's events are in the log once each, in queue order (checkpoints may add a key event), and it verifies."""
    written = Event.objects.filter(object_type="test").order_by("seq").values_list("object_id", flat=True)
    assert list(written) == [str(i) for i in range(count)]
    code, output = run_verify_trail()
    assert code == 0, output


def queue_by_hand(start: int, count: int) -> None:
    """Rows as a writer leaves them when no hook runs after its commit (its process died, or it skipped the look)."""
    QueuedEvent.objects.bulk_create(
        QueuedEvent(
            queued_at=timezone.now(),
            action="team.created",
            actor_kind="system",
            object_type="test",
            object_id=str(i),
            payload=f'{{"slug":"d{i}"}}',
        )
        for i in range(start, start + count)
    )


@postgresql_only
def test_a_writer_leaves_its_events_queued_while_a_dedicated_sequencer_holds_the_lock(start_process: Any) -> None:
    holder = start_process("-c", HOLDER)  # alive, holding the lock, never sequencing
    wait_for(lambda: sequencer_live.dedicated_sequencer_live(fresh=True), "the holder to take the lock")
    handles = [write(i) for i in range(3)]
    assert pending() == ["0", "1", "2"]  # the writer did not sequence: no look, no lock taken
    assert Event.objects.count() == 0
    assert all(isinstance(h, PendingEvent) and not h.is_sequenced for h in handles)
    # The control: with the lock gone (the holder killed, its connection closed by the database) the next writer's
    # commit sequences everything queued, in queue order.
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    wait_for(lambda: not sequencer_live.dedicated_sequencer_live(fresh=True), "the dead holder's lock to go")
    write(3)
    assert pending() == []
    assert_sequenced_in_order(4)


@postgresql_only
def test_the_dedicated_sequencer_sequences_what_writers_queue_and_what_no_hook_announced(start_process: Any) -> None:
    start_sequencer(start_process, "--poll-ms", "20")
    for i in range(5):
        write(i)
    queue_by_hand(5, 5)  # committed without any hook after them: only its periodic look finds these
    # Nothing in this process sequences (the writer saw the lock, and nothing here reads a seq): the child does.
    wait_for(lambda: not pending(), "the dedicated sequencer to sequence the queue")
    assert_sequenced_in_order(10)
    assert QueuedEvent.objects.filter(seq=None).count() == 0


@postgresql_only
def test_wait_sequenced_returns_the_seq_the_dedicated_sequencer_gave(start_process: Any) -> None:
    start_sequencer(start_process)
    handle = write(0)
    assert isinstance(handle, PendingEvent)
    seq = sequencer.wait_sequenced(handle.queued_id, timeout=120)
    assert seq == QueuedEvent.objects.get(pk=handle.queued_id).seq == Event.objects.get(object_type="test").seq
    assert handle.seq == seq  # the handle reads the same, waiting the same way


@postgresql_only
def test_wait_sequenced_sequences_itself_when_the_dedicated_sequencer_does_not(start_process: Any) -> None:
    start_process("-c", HOLDER)  # holds the lock, never sequences: the caller's wait runs out
    wait_for(lambda: sequencer_live.dedicated_sequencer_live(fresh=True), "the holder to take the lock")
    handles = [write(i) for i in range(3)]
    assert pending() == ["0", "1", "2"]
    assert isinstance(handles[1], PendingEvent)
    seq = sequencer.wait_sequenced(handles[1].queued_id, timeout=0)
    assert seq == Event.objects.get(object_type="test", object_id="1").seq
    assert pending() == []  # it sequenced the whole queue, as the sweeper would
    assert_sequenced_in_order(3)


@postgresql_only
def test_when_the_dedicated_sequencer_dies_writers_sequence_again_and_nothing_is_lost(start_process: Any) -> None:
    process = start_sequencer(start_process)
    write(0)
    wait_for(lambda: not pending(), "the dedicated sequencer to sequence the first event")
    process.send_signal(signal.SIGKILL)
    process.wait()
    queue_by_hand(1, 2)  # committed while it was dying: no one has looked at them
    wait_for(lambda: not sequencer_live.dedicated_sequencer_live(fresh=True), "the dead sequencer's lock to go")
    assert pending() == ["1", "2"]
    write(3)  # in process again: its look takes what the dead sequencer left, then its own event
    assert pending() == []
    assert_sequenced_in_order(4)


@postgresql_only
def test_a_second_dedicated_sequencer_stands_by_and_a_stopped_one_gives_its_lock_back(start_process: Any) -> None:
    first = start_sequencer(start_process)
    second = start_process("manage.py", "sequence_trail", "--follow")
    first.send_signal(signal.SIGTERM)  # a clean stop: the loop ends, releases the lock, and exits 0
    assert first.wait(timeout=120) == 0
    # The standby takes over (it tries once a second): events written now are still sequenced by a dedicated one.
    wait_for(lambda: sequencer_live.dedicated_sequencer_live(fresh=True), "the standby to take over")
    assert second.poll() is None
    sequencer_live.forget()
    write(0)
    wait_for(lambda: not pending(), "the standby to sequence")
    assert_sequenced_in_order(1)


def test_follow_is_refused_on_sqlite_and_sequencing_once_works_everywhere(batched: None) -> None:
    queue_by_hand(0, 2)
    out = StringIO()
    call_command("sequence_trail", stdout=out)
    assert out.getvalue().strip() == "Sequenced 2 queued event(s)."
    assert_sequenced_in_order(2)
    if connection.vendor == "sqlite":
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("sequence_trail", "--follow")
    with pytest.raises(CommandError, match="--poll-ms must be between 1 and 60000"):
        call_command("sequence_trail", "--follow", "--poll-ms", "0")
    assert not sequencer_live.dedicated_sequencer_live(fresh=True)


def test_wait_sequenced_refuses_inside_a_transaction_and_names_an_unknown_queue_id(batched: None) -> None:
    with transaction.atomic(), pytest.raises(TrailError, match="after the transaction commits"):
        sequencer.wait_sequenced(1)
    with pytest.raises(TrailError, match="queued event 424242 is not in the queue"):
        sequencer.wait_sequenced(424242, timeout=0)
