"""A queued row holding U+0000 (which PostgreSQL's jsonb and text columns refuse) is refused by the sequencer with the
reason, and the rows after it are sequenced: one such row never stops all sequencing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from governance.trail import sequencer
from governance.trail.models import Event, QueuedEvent
from tests.trail.test_sequencer import batched

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("trail-concurrency")]
__all__ = ["batched"]  # the fixture, imported for the tests here

HAND_QUEUED = {"action": "team.created", "actor_kind": "system", "object_type": "t"}


@pytest.mark.usefixtures("batched")
@pytest.mark.parametrize(
    ("payload", "object_id"),
    [('{"slug":"a\\u0000b"}', "1"), ('{"slug":["x",{"y":"\\u0000"}]}', "1")],
)
def test_a_row_holding_u0000_is_refused_and_the_next_rows_are_sequenced(payload: str, object_id: str) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores U+0000: nothing to refuse there")
    bad = QueuedEvent.objects.create(queued_at=timezone.now(), payload=payload, object_id=object_id, **HAND_QUEUED)
    good = QueuedEvent.objects.create(
        queued_at=timezone.now(), payload='{"slug":"after"}', object_id="2", **HAND_QUEUED
    )

    assert sequencer.sequence_all() == 2  # both looked at, in one batch

    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.seq, good.seq is not None) == (None, True)
    assert "U+0000" in bad.rejected
    assert list(Event.objects.filter(action="team.created").values_list("seq", "object_id")) == [(good.seq, "2")]
