"""Worker processes for ``verify_trail``: each reads and checks its own ranges of events.

A spawned worker imports this module before ``init`` has set Django up (with the parent's exact database settings,
so a test database is the one read): only Django modules that read no setting at import time are imported here.
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.db import connection, connections

from governance.trail.leaf import Checked, rederive_batch

EVENT_COLUMNS = (
    "seq, recorded_at, action, actor_kind, actor_user_id, actor_token_id, object_type, object_id, "
    "payload, leaf, leaf_hash, prev_hash"
)


def init(settings_module: str, database: dict[str, Any]) -> None:
    """Pool initializer: set Django up against the same database as the parent process."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    django.setup()
    connections["default"].settings_dict.update(database)


def check_range(start: int, end: int) -> tuple[bytes, list[Checked]]:
    """Read events with start <= seq < end on this worker's own connection and check them."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {EVENT_COLUMNS} FROM governance_event WHERE seq >= %s AND seq < %s ORDER BY seq",  # noqa: S608
            [start, end],
        )
        rows = cursor.fetchall()
    return rederive_batch(rows)
