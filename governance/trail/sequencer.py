"""The trail's sequencer (``TRAIL_SEQUENCING=batched``): queued events become leaves, many per transaction.

A business transaction writes its event to ``governance_queuedevent`` without the trail's lock
(``governance.trail.log.record_event``). Here, under the lock, one transaction takes up to
``TRAIL_SEQUENCER_BATCH`` queued rows in queue order, re-validates each exactly as ``record_event`` did, gives them
the next sequence numbers, chains and encodes their leaves as an inline append would (same leaf format, same
``prev_hash`` chain, so the verifier and bundles cannot tell the modes apart), inserts the events and the Merkle
nodes they complete (one COPY each on PostgreSQL, multi-row INSERTs elsewhere), and records each row's seq in the
queue. The event table's triggers check every inserted row's chain as they do for inline appends.

Where it runs:

- in a dedicated process, ``manage.py sequence_trail --follow`` (``sequencer_loop``, PostgreSQL): while it runs,
  writers see its lock (``sequencer_live``) and leave the queue to it;
- otherwise after each commit that queued an event, in that process (a try-lock: if another sequencer holds the
  lock, this one leaves; the holder looks at the queue again after its commit, see ``log._note_lock_held``);
- when a caller reads the seq (or leaf) of the event it queued (``PendingEvent``): there and then, with the lock
  (after its commit, ``wait_sequenced`` first gives a running dedicated sequencer a moment to do it);
- in the worker, every ``TRAIL_SEQUENCER_SWEEP_SECONDS`` (beat): the sweeper, for events whose process died
  between its commit and its try-lock, and ``manage.py``-less deployments.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from governance.trail import events as event_types
from governance.trail import log, sequencer_live
from governance.trail.canonical import canonical_json, decode_json
from governance.trail.leaf import as_utc, encode_leaf
from governance.trail.merkle import NodeId, leaf_hash
from governance.trail.models import Event, PendingEvent, QueuedEvent

logger = logging.getLogger(__name__)

ACTOR_KINDS = {"user", "token", "system"}
_MAX_LENGTHS = {"object_type": 64, "object_id": 128}  # Event's (and QueuedEvent's) column lengths
# Rows per INSERT statement (12 values each): well under SQLite's 32,766 bound on parameters.
_CHUNK = 500


def decode_payload(text: str) -> Any:
    """The value of a queued payload's canonical JSON text, by the rule the verifier reads payloads with
    (``canonical.decode_json``): an integer beyond 2**53 is the float RFC 8785 spelt that way (1e16 is written
    10000000000000000); one no float is spelt as stays an integer, which the canonical check then refuses."""
    return decode_json(text)


_PENDING_SQL = (
    "SELECT id, queued_at, action, actor_kind, actor_user_id, actor_token_id, object_type, object_id, payload "
    "FROM governance_queuedevent WHERE seq IS NULL AND rejected = '' ORDER BY id LIMIT %s"
)


class Row:
    """One queued row as read for sequencing."""

    __slots__ = (
        "action",
        "actor",
        "id",
        "kind",
        "object_id",
        "object_type",
        "payload",
        "recorded_at",
        "text",
        "token",
        "unreadable",
        "user",
    )

    def __init__(self, raw: Sequence[Any]) -> None:
        self.id, recorded_at, self.action, self.kind, self.user, self.token, self.object_type, self.object_id = raw[:8]
        self.recorded_at = as_utc(recorded_at)
        # The payload's canonical JSON text as record_event wrote it (models.QueuedEvent.payload).
        self.text: str = raw[8]
        self.payload: Any = None
        self.unreadable = ""
        try:
            self.payload = decode_payload(self.text)
        except (TypeError, ValueError) as exc:
            self.unreadable = f"the payload is not JSON text: {exc}"
        self.actor = {"kind": self.kind, "token": self.token, "user": self.user}


def _refusal(row: Row) -> str | None:  # noqa: PLR0911 (one return per check reads plainest)
    """Why ``row`` cannot become an event, re-checked here because anyone who can write the table could have
    written it: the same checks ``record_event`` makes (declared type and fields, canonical JSON) and the shapes
    its callers can only produce (actor kind and ids, column lengths)."""
    try:
        declared = event_types.get(row.action)
    except KeyError as exc:
        return str(exc.args[0])
    if row.unreadable:
        return row.unreadable
    if not isinstance(row.payload, dict):
        return "the payload is not a JSON object"
    undeclared = set(row.payload) - declared.fields
    if undeclared:
        return f"{declared.name} does not declare payload fields {sorted(undeclared)}"
    if row.kind not in ACTOR_KINDS:
        return f"unknown actor kind {row.kind!r}"
    if any(value is not None and not isinstance(value, int) for value in (row.user, row.token)):
        return "actor ids must be integers"
    for name, limit in _MAX_LENGTHS.items():
        if len(getattr(row, name)) > limit:
            return f"{name} is longer than {limit} characters"
    if connection.vendor == "postgresql" and _holds_nul(row.payload):
        # Else the batch's write fails, and every later batch with it: one row would stop all sequencing. (The queue's
        # text columns refuse U+0000 themselves; its payload is the JSON text, where it is spelt \u0000.)
        return "the payload holds the character U+0000, which PostgreSQL's jsonb cannot store"
    return None


def _holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds U+0000 in any string (a key or a value)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def read_head() -> tuple[int, bytes, Any]:
    """(size, last leaf hash, right edge) of the log now; call with the lock held."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, leaf_hash FROM governance_event ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    size, prev_hash = (0, b"") if head is None else (head[0] + 1, bytes(head[1]))
    return size, prev_hash, log.compact_range(size)


def read_pending(limit: int) -> list[Row]:
    """Queued rows not yet sequenced nor rejected, in queue order."""
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_SQL, [limit])
        return [Row(raw) for raw in cursor.fetchall()]


def write_batch(head: tuple[int, bytes, Any], rows: Sequence[Row]) -> int:
    """Append ``rows`` after ``head`` (from ``read_head``), in the current transaction; returns the new size.

    Only correct with the lock held from ``read_head`` on: two sequencers writing after the same head would both
    claim its next seq and its leaf hash as their parent, which the event table's primary key, the unique
    ``prev_hash`` and the chain trigger refuse (the control test runs exactly that).
    """
    size, prev_hash, edge = head
    event_values: list[Any] = []
    node_values: list[Any] = []
    assigned: list[tuple[int, int]] = []
    rejected: list[tuple[int, str]] = []
    for row in rows:
        refusal = _refusal(row)
        object_id = str(row.object_id)
        if refusal is None:
            try:
                # The leaf holds exactly the text record_event validated and queued, or the row is refused.
                if canonical_json(row.payload).decode("utf-8") != row.text:
                    raise ValueError("it is not in RFC 8785 canonical form, as record_event writes it")
                leaf = encode_leaf(
                    seq=size,
                    prev_hash=prev_hash,
                    recorded_at=row.recorded_at,
                    action=row.action,
                    actor=row.actor,
                    object_type=row.object_type,
                    object_id=object_id,
                    payload=row.payload,
                )
            except (TypeError, ValueError) as exc:
                refusal = f"the payload cannot be encoded: {exc}"
        if refusal is not None:
            rejected.append((row.id, refusal))
            continue
        digest = leaf_hash(leaf)
        values = (size, row.recorded_at, row.action, row.kind, row.user, row.token, row.object_type, object_id)
        event_values.append(_column_values(values, row.payload, leaf, digest, prev_hash))
        completed: list[tuple[NodeId, bytes]] = edge.append(digest)
        node_values.extend((level, index, node_hash) for (level, index), node_hash in completed)
        assigned.append((row.id, size))
        size, prev_hash = size + 1, digest
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_rows(cursor, _EVENT_COPY, event_values)
            _copy_rows(cursor, _NODE_COPY, node_values)
        else:
            _insert_rows(cursor, _EVENT_INTO, len(log.EVENT_FIELDS), event_values)
            _insert_rows(cursor, 'INSERT INTO governance_merklenode (level, "index", hash)', 3, node_values)
        _mark(cursor, "seq", assigned)
        _mark(cursor, "rejected", rejected)
    for queue_id, reason in rejected:
        logger.error("trail: queued event %s refused by the sequencer: %s", queue_id, reason)
    return size


_EVENT_INTO = log.EVENT_INSERT.partition(" VALUES ")[0]  # "INSERT INTO governance_event (<columns>)"
_EVENT_COLUMNS = [field.attname for field in log.EVENT_FIELDS]
# The columns _column_values gives, in its order; the import fails if the model's columns ever differ from these.
_ROW_ORDER = (
    "seq recorded_at action actor_kind actor_user_id actor_token_id object_type object_id "
    "payload leaf leaf_hash prev_hash"
)
if _ROW_ORDER.split() != _EVENT_COLUMNS:
    raise ImportError(f"governance_event's columns changed ({_EVENT_COLUMNS}): update the sequencer's COPY")
_EVENT_COPY = "COPY governance_event ({}) FROM STDIN".format(", ".join(_EVENT_COLUMNS))
_NODE_COPY = 'COPY governance_merklenode (level, "index", hash) FROM STDIN'


def _column_values(values: tuple[Any, ...], payload: Any, leaf: bytes, digest: bytes, prev_hash: bytes) -> list[Any]:
    """An event row's column values: as the model's fields would write them (SQLite), or on PostgreSQL directly in
    the types psycopg adapts (the fields' conversions cost the sequencer more than the rest of its Python did)."""
    if connection.vendor == "postgresql":
        return [*values, Jsonb(payload), leaf, digest, prev_hash]  # Jsonb(...): what the JSONField passes too
    event = Event(**dict(zip(_EVENT_COLUMNS, (*values, payload, leaf, digest, prev_hash), strict=True)))
    return [field.get_db_prep_save(getattr(event, field.attname), connection) for field in log.EVENT_FIELDS]


def _copy_rows(cursor: Any, copy_sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: write ``rows`` with one COPY (row triggers fire as for INSERT). A multi-row INSERT spends more
    time having its thousands of placeholders parsed and quoted by the client than the server spends on it."""
    if rows:  # past Django's cursor wrapper: its error translation is applied here (IntegrityError, ...)
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


def _insert_rows(cursor: Any, insert_sql: str, width: int, rows: Sequence[Sequence[Any]]) -> None:
    """Other databases: multi-row INSERTs of at most ``_CHUNK`` rows."""
    one = "({})".format(", ".join(["%s"] * width))
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        sql = f"{insert_sql} VALUES {', '.join([one] * len(chunk))}"
        cursor.execute(sql, [value for row in chunk for value in row])


def _mark(cursor: Any, column: str, pairs: Sequence[tuple[int, Any]]) -> None:
    """Record each queued row's seq (or refusal), refusing to touch a row another sequencer already took."""
    if not pairs:
        return
    if connection.vendor == "postgresql":  # one statement for the whole batch: two arrays, not 3 placeholders a row
        kind = "bigint" if column == "seq" else "text"
        cursor.execute(
            f"UPDATE governance_queuedevent AS q SET {column} = v.value "  # noqa: S608 (column is one of two)
            f"FROM unnest(%s::bigint[], %s::{kind}[]) AS v(id, value) "
            "WHERE q.id = v.id AND q.seq IS NULL AND q.rejected = ''",
            [[queue_id for queue_id, _ in pairs], [value for _, value in pairs]],
        )
        if cursor.rowcount != len(pairs):
            raise log.TrailError("queued events were sequenced by someone else meanwhile; nothing was written")
        return
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
        ids = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            f"UPDATE governance_queuedevent SET {column} = CASE id {cases} END "  # noqa: S608 (column is one of two)
            f"WHERE id IN ({ids}) AND seq IS NULL AND rejected = ''",
            [value for pair in chunk for value in pair] + [queue_id for queue_id, _ in chunk],
        )
        if cursor.rowcount != len(chunk):
            raise log.TrailError("queued events were sequenced by someone else meanwhile; nothing was written")


def sequence_batch(*, wait: bool, limit: int | None = None) -> int | None:
    """Sequence up to ``limit`` queued events in one transaction; returns how many were queued there (0: none).

    ``wait=False`` takes the lock only if it is free and returns None when it is not (the holder looks again after
    it commits). Must be called outside any transaction (the events become provable when this commits).
    """
    if connection.in_atomic_block:
        raise log.TrailError("sequence_batch runs its own transaction; call it outside any")
    limit = settings.TRAIL_SEQUENCER_BATCH if limit is None else limit
    with transaction.atomic():
        if wait:
            log.lock_trail(sequencer=True)
        elif not log.try_lock_trail():
            return None
        rows = read_pending(limit)
        if not rows:
            return 0
        size = write_batch(read_head(), rows)
        transaction.on_commit(lambda: log.after_append(size))
    return len(rows)


def pending_exists() -> bool:
    """Whether any committed event waits to be sequenced."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM governance_queuedevent WHERE seq IS NULL AND rejected = '' LIMIT 1")
        return cursor.fetchone() is not None


def sequence_queued() -> int:
    """Sequence everything committed to the queue, unless another sequencer holds the lock; returns how many.

    Runs after each commit that queued an event or held the lock. A writer whose try-lock lost had committed its
    event before the holder released the lock, and the holder looks again after its release, so nothing waits
    for the sweeper unless a process dies between its commit and this look.
    """
    if connection.in_atomic_block:  # an outer transaction is still open (on_commit of a savepoint): later
        return 0
    if sequencer_live.dedicated_sequencer_live():  # it looks at the queue every poll (sequencer_loop)
        return 0
    total = 0
    while True:
        done = sequence_batch(wait=False)
        if done is None:
            return total
        total += done
        if not pending_exists():
            return total


def sequence_all() -> int:
    """Sequence every committed queued event, waiting for the lock (the sweeper); returns how many."""
    total = 0
    while done := sequence_batch(wait=True):
        total += done
    return total


def _resolve(handle: PendingEvent) -> int:
    """The seq of a queued event, sequencing it now if it is not yet (``PendingEvent``'s deferred fields)."""
    if not connection.in_atomic_block:
        return wait_sequenced(handle.queued_id)
    seq, rejected = _queued_state(handle.queued_id)
    if seq is None and not rejected:
        # The caller's transaction (its event may not be committed, so only it can sequence it): take the lock for
        # the rest of it, as an inline append does, and sequence what is queued up to and including it, a batch at
        # a time (more than a batch may be queued ahead of it).
        log.lock_trail()
        size = None
        while seq is None and not rejected and (rows := read_pending(settings.TRAIL_SEQUENCER_BATCH)):
            size = write_batch(read_head(), rows)
            seq, rejected = _queued_state(handle.queued_id)
        if size is not None:
            transaction.on_commit(functools.partial(log.after_append, size))
    return _known_seq(handle.queued_id)


def _known_seq(queue_id: int) -> int:
    seq, rejected = _queued_state(queue_id)
    if rejected:
        raise log.TrailError(f"queued event {queue_id} was refused by the sequencer: {rejected}")
    if seq is None:
        raise log.TrailError(f"queued event {queue_id} is not in the queue (its transaction rolled back?)")
    return seq


# How often wait_sequenced looks at the queue row while the dedicated sequencer runs.
_WAIT_STEP_SECONDS = 0.01


def wait_sequenced(queue_id: int, *, timeout: float = 2.0) -> int:
    """The seq of a committed queued event, once it is sequenced (from then its inclusion proof is served).

    While a dedicated sequencer runs (``manage.py sequence_trail --follow``), waits up to ``timeout`` seconds for
    it to sequence the event; otherwise, or after that, sequences it here, waiting for the trail's lock (so the
    answer never depends on the dedicated sequencer being alive). Raises ``TrailError`` if the sequencer refused the
    row or the queue does not hold it. Call it after the commit that queued the event.
    """
    if connection.in_atomic_block:
        raise log.TrailError("wait_sequenced waits for a committed event; call it after the transaction commits")
    deadline = time.monotonic() + timeout
    seq, rejected = _queued_state(queue_id)
    while seq is None and not rejected and time.monotonic() < deadline and sequencer_live.dedicated_sequencer_live():
        time.sleep(_WAIT_STEP_SECONDS)
        seq, rejected = _queued_state(queue_id)
    if seq is None and not rejected:
        sequence_all()
    return _known_seq(queue_id)


def _queued_state(queue_id: int) -> tuple[int | None, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, rejected FROM governance_queuedevent WHERE id = %s", [queue_id])
        row = cursor.fetchone()
    return (None, "") if row is None else (row[0], row[1])


def queued_status(queue_id: int) -> dict[str, Any] | None:
    """What the API says about a queued event: ``{"state": "queued"|"sequenced"|"refused", ...}``, None if unknown."""
    found = QueuedEvent.objects.filter(pk=queue_id).values("seq", "rejected", "queued_at", "action").first()
    if found is None:
        return None
    state = "refused" if found["rejected"] else "queued" if found["seq"] is None else "sequenced"
    return {"state": state, "queued": queue_id, "seq": found["seq"], "action": found["action"]}


# How long a sequenced row stays in the queue, telling a handle or an API client its event's seq.
KEEP_SEQUENCED = dt.timedelta(days=1)


@shared_task(name="governance.sequence_trail")
def sequence_trail_task() -> int:
    """The sweeper (beat): sequence every queued event a process left behind; returns how many.

    Also deletes queue rows sequenced more than ``KEEP_SEQUENCED`` ago (the triggers allow only those).
    """
    done = sequence_all()
    QueuedEvent.objects.filter(seq__isnull=False, queued_at__lt=timezone.now() - KEEP_SEQUENCED).delete()
    return done


PendingEvent.resolver = _resolve
log.on_queue_commit(sequence_queued)
