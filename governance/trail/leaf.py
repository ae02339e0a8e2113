"""The leaf: how one event becomes the exact bytes the Merkle log hashes (pure; no Django).

Kept apart from ``log.py`` so that ``verify_trail`` can re-derive leaves in worker processes that never load
Django.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from json import encoder as json_encoder
from json import scanner as json_scanner
from json.encoder import encode_basestring
from typing import Any

from governance.trail.canonical import (
    _MAX_EXACT_INT,
    _encode,
    _fast_path_ok,
    canonical_json,
    decode_json,
    with_float_numbers,
)
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
    leaf = bytes(row[9])
    return row[0], leaf_hash(leaf), _rederives(row, leaf)


def _rederives(row: Row, leaf: bytes) -> bool:
    """Whether ``encode_leaf`` of the row's columns is exactly ``leaf``: the fast encoding first, and the reference
    whenever the fast one does not apply or does not match (so a mismatch is always the reference's verdict)."""
    fast = fast_leaf(row)
    if fast is not None and fast == leaf:
        return True
    return _reference_leaf(row) == leaf


def _reference_leaf(row: Row) -> bytes | None:
    """``encode_leaf`` of the row's columns, or None when they cannot be encoded (then they cannot be the leaf's).

    The payload column is read as ``record_event``'s payload was: an integer beyond 2**53 is the float it spells
    (``decode_json``), as PostgreSQL's jsonb returns 1e16 as 10000000000000000. Columns that are no event's at all
    (an integer no float spells, a time that is no time, text that is not JSON) were edited: they re-derive nothing.
    """
    seq, recorded_at, action, kind, user_id, token_id, object_type, object_id, payload = row[:9]
    try:
        if isinstance(payload, (bytes, memoryview)):
            payload = bytes(payload).decode()
        return encode_leaf(
            seq=seq,
            prev_hash=bytes(row[11]),
            recorded_at=as_utc(recorded_at),
            action=action,
            actor={"kind": kind, "token": token_id, "user": user_id},
            object_type=object_type,
            object_id=object_id,
            payload=decode_json(payload) if isinstance(payload, str) else with_float_numbers(payload),
        )
    except (ValueError, TypeError, AttributeError):  # rfc8785's refusals are ValueErrors
        return None


# How SQLite stores a naive UTC time (Django writes str(datetime)): fixed width, ASCII digits.
_STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?", re.ASCII)


def _leaf_time(raw: object) -> str | None:
    """``format_time(as_utc(raw))`` for a time as stored, or None where only the reference path should decide.

    Text in SQLite's fixed-width form is respelt without parsing it into a datetime and back (the cost that
    mattered at a million rows); it must still be a real date and time, which ``fromisoformat`` checks.
    """
    if type(raw) is str:
        if _STORED_TIME.fullmatch(raw) is None:
            return None
        try:
            dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        return f"{raw[:10]}T{raw[11:]}Z" if len(raw) == 26 else f"{raw[:10]}T{raw[11:]}.000000Z"
    if isinstance(raw, dt.datetime):
        return format_time(as_utc(raw))
    return None


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON")


# The encoder ``canonical_json``'s fast path uses (``_encode``: sort_keys, no spaces, ensure_ascii off, no NaN), made
# once: ``JSONEncoder.encode`` builds a new one on every call, which cost more than the encoding of a small payload.
# No circular-reference markers: its input comes from ``json.loads``, which cannot make cycles.
_make_encoder = getattr(json_encoder, "c_make_encoder", None)  # the C accelerator (absent from typeshed)
_payload_chunks = (
    _make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, False) if _make_encoder else None
)


def _payload_json(payload: dict[str, Any]) -> str:
    return "".join(_payload_chunks(payload, 0)) if _payload_chunks is not None else _encode(payload)


def _small_int_or_null(value: object) -> str | None:
    if value is None:
        return "null"
    if type(value) is int and -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
        return str(value)
    return None


# json.loads without its two Python frames and whitespace regexes (a third of the payload's cost): the C scanner, on
# text that is exactly one value, as Django writes it. Anything else (surrounding space, trailing data, not JSON)
# goes to json.loads itself, so the result is always what json.loads gives.
_scan_once = json_scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed types it as a class


def _loads(text: str) -> Any:
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _payload_ok(payload: dict[str, Any]) -> bool:
    """``_fast_path_ok(payload)``, without a call per value for the usual flat object of strings, ints and flags."""
    for key, value in payload.items():
        kind = type(value)
        if kind is int:
            if not -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
                return False
        elif not (kind is str or value is None or kind is bool):
            return _fast_path_ok(payload)  # nested (or refused): the general walk decides
        if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
            return False
    return True


def _fast_payload(stored: object) -> dict[str, Any] | None:
    """The payload column decoded, if it is an object inside ``canonical_json``'s fast domain."""
    if isinstance(stored, (bytes, memoryview)):
        stored = bytes(stored).decode()
    if isinstance(stored, str):
        try:
            stored = _loads(stored)
        except ValueError:
            return None
    return stored if type(stored) is dict and _payload_ok(stored) else None


def fast_leaf(row: Row) -> bytes | None:
    """The bytes ``encode_leaf`` makes of a row, built directly, or None when the row is outside the fast domain.

    ``encode_leaf`` is ``canonical_json`` of a fixed envelope; for an envelope of plain strings, integers within
    2**53 and null, around a payload inside ``canonical_json``'s own fast domain, that is the stdlib encoder's
    output (sort_keys, no spaces, UTF-8), and the stdlib encoder writes a nested object exactly as it writes it
    alone. So the envelope is spelt here with the encoder's own string escaper, in sorted key order, and only the
    payload goes through the encoder. Anything else returns None and the caller uses the reference.
    tests/trail/test_verify_fast.py checks this equals ``encode_leaf`` on generated rows.
    """
    seq, recorded_at, action, kind, user_id, token_id, object_type, object_id, payload = row[:9]
    if type(seq) is not int or not -_MAX_EXACT_INT <= seq <= _MAX_EXACT_INT:
        return None
    if not (type(action) is str and type(kind) is str and type(object_type) is str and type(object_id) is str):
        return None
    user = "null" if user_id is None else _small_int_or_null(user_id)
    token = "null" if token_id is None else _small_int_or_null(token_id)
    time_text = _leaf_time(recorded_at)
    if user is None or token is None or time_text is None:
        return None
    payload = _fast_payload(payload)
    if payload is None:
        return None
    prev = row[11]
    text = (
        f'{{"action":{encode_basestring(action)},"actor":{{"kind":{encode_basestring(kind)},"token":{token},'
        f'"user":{user}}},"object":{{"id":{encode_basestring(object_id)},"type":{encode_basestring(object_type)}}},'
        f'"payload":{_payload_json(payload)},"prev":"{bytes(prev).hex()}","seq":{seq},"time":"{time_text}",'
        f'"v":{LEAF_VERSION}}}'
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the reference encoder decides
        return None


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


# A row's problems: seq, columns re-derive the leaf, stored leaf hash matches, prev_hash matches the previous row's
# recomputed leaf hash (for the first row: compared with ``prev``, which the caller may not know yet: then True).
Flags = tuple[int, bool, bool, bool]


def check_rows(rows: Sequence[Row], prev: bytes | None = None) -> tuple[list[bytes], list[Flags]]:
    """Check consecutive rows on their own: every recomputed leaf hash in order, and the rows that have a problem.

    What ``rederive_batch`` checks, in the tight loop ``verify_trail`` runs a million times: only rows with a
    problem produce anything beyond their hash.
    """
    hashes: list[bytes] = []
    flagged: list[Flags] = []
    sha256 = hashlib.sha256
    for row in rows:
        leaf = bytes(row[9])
        computed = sha256(b"\x00" + leaf).digest()
        fast = fast_leaf(row)
        rederived = (fast is not None and fast == leaf) or _reference_leaf(row) == leaf
        hash_ok = computed == row[10]
        prev_ok = prev is None or row[11] == prev
        if not (rederived and hash_ok and prev_ok):
            flagged.append((row[0], rederived, hash_ok, prev_ok))
        hashes.append(computed)
        prev = computed
    return hashes, flagged


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
            decoded = decode_json(leaf)  # 10000000000000000 in a leaf is RFC 8785's spelling of 1e16
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
