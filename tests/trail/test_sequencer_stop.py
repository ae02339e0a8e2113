"""The dedicated sequencer stops after the batch in hand (not after draining the queue), and a listener that fails
after an append (the job broker unreachable when a checkpoint falls due) neither stops it nor turns a committed
write into an error."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from governance.trail import log, sequencer, sequencer_loop
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.models import Event, QueuedEvent
from tests.trail.test_sequencer import batched, queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]
__all__ = ["batched"]  # the fixture, imported for the tests here

HAND_QUEUED = {"action": "team.created", "actor_kind": "system", "object_type": "t", "object_id": "1"}


def pending() -> int:
    return QueuedEvent.objects.filter(seq__isnull=True, rejected="").count()


@pytest.mark.usefixtures("batched")
def test_a_stop_waits_for_the_batch_in_hand_not_for_the_queue(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the dedicated sequencer runs on PostgreSQL (DATABASE_URL=postgres://...)")
    settings.TRAIL_SEQUENCER_BATCH = 10
    # No checkpoint may fall due meanwhile: a due one's job, run in process here, sequences what is queued itself.
    settings.TRAIL_CHECKPOINT_EVERY_EVENTS = settings.TRAIL_CHECKPOINT_EVERY_SECONDS = 10**9
    issue_checkpoint()
    for number in range(30):  # queued by hand: no writer's hook sequences them
        QueuedEvent.objects.create(queued_at=timezone.now(), payload=f'{{"slug":"{number}"}}', **HAND_QUEUED)
    asked: list[int] = []

    def stop() -> bool:  # SIGTERM arrives while the first batch is written
        asked.append(pending())
        return len(asked) > 1

    done = sequencer_loop.follow(poll_seconds=0.01, should_stop=stop)

    assert (done, asked, pending()) == (10, [30, 20], 20)
    assert sequencer.sequence_all() == 20  # the rest stay queued, for the next sequencer


@pytest.fixture
def failing_listener() -> Any:
    calls: list[int] = []

    def broker_down(size: int) -> None:
        calls.append(size)
        raise ConnectionError("the job broker is unreachable")

    log.on_append(broker_down)
    yield calls
    log._append_listeners.remove(broker_down)


@pytest.mark.usefixtures("unprotected_trail")
def test_a_listener_that_fails_after_an_inline_append_leaves_it_committed_and_quiet(
    failing_listener: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    with transaction.atomic():
        event = queue(0, slug="committed")

    assert Event.objects.filter(seq=event.seq).exists()
    assert event.seq + 1 in failing_listener  # it was told of this append, and it failed
    assert "the job broker is unreachable" in caplog.text
    assert "the events are committed" in caplog.text


@pytest.mark.usefixtures("batched")
def test_a_listener_that_fails_after_a_batch_leaves_the_sequencer_going(failing_listener: list[int]) -> None:
    for number in range(3):
        QueuedEvent.objects.create(queued_at=timezone.now(), payload=f'{{"slug":"{number}"}}', **HAND_QUEUED)

    assert sequencer.sequence_all() == 3
    assert pending() == 0
    assert failing_listener  # told of the batch, failed, and the batch stands
