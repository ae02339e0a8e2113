"""Appending to the trail, and reading proofs out of it.

``record_event`` is the only way anything enters the trail. It must be called inside the transaction of the
action that made the change (STYLE.md), so the change and its event commit together or not at all.

Inline sequencing (``TRAIL_SEQUENCING=inline``, the default): appends are serialised (a PostgreSQL advisory lock;
on SQLite the IMMEDIATE transaction already holds the database's write lock), read the log's right edge from the
stored Merkle nodes (O(log n) rows), and write the new leaf plus the perfect subtree nodes it completes (two rows
on average). Batched (``TRAIL_SEQUENCING=batched``): the event is validated the same way and written to the queue
table without the lock; ``governance.trail.sequencer`` appends queued events in batches (see docs/trail.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from governance.access.models import ApiToken
from governance.trail import events as event_types
from governance.trail.canonical import canonical_json
from governance.trail.leaf import encode_leaf
from governance.trail.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeId,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from governance.trail.merkle import root_at as _root_at
from governance.trail.models import SEQUENCED_FIELDS, Event, PendingEvent, QueuedEvent

logger = logging.getLogger(__name__)

# Any fixed 64-bit number; it names "the trail's append lock" among PostgreSQL advisory locks.
_ADVISORY_LOCK_KEY = 0x617373_6179_7472  # "assaytr"


class TrailError(Exception):
    """A request the trail cannot satisfy (bad sizes, an append outside a transaction, ...)."""


@dataclass(frozen=True)
class Actor:
    """Who caused an event: ids only, never names or e-mail addresses."""

    kind: str  # "user", "token" or "system"
    user_id: int | None = None
    token_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system")

    @classmethod
    def for_user(cls, user: Any, token: Any = None) -> Actor:
        if token is not None:
            return cls(kind="token", user_id=user.pk, token_id=token.pk)
        return cls(kind="user", user_id=user.pk)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        """The actor behind an HTTP request (API token or portal session)."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return cls.system()
        return cls.for_user(user, getattr(request, "auth", None) if _is_token(request) else None)

    def as_leaf(self) -> dict[str, Any]:
        return {"kind": self.kind, "token": self.token_id, "user": self.user_id}


def _is_token(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)


def lock_trail(*, sequencer: bool = False) -> None:
    """Serialise writers of the trail for the rest of the current transaction.

    ``sequencer``: the caller is the sequencer's own loop, which looks at the queue again after each commit itself.
    """
    if not connection.in_atomic_block:
        raise TrailError("the trail can only be written inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    # SQLite: settings open every transaction with BEGIN IMMEDIATE, which already holds the write lock.
    if not sequencer:
        _note_lock_held()


def try_lock_trail() -> bool:
    """For the sequencer's loop: take the trail's lock for the rest of the current transaction if no one holds it;
    False if someone does. (On SQLite the transaction already holds the database's write lock: always True.)"""
    if not connection.in_atomic_block:
        raise TrailError("the trail can only be written inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
            return bool(cursor.fetchone()[0])
    return True


def _note_lock_held() -> None:
    """Batched mode: remember, for this transaction only, that it holds the lock, and look at the queue after it.

    The marker is an on-commit callback, so it vanishes with the transaction (committed or rolled back) and with a
    rolled-back savepoint (which also releases a lock taken inside it). Its work after the commit is what makes the
    sequencer's try-lock safe: a writer whose try-lock lost to this transaction had committed its queued event
    before, so the look after this commit sees it.
    """
    if settings.TRAIL_SEQUENCING == "batched" and not holds_trail_lock():
        transaction.on_commit(_after_lock_released, robust=True)


def holds_trail_lock() -> bool:
    """Batched mode: whether the current transaction took the trail's lock (inline mode does not keep track)."""
    return connection.in_atomic_block and any(entry[1] is _after_lock_released for entry in connection.run_on_commit)


# Called after a transaction that queued an event, or held the trail's lock, commits (batched mode). The sequencer
# registers here (it imports this module): see governance.trail.sequencer.
_queue_listeners: list[Callable[[], object]] = []


def on_queue_commit(listener: Callable[[], object]) -> None:
    """Call ``listener()`` after every commit that queued an event or released the trail's lock (batched mode)."""
    if listener not in _queue_listeners:
        _queue_listeners.append(listener)


def _after_lock_released() -> None:
    for listener in _queue_listeners:
        listener()


def _after_queue_commit() -> None:  # the same work; a function of its own, as only the other one marks the lock
    for listener in _queue_listeners:
        listener()


def get_nodes(ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Stored perfect-subtree hashes for the given positions, in one query."""
    if not ids:
        return {}
    by_level: dict[int, list[int]] = {}
    for level, index in ids:
        by_level.setdefault(level, []).append(index)
    # Raw SQL on purpose: this runs on every append and every proof, and building the equivalent ORM query of
    # OR-ed Q objects cost more than the query itself (benchmarks/bench_trail.py). Only integers are interpolated.
    clauses, params = [], []
    for level, indexes in by_level.items():
        clauses.append(f'(level = %s AND "index" IN ({", ".join(["%s"] * len(indexes))}))')
        params.extend([level, *indexes])
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT level, "index", hash FROM governance_merklenode WHERE {" OR ".join(clauses)}',  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    found = {NodeId(level, index): bytes(digest) for level, index, digest in rows}
    missing = [node for node in ids if node not in found]
    if missing:
        raise TrailError(f"stored Merkle nodes are missing: {missing[:5]}")
    return found


def tree_size() -> int:
    """The number of events in the trail."""
    last = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else last + 1


def compact_range(size: int) -> CompactRange:
    """The right edge of the log at ``size`` leaves, loaded from stored nodes."""
    peak_ids = CompactRange.peak_ids(size)
    nodes = get_nodes(peak_ids)
    return CompactRange(size, [nodes[node] for node in peak_ids])


def current_root() -> tuple[int, bytes]:
    """(size, root hash) of the whole trail now."""
    size = tree_size()
    return size, (compact_range(size).root() if size else EMPTY_ROOT)


def record_event(
    event_type: event_types.EventType | str,
    *,
    actor: Actor,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    payload: Mapping[str, Any] | None = None,
) -> Event:
    """Append one event to the trail, inside the caller's transaction.

    ``obj`` names the object the event is about (its model label and primary key); ``object_type`` and
    ``object_id`` do the same for things that are not model instances. The payload may only hold the fields
    declared for the event type, and must be JSON that RFC 8785 can encode (no NaN, integers within 2**53).
    """
    declared = event_types.get(event_type if isinstance(event_type, str) else event_type.name)
    body = dict(payload or {})
    undeclared = set(body) - declared.fields
    if undeclared:
        raise TrailError(f"{declared.name} does not declare payload fields {sorted(undeclared)}")
    if obj is not None:
        object_type, object_id = obj._meta.label_lower, obj.pk
    if not connection.in_atomic_block:
        raise TrailError("record_event must be called inside the action's transaction.atomic() block")
    if settings.TRAIL_SEQUENCING == "batched" and not holds_trail_lock():
        return _queue_event(declared.name, actor=actor, object_type=object_type, object_id=str(object_id), body=body)

    lock_trail()
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, leaf_hash FROM governance_event ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    size, prev_hash = (0, b"") if head is None else (head[0] + 1, bytes(head[1]))
    edge = compact_range(size)
    recorded_at = timezone.now()
    actor_fields = actor.as_leaf()
    leaf = encode_leaf(
        seq=size,
        prev_hash=prev_hash,
        recorded_at=recorded_at,
        action=declared.name,
        actor=actor_fields,
        object_type=object_type,
        object_id=str(object_id),
        payload=body,
    )
    digest = leaf_hash(leaf)
    event = Event(
        seq=size,
        recorded_at=recorded_at,
        action=declared.name,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        object_type=object_type,
        object_id=str(object_id),
        payload=body,
        leaf=leaf,
        leaf_hash=digest,
        prev_hash=prev_hash,
    )
    _insert_appended(event, edge.append(digest))
    transaction.on_commit(lambda: after_append(size + 1))
    return event


_QUEUE_FIELDS = [field for field in QueuedEvent._meta.concrete_fields if field.column not in ("id", "seq", "rejected")]
# Only column names from the model and placeholders are interpolated; every value is a parameter.
_QUEUE_INSERT = "INSERT INTO governance_queuedevent ({}, seq, rejected) VALUES ({}, NULL, '') RETURNING id".format(  # noqa: S608
    ", ".join(f'"{field.column}"' for field in _QUEUE_FIELDS), ", ".join(["%s"] * len(_QUEUE_FIELDS))
)


def _queue_event(action: str, *, actor: Actor, object_type: str, object_id: str, body: dict[str, Any]) -> PendingEvent:
    """Batched mode: write the validated event to the queue, in the caller's transaction, without the lock."""
    recorded_at = timezone.now()
    actor_fields = actor.as_leaf()
    # The checks an inline append makes when it encodes the leaf (canonical JSON, integers within 2**53, ...), made
    # now, so a bad payload fails in the action that wrote it and never reaches the sequencer.
    encode_leaf(
        seq=0,
        prev_hash=b"",
        recorded_at=recorded_at,
        action=action,
        actor=actor_fields,
        object_type=object_type,
        object_id=object_id,
        payload=body,
    )
    described = {
        "action": action,
        "actor_kind": actor.kind,
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "object_type": object_type,
        "object_id": object_id,
    }
    handle = PendingEvent(recorded_at=recorded_at, payload=body, **described)
    # The payload as the text the leaf will hold (models.QueuedEvent.payload).
    queued = QueuedEvent(queued_at=recorded_at, payload=canonical_json(body).decode("utf-8"), **described)
    values = [field.get_db_prep_save(getattr(queued, field.attname), connection) for field in _QUEUE_FIELDS]
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(_QUEUE_INSERT, values)
        handle.queued_id = int(cursor.fetchone()[0])
    for name in SEQUENCED_FIELDS:  # deferred: reading one sequences the event (PendingEvent.refresh_from_db)
        handle.__dict__.pop(name, None)
    handle._state.adding = False
    handle._state.db = connection.alias
    if not any(entry[1] is _after_queue_commit for entry in connection.run_on_commit):
        transaction.on_commit(_after_queue_commit, robust=True)
    return handle


EVENT_FIELDS = list(Event._meta.concrete_fields)
# Only column names from the model and placeholders are interpolated; every value is a parameter.
EVENT_INSERT = "INSERT INTO governance_event ({}) VALUES ({})".format(  # noqa: S608
    ", ".join(f'"{field.column}"' for field in EVENT_FIELDS), ", ".join(["%s"] * len(EVENT_FIELDS))
)


def _insert_appended(event: Event, completed: Sequence[tuple[NodeId, bytes]]) -> None:
    """Insert the event row and the Merkle nodes its leaf completes.

    Raw SQL on purpose, like ``get_nodes``: every change in Assay appends here, and the ORM's query compilation
    (for ``create`` and ``bulk_create``) cost more than the inserts (benchmarks/bench_trail.py). Values still go
    through each field's own conversion, so the row is what ``Event.objects.create`` would have written; the
    database's chain trigger checks it either way.
    """
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in EVENT_FIELDS]
    node_sql = 'INSERT INTO governance_merklenode (level, "index", hash) VALUES ' + ", ".join(  # noqa: S608
        ["(%s, %s, %s)"] * len(completed)
    )
    node_params = [value for (level, index), node_hash in completed for value in (level, index, node_hash)]
    # As the ORM's writes do: a failed insert marks the caller's transaction for rollback, so that an error caught
    # inside the action's atomic block can never commit an event without its nodes (SQLite would let it).
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(EVENT_INSERT, values)
        cursor.execute(node_sql, node_params)  # never empty: the new leaf itself is a completed node
    event._state.adding = False
    event._state.db = connection.alias


# Called with the trail's new size after each append commits. Checkpoints register here (they import this module,
# so this module cannot import them): see governance.trail.checkpoints.
_append_listeners: list[Callable[[int], None]] = []


def on_append(listener: Callable[[int], None]) -> None:
    """Call ``listener(size)`` after every committed append (registered once, at import of the listener's module)."""
    if listener not in _append_listeners:
        _append_listeners.append(listener)


def after_append(size: int) -> None:
    """Tell each listener the trail's new size. The appends are committed by now: a listener that fails (say, the
    job broker is unreachable when a checkpoint falls due) is logged and never turns a committed write into an error
    (beat checks for a due checkpoint every minute)."""
    for listener in _append_listeners:
        try:
            listener(size)
        except Exception:
            logger.exception("trail: after an append (size %s), %s failed; the events are committed", size, listener)


def prove_inclusion(*, seq: int, size: int) -> list[bytes]:
    """Audit path of leaf ``seq`` in the tree of the first ``size`` leaves."""
    current = tree_size()
    if not 0 < size <= current:
        raise TrailError(f"tree_size must be between 1 and the trail's size ({current}); got {size}")
    if not 0 <= seq < size:
        raise TrailError(f"seq must be between 0 and tree_size - 1 ({size - 1}); got {seq}")
    return inclusion_proof(index=seq, tree_size=size, get_nodes=get_nodes)


def prove_consistency(*, first: int, second: int) -> list[bytes]:
    """Proof that the tree of ``first`` leaves is a prefix of the tree of ``second`` leaves."""
    current = tree_size()
    if not 0 <= first <= second <= current:
        raise TrailError(f"need 0 <= from <= to <= the trail's size ({current}); got from={first}, to={second}")
    return consistency_proof(first_size=first, second_size=second, get_nodes=get_nodes)


def root_at(size: int) -> bytes:
    """Root of the tree of the first ``size`` leaves, from stored nodes."""
    return _root_at(size, get_nodes) if size else EMPTY_ROOT
