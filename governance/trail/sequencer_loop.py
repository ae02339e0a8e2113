"""The dedicated sequencer's loop (``manage.py sequence_trail --follow``, PostgreSQL).

With it running, a writer's append is its queue insert and its commit and nothing else: writers see its lock
(``governance.trail.sequencer_live``) and leave sequencing to it. It looks at the queue every ``poll_seconds``
and, while events are queued, sequences them in batches back to back, so an event is provable about one poll plus
one batch after its commit. Only one runs at a time; a second one started waits as a standby and takes over when
the first one's connection ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import connection

from governance.trail import sequencer, sequencer_live
from governance.trail.log import TrailError

logger = logging.getLogger(__name__)

STANDBY_SECONDS = 1.0


def follow(
    *,
    poll_seconds: float = 0.05,
    should_stop: Callable[[], bool] = lambda: False,
    on_live: Callable[[], object] = lambda: None,
) -> int:
    """Sequence queued events as they are committed, until ``should_stop()``; returns how many it sequenced.

    ``on_live`` is called once this process holds the dedicated sequencer's lock (after any standby).
    """
    if connection.vendor != "postgresql":
        raise TrailError(
            "the dedicated sequencer needs PostgreSQL; on SQLite every write transaction is serialised anyway and "
            "batched events are sequenced in process after each commit"
        )
    if connection.in_atomic_block:
        raise TrailError("the dedicated sequencer runs its own transactions; call it outside any")
    while not sequencer_live.take_live_lock():
        if should_stop():
            return 0
        time.sleep(STANDBY_SECONDS)
    on_live()
    total = 0
    try:
        while not should_stop():  # asked after every batch: a stop waits for one batch, not for the queue
            done = sequencer.sequence_batch(wait=True) or 0
            total += done
            if not done:
                time.sleep(poll_seconds)
    finally:
        if connection.is_usable():
            sequencer_live.release_live_lock()
    return total
