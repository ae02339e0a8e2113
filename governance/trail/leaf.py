"""The leaf: how one event becomes the exact bytes the Merkle log hashes (pure; no Django).

Kept apart from ``log.py`` so that ``verify_trail`` can re-derive leaves in worker processes that never load
Django.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from governance.trail.canonical import canonical_json
from governance.trail.verifier import leaf_hash

LEAF_VERSION = 1


def text_commitment(text: str) -> str | None:
    """SHA-256 (hex) of free text that the trail refers to but must not hold.

    People type reasons, and a reason may name a person. The text stays in its business row, where it can be
    corrected or erased; the leaf holds only this hash, which still proves what the text was to anyone who has it.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def format_time(moment: dt.datetime) -> str:
    """UTC, microseconds, 'Z' suffix: the one spelling of a time inside a leaf."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def encode_leaf(
    *,
    seq: int,
    prev_hash: bytes,
    recorded_at: dt.datetime,
    action: str,
    actor: Mapping[str, Any],
    object_type: str,
    object_id: str,
    payload: Mapping[str, Any],
) -> bytes:
    """The leaf bytes: RFC 8785 (JCS) canonical JSON of the event, so anyone can re-derive them exactly."""
    actor = dict(actor)
    payload = dict(payload)
    # Everything but the payload and the integers is a str built here; only those need the encoder's type check.
    return canonical_json(
        {
            "v": LEAF_VERSION,
            "seq": seq,
            "prev": prev_hash.hex(),
            "time": format_time(recorded_at),
            "action": action,
            "actor": actor,
            "object": {"type": object_type, "id": object_id},
            "payload": payload,
        },
        check=(payload, seq, actor, action, object_type, object_id),
    )


# A row as verify_trail reads it: seq, recorded_at, action, actor_kind, actor_user_id, actor_token_id,
# object_type, object_id, payload (JSON text or already decoded), leaf, leaf_hash, prev_hash.
Row = tuple[Any, ...]


def as_utc(raw: object) -> dt.datetime:
    """A row's time: text on SQLite (naive UTC), an aware datetime on PostgreSQL."""
    value = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dt.datetime):
        raise ValueError(f"unreadable event time {raw!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def rederive(row: Row) -> tuple[int, bytes, bool]:
    """(seq, SHA-256 leaf hash of the stored leaf bytes, whether the columns re-derive exactly those bytes)."""
    seq, recorded_at, action, kind, user_id, token_id, object_type, object_id, payload, leaf = row[:10]
    leaf = bytes(leaf)
    if isinstance(payload, (bytes, memoryview)):
        payload = bytes(payload).decode()
    derived = encode_leaf(
        seq=seq,
        prev_hash=bytes(row[11]),
        recorded_at=as_utc(recorded_at),
        action=action,
        actor={"kind": kind, "token": token_id, "user": user_id},
        object_type=object_type,
        object_id=object_id,
        payload=json.loads(payload) if isinstance(payload, str) else payload,
    )
    return seq, leaf_hash(leaf), derived == leaf


# Per event: seq, recomputed leaf hash, columns re-derive the leaf, stored leaf hash matches, prev_hash matches the
# previous event in the batch (None for the batch's first event: the caller knows the hash before the batch).
Checked = tuple[int, bytes, bool, bool, bool | None]


def rederive_batch(rows: Sequence[Row]) -> tuple[bytes, list[Checked]]:
    """Check a batch of consecutive rows on their own; returns the first row's prev_hash and one result per row.

    The unit of work sent to a worker process: everything that needs only the rows themselves is checked here,
    so the caller keeps just the hashes.
    """
    results: list[Checked] = []
    previous: bytes | None = None
    for row in rows:
        seq, computed, rederived = rederive(row)
        prev_hash = bytes(row[11])
        results.append(
            (seq, computed, rederived, computed == bytes(row[10]), None if previous is None else prev_hash == previous)
        )
        previous = computed
    return (bytes(rows[0][11]) if rows else b""), results


class SignedEvent:
    """What an event says, read from its leaf bytes (what is hashed into the log), never from the row's columns.

    The API and the portal show these: a column edited behind the triggers' back cannot be displayed as evidence,
    because what is displayed is what the Merkle tree commits to. ``hash_ok`` says whether the stored leaf hash is
    SHA-256(0x00 || leaf); ``readable`` is False when the bytes are not a leaf at all (then the fields are empty).
    """

    __slots__ = (
        "action",
        "actor_kind",
        "actor_token_id",
        "actor_user_id",
        "hash_ok",
        "object_id",
        "object_type",
        "payload",
        "readable",
        "recorded_at",
        "seq",
    )  # fmt: skip

    def __init__(self, leaf: bytes, stored_hash: bytes, *, seq: int) -> None:
        self.seq = seq
        self.hash_ok = leaf_hash(leaf) == stored_hash
        try:
            decoded = json.loads(leaf)
            actor, target = decoded["actor"], decoded["object"]
            self.recorded_at: dt.datetime | None = dt.datetime.fromisoformat(decoded["time"])
            self.action: str = decoded["action"]
            self.actor_kind: str = actor["kind"]
            self.actor_user_id: int | None = actor.get("user")
            self.actor_token_id: int | None = actor.get("token")
            self.object_type: str = target["type"]
            self.object_id: str = target["id"]
            self.payload: dict[str, Any] = decoded["payload"]
            self.readable = decoded.get("seq") == seq
        except (ValueError, KeyError, TypeError, AttributeError):
            self.recorded_at, self.action, self.actor_kind = None, "", ""
            self.actor_user_id = self.actor_token_id = None
            self.object_type, self.object_id, self.payload = "", "", {}
            self.readable = False
