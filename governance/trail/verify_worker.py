"""Worker processes for ``verify_trail``: each reads and checks its own ranges of events.

Kept free of Django imports at module level: a spawned worker imports this module before ``init`` has set
Django up (with the parent's exact database settings, so a test database is the one read).
"""

from __future__ import annotations

import os
from typing import Any

from governance.trail.leaf import Checked, rederive_batch

EVENT_COLUMNS = (
    "seq, recorded_at, action, actor_kind, actor_user_id, actor_token_id, object_type, object_id, "
    "payload, leaf, leaf_hash, prev_hash"
)


def init(settings_module: str, database: dict[str, Any]) -> None:
    """Pool initializer: set Django up against the same database as the parent process."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.db import connections

    connections["default"].settings_dict.update(database)


def check_range(start: int, end: int) -> tuple[bytes, list[Checked]]:
    """Read events with start <= seq < end on this worker's own connection and check them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {EVENT_COLUMNS} FROM governance_event WHERE seq >= %s AND seq < %s ORDER BY seq",  # noqa: S608
            [start, end],
        )
        rows = cursor.fetchall()
    return rederive_batch(rows)
