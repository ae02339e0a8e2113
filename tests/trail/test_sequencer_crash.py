"""A process killed for real between queueing and sequencing, or in the middle of sequencing, loses no event.

The child process appends in batched mode and is held (then SIGKILLed) at the chosen moment: right after its
transaction committed the queued events, before its in-process sequencer ran; or inside the sequencer's transaction,
after the events and nodes were inserted but before the commit. The sweeper (the worker's beat job) then sequences
what the dead process left, and the trail verifies.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from governance.trail import sequencer
from governance.trail.models import Event, QueuedEvent
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from tests.crash_helpers import ROOT, child_env, wait_for
from tests.trail.helpers import append, run_verify_trail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]

CHILD = textwrap.dedent(
    """
    import pathlib, sys, time
    import django
    django.setup()
    from django.db import transaction
    from governance.trail import events, log, sequencer
    from governance.trail.log import Actor, record_event

    ready, moment = pathlib.Path(sys.argv[1]), sys.argv[2]

    def hold(*args):
        ready.write_text(moment)
        while True:
            time.sleep(0.05)

    if moment == "after-commit":  # before the sequencer's own hook runs
        log._queue_listeners.insert(0, hold)
    else:  # inside the sequencer's transaction, events and nodes inserted, nothing committed
        real_mark = sequencer._mark

        def mark(cursor, column, pairs):
            real_mark(cursor, column, pairs)
            hold()

        sequencer._mark = mark
    with transaction.atomic():
        for i in range(5):
            record_event(events.TEAM_CREATED, actor=Actor.system(), object_type="crash", object_id=i,
                         payload={"slug": f"c{i}"})
    print("not held", flush=True)
    """
)


@pytest.fixture
def batched_child(unprotected_trail: None, tmp_path: Path) -> Iterator[Any]:
    children: list[subprocess.Popen[str]] = []

    def start(moment: str) -> subprocess.Popen[str]:
        ready, log = tmp_path / f"ready-{moment}", tmp_path / f"log-{moment}"
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ready), moment],
            cwd=ROOT,
            env={**child_env(), "TRAIL_SEQUENCING": "batched"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        children.append(process)
        wait_for(lambda: ready.exists() or process.poll() is not None, f"the child to be held ({moment})")
        assert ready.exists(), log.read_text()
        process.send_signal(signal.SIGKILL)
        process.wait()
        return process

    yield start
    for process in children:
        if process.poll() is None:
            process.kill()
            process.wait()
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


@pytest.mark.parametrize("moment", ["after-commit", "mid-sequencing"])
def test_a_process_killed_before_its_events_are_sequenced_loses_none_of_them(
    batched_child: Any, moment: str, settings: Any
) -> None:
    append(3)  # a trail that already has a head, appended inline
    before = Event.objects.count()
    batched_child(moment)
    # Dead: its transaction's five events are durably queued; none is in the log, not even half a batch.
    assert Event.objects.count() == before
    assert not Event.objects.filter(object_type="crash").exists()
    assert list(QueuedEvent.objects.filter(seq=None).values_list("object_id", flat=True)) == [str(i) for i in range(5)]
    settings.TRAIL_SEQUENCING = "batched"
    assert sequencer.sequence_trail_task() == 5  # the sweeper (beat, in the worker); waits for the dead lock to go
    crashed = list(Event.objects.filter(object_type="crash").order_by("seq").values_list("seq", "object_id"))
    assert [object_id for _, object_id in crashed] == [str(i) for i in range(5)]
    assert [seq for seq, _ in crashed] == list(range(before, before + 5))
    assert list(Event.objects.order_by("seq").values_list("seq", flat=True)) == list(range(before + 5))
    code, output = run_verify_trail()
    assert code == 0, output
