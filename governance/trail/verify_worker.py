"""Checking one chunk of the trail: its events and the stored Merkle nodes inside it (run by ``verify_trail``).

A chunk is an aligned range of 2**k sequence numbers, so every perfect subtree of up to 2**k leaves lies inside one
chunk: a chunk's events, re-derived and hashed, give all of its stored nodes up to level k, which are compared with
the stored ones in bulk (one query per level). Chunks are independent, so worker processes check them in parallel
and send back only hashes and the rows that have a problem.

A spawned worker imports this module before ``init`` has set Django up (with the parent's exact database settings,
so a test database is the one read): only Django modules that read no setting at import time are imported here.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections

from governance.trail.leaf import Flags, Row, check_rows
from governance.trail.merkle import range_node_ids

# recorded_at as text on SQLite: its declared type would have Django's converter parse every time (slow), and the
# leaf check wants the stored spelling anyway.
EVENT_COLUMNS = (
    "seq, recorded_at, action, actor_kind, actor_user_id, actor_token_id, object_type, object_id, "
    "payload, leaf, leaf_hash, prev_hash"
)
_TEXT_TIME_COLUMNS = EVENT_COLUMNS.replace("recorded_at", "CAST(recorded_at AS TEXT)")

Nodes = list[list[tuple[int, bytes]]]  # stored (index, hash) per level 0..k, in index order


@dataclass
class Chunk:
    """What one chunk [start, start + 2**k) holds, checked on its own (only ``first_prev`` needs the chunk before)."""

    start: int
    count: int = 0  # events stored contiguously from start (the rest of the chunk is missing, or past the end)
    next_seq: int | None = None  # with a gap inside the chunk: the next stored sequence number after it
    first_prev: bytes = b""  # prev_hash of the chunk's first event
    last_hash: bytes = b""  # recomputed leaf hash of the last contiguous event
    flagged: list[Flags] = field(default_factory=list)  # events with a problem (the first's chain is not checked)
    peaks: dict[int, list[bytes]] = field(default_factory=dict)  # size -> peaks of [start, size), left to right
    nodes_ok: bool = False  # stored nodes of levels 0..k inside [start, start + count) are exactly the recomputed
    root: bytes | None = None  # the chunk's root hash when it is complete


def init(settings_module: str, database: dict[str, Any]) -> None:
    """Pool initializer: a connection to the same database as the parent process.

    Only the settings and the database connection: a worker reads two tables with raw SQL and checks pure values, so
    it does not populate the app registry (``django.setup``), which imports every app and cost a worker more time
    than checking a chunk does. Django warns on a query before the registry is ready; here none is ever needed.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    warnings.filterwarnings(
        "ignore", message="Accessing the database during app initialization", category=RuntimeWarning
    )
    connections["default"].settings_dict.update(database)


def read_events(start: int, end: int) -> list[Row]:
    """Events with start <= seq < end, in order, on this process's connection."""
    columns = _TEXT_TIME_COLUMNS if connection.vendor == "sqlite" else EVENT_COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM governance_event WHERE seq >= %s AND seq < %s ORDER BY seq",  # noqa: S608
            [start, end],
        )
        return cursor.fetchall()


def read_nodes(start: int, end: int, levels: int) -> Nodes:
    """Stored nodes of levels 0..levels - 1 that lie inside the leaves [start, end), per level in index order."""
    found: Nodes = []
    with connection.cursor() as cursor:
        for level in range(levels):
            cursor.execute(
                'SELECT "index", hash FROM governance_merklenode WHERE level = %s AND "index" >= %s AND "index" < %s '
                'ORDER BY "index"',
                [level, start >> level, end >> level],
            )
            found.append(cursor.fetchall())  # both drivers give the hashes as bytes
    return found


def check_range(start: int, end: int, *, bits: int, sizes: Sequence[int], batch: int) -> Chunk:
    """Read and check the chunk [start, end) on this worker's own connection (see ``check_chunk``)."""
    rows = read_events(start, end)
    nodes = read_nodes(start, start + len(rows), bits + 1)
    return check_chunk(start, rows, nodes, bits=bits, sizes=sizes, batch=batch)


def check_chunk(start: int, rows: Sequence[Row], nodes: Nodes, *, bits: int, sizes: Sequence[int], batch: int) -> Chunk:
    """Check the rows of the chunk that starts at ``start`` (2**bits wide) on their own and against its stored nodes.

    ``sizes``: tree sizes in (start, end] whose roots the caller needs; the chunk returns the peaks of
    [start, size) for each (and for the end of its contiguous events, and, when some event has a problem, for every
    multiple of ``batch``, where the caller may stop). ``nodes`` as ``read_nodes`` returns them.
    """
    chunk = Chunk(start)
    count = 0
    for row in rows:
        if row[0] != start + count:
            chunk.next_seq = row[0]
            break
        count += 1
    rows = rows[:count]
    chunk.count = count
    if not rows:
        return chunk
    hashes, chunk.flagged = check_rows(rows)
    chunk.first_prev, chunk.last_hash = bytes(rows[0][11]), hashes[-1]
    levels = _levels(hashes)
    wanted = {size for size in sizes if start < size <= start + count} | {start + count}
    if chunk.flagged:
        wanted |= set(range((start // batch + 1) * batch, start + count + 1, batch))
    for size in wanted:
        chunk.peaks[size] = [levels[level][index - (start >> level)] for level, index in range_node_ids(start, size)]
    if count == 1 << bits:
        chunk.root = levels[-1][0]
    # Levels the events do not reach must hold nothing inside the chunk either.
    chunk.nodes_ok = len(nodes) >= len(levels) and all(
        _same_nodes(stored, start >> level, levels[level] if level < len(levels) else [])
        for level, stored in enumerate(nodes)
    )
    return chunk


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every perfect node over ``hashes`` (which start at an aligned position), level by level from the leaves."""
    sha256 = hashlib.sha256
    levels = [hashes]
    level = hashes
    while len(level) > 1:
        level = [sha256(b"\x01" + left + right).digest() for left, right in zip(level[0::2], level[1::2], strict=False)]
        levels.append(level)
    return levels


def _same_nodes(stored: list[tuple[int, bytes]], first: int, computed: list[bytes]) -> bool:
    """The stored nodes of one level are exactly the computed ones, at first, first + 1, ... (none missing or extra)."""
    if len(stored) != len(computed):
        return False
    if not stored:
        return True
    # Stored positions are unique and read in order within [first, first + len): equal ends mean every one is there.
    return (
        stored[0][0] == first
        and stored[-1][0] == first + len(computed) - 1
        and b"".join(digest for _, digest in stored) == b"".join(computed)
    )
