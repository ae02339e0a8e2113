"""Every tamper scenario of test_tamper.py, on a trail whose events were appended by the batched sequencer.

The scenarios are imported as they are; only the ``trail`` fixture differs: its events are queued (as
``TRAIL_SEQUENCING=batched`` does) and sequenced in batches, so each scenario shows the verifiers and triggers
catching the same tampering on leaves, chains and nodes the sequencer wrote. Tests there that build no ``trail``
would only repeat themselves here and are left out.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from governance.trail import sequencer
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.models import Checkpoint, Event, QueuedEvent
from tests.trail import test_tamper
from tests.trail.helpers import append
from tests.trail.test_tamper import *  # noqa: F403  (the scenarios, run again over the fixture below)

pytestmark = pytest.mark.django_db

for _name, _test in list(vars(test_tamper).items()):
    if _name.startswith("test_") and "trail" not in inspect.signature(_test).parameters:
        del globals()[_name]


def _append_batched(settings: Any, count: int, *, start: int) -> None:
    """Queue ``count`` events, then sequence them in one batch, as the sequencer's transaction does.

    The test runs inside one transaction (nothing commits, so no hook runs after a commit): the batch is written
    here with the lock, from the queue as the sequencer reads it.
    """
    settings.TRAIL_SEQUENCING = "batched"
    append(count, start=start)
    pending = sequencer.read_pending(1000)
    assert len(pending) == count
    sequencer.log.lock_trail(sequencer=True)
    sequencer.write_batch(sequencer.read_head(), pending)
    settings.TRAIL_SEQUENCING = "inline"


@pytest.fixture
def trail(settings: Any) -> Checkpoint:  # type: ignore[no-redef]
    """As test_tamper's: twenty events under a checkpoint, then five more; all but the key's queued and sequenced."""
    issue_checkpoint()
    _append_batched(settings, 19, start=0)
    held = issue_checkpoint()
    _append_batched(settings, 5, start=20)
    issue_checkpoint()
    sequenced = QueuedEvent.objects.exclude(seq=None).count()
    assert sequenced == 24  # every team.created event went through the queue
    assert Event.objects.count() == 25
    return held
