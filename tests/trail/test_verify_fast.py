"""The fast verification paths say exactly what the reference ones say.

- ``fast_leaf`` (the leaf spelt directly from a row's columns) equals ``encode_leaf`` wherever it answers: a leaf is
  accepted only when its bytes are exactly the canonical RFC 8785 encoding the reference makes, so a non-canonical
  leaf (other key order, spaces, escapes, number spellings) is still refused.
- Every tamper scenario of test_tamper.py runs again here with chunks of four events (so every boundary is crossed).
- On randomly tampered trails, ``verify_trail`` reports exactly what the previous verifier reported (kept below as
  the oracle: re-encode every leaf, walk every node), problem for problem, with small chunks and batches.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.trail import leaf, verifier, verify
from governance.trail.canonical import _fast_path_ok
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.leaf import as_utc, encode_leaf, fast_leaf
from governance.trail.merkle import CompactRange, leaf_hash
from governance.trail.models import Checkpoint, Event, MerkleNode
from tests.trail.helpers import append, as_attacker, run_verify_trail
from tests.trail.test_tamper import *  # noqa: F403 - every tamper scenario, collected again under the fixture below


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of four events: the trails in these tests span several, and tampering lands on their boundaries."""
    monkeypatch.setattr(verify, "_CHUNK_BITS", 2)


# --- fast_leaf against encode_leaf --------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8") | st.sampled_from('"\\\x00\x1f\x7f\u2028\ud800\U0001f600é/'), max_size=12)
json_scalar = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False) | text
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)
moments = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
stored_time = moments.map(str) | moments.map(lambda moment: moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=3))))
odd_time = st.sampled_from(
    [
        "2026-02-30 00:00:00.000000",
        "2026-01-01T00:00:00.000000",
        "2026-01-01 00:00:00.001+01",
        "２０２６-01-01 00:00:00",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    seq=st.integers(0, 2**60),
    time=stored_time | odd_time,
    action=text,
    kind=text,
    user=st.none() | st.integers(-(2**60), 2**60) | st.booleans(),
    token=st.none() | st.integers(0, 2**40),
    object_type=text,
    object_id=text | st.integers(0, 99),
    payload=st.dictionaries(text, json_value, max_size=4) | json_value,
    as_text=st.booleans(),
    prev=st.binary(min_size=0, max_size=32),
)
def test_fast_leaf_equals_encode_leaf_wherever_it_answers(**drawn: Any) -> None:
    payload = drawn["payload"]
    stored_payload = json.dumps(payload) if drawn["as_text"] else payload
    row = (
        drawn["seq"],
        drawn["time"],
        drawn["action"],
        drawn["kind"],
        drawn["user"],
        drawn["token"],
        drawn["object_type"],
        drawn["object_id"],
        stored_payload,
        b"",
        b"",
        drawn["prev"],
    )
    fast = fast_leaf(row)
    try:
        reference = encode_leaf(
            seq=drawn["seq"],
            prev_hash=drawn["prev"],
            recorded_at=as_utc(drawn["time"]),
            action=drawn["action"],
            actor={"kind": drawn["kind"], "token": drawn["token"], "user": drawn["user"]},
            object_type=drawn["object_type"],
            object_id=drawn["object_id"],
            payload=json.loads(stored_payload) if isinstance(stored_payload, str) else stored_payload,
        )
    except Exception:  # whatever the reference refuses, the fast path must not answer for
        assert fast is None
        return
    assert fast is None or fast == reference


@settings(max_examples=300, deadline=None)
@given(value=json_value, before=st.sampled_from(["", " ", "\n"]), after=st.sampled_from(["", " ", "x", "}", "1"]))
def test_the_payload_decoder_is_json_loads(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value) + after
    try:
        expected = json.loads(text)
    except json.JSONDecodeError:
        with pytest.raises(json.JSONDecodeError):
            leaf._loads(text)
        return
    assert json.dumps(leaf._loads(text)) == json.dumps(expected)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(text, json_value, max_size=5))
def test_the_flat_payload_check_is_the_canonical_fast_check(payload: dict[str, Any]) -> None:
    assert leaf._payload_ok(payload) == _fast_path_ok(payload)


def test_fast_leaf_answers_for_the_rows_the_server_writes() -> None:
    """The common case takes the fast path (else it would not be fast): a row as SQLite returns it."""
    moment = dt.datetime(2026, 3, 1, 12, 0, 0, 1234, tzinfo=dt.UTC)
    payload = {"slug": "team-é", "n": 3, "ok": True, "items": ["a", None]}
    leaf = encode_leaf(
        seq=7,
        prev_hash=b"\x01" * 32,
        recorded_at=moment,
        action="team.created",
        actor={"kind": "user", "token": None, "user": 4},
        object_type="access.team",
        object_id="12",
        payload=payload,
    )
    row = (7, "2026-03-01 12:00:00.001234", "team.created", "user", 4, None, "access.team", "12", json.dumps(payload))
    assert fast_leaf((*row, leaf, leaf_hash(leaf), b"\x01" * 32)) == leaf
    on_the_second = (7, "2026-03-01 12:00:00", *row[2:], leaf, leaf_hash(leaf), b"\x01" * 32)
    assert fast_leaf(on_the_second) == leaf.replace(b"00.001234Z", b"00.000000Z")


@pytest.mark.parametrize(
    "spelling",
    [
        b'{"slug": "t1"}',  # a space
        b'{"slug":"\\u0074\\u0031"}',  # escapes where none are needed
        b'{"slug":"t1","slug":"t1"}',  # a duplicate key
    ],
)
@pytest.mark.django_db
def test_a_non_canonical_leaf_with_the_same_values_is_refused(spelling: bytes) -> None:
    """Leaf bytes that parse to exactly the row's values but are not the canonical encoding do not verify."""
    append(3)
    event = Event.objects.get(seq=1)
    canonical = bytes(event.leaf)
    assert b'"payload":{"slug":"t1"}' in canonical
    forged = canonical.replace(b'{"slug":"t1"}', spelling)
    assert json.loads(forged) == json.loads(canonical)

    def rewrite(cursor: Any) -> None:
        # The careful attacker: the leaf hash, the next event's link and every node agree with the new bytes.
        cursor.execute(
            "UPDATE governance_event SET leaf = %s, leaf_hash = %s WHERE seq = 1", [forged, leaf_hash(forged)]
        )
        cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = 2", [leaf_hash(forged)])

    as_attacker(rewrite)
    code, output = run_verify_trail()
    assert code == 1
    assert "event 1: its columns no longer match its stored leaf bytes" in output


# --- the previous verifier, as the oracle --------------------------------------------------------------------------


def _reference_batches() -> Iterator[tuple[bytes, list[tuple[int, bytes, bool, bool, bool | None]]]]:
    rows = list(
        Event.objects.order_by("seq").values_list(
            "seq", "recorded_at", "action", "actor_kind", "actor_user_id", "actor_token_id", "object_type",
            "object_id", "payload", "leaf", "leaf_hash", "prev_hash",
        )
    )  # fmt: skip
    for begin in range(0, len(rows), verify._BATCH):
        checked: list[tuple[int, bytes, bool, bool, bool | None]] = []
        previous: bytes | None = None
        for row in rows[begin : begin + verify._BATCH]:
            seq, at, action, kind, user, token, object_type, object_id, payload, leaf, stored, prev = row
            derived = encode_leaf(
                seq=seq,
                prev_hash=bytes(prev),
                recorded_at=as_utc(at),
                action=action,
                actor={"kind": kind, "token": token, "user": user},
                object_type=object_type,
                object_id=object_id,
                payload=payload,
            )
            computed = leaf_hash(bytes(leaf))
            prev_ok: bool | None = None if previous is None else bytes(prev) == previous
            checked.append((seq, computed, derived == bytes(leaf), computed == bytes(stored), prev_ok))
            previous = computed
        yield bytes(rows[begin][11]), checked


def reference_verify() -> verify.Report:
    """verify_trail as it was before the chunked fast path: every leaf re-encoded, every node walked."""
    report = verify.Report()
    checkpoints = list(Checkpoint.objects.select_related("key").order_by("id"))
    keys, _ = verify._trusted_keys_and_held(report, None, ())
    wanted = {cp.tree_size for cp in checkpoints}
    edge, roots_at, prev, expected = CompactRange(0, []), {0: verifier.EMPTY_ROOT}, b"", 0
    for first_prev, results in _reference_batches():
        if first_prev != prev and results[0][0] == expected:
            report.fail(
                f"event {expected}: prev_hash does not match event {expected - 1}'s leaf hash (chain broken)", expected
            )
        for seq, computed, rederived, hash_ok, prev_ok in results:
            if seq != expected:
                report.fail(
                    f"event {expected}: missing (the next stored event is {seq}); events were deleted or reordered",
                    expected,
                )
                break
            if not rederived:
                report.fail(f"event {seq}: its columns no longer match its stored leaf bytes (the row was edited)", seq)
            if not hash_ok:
                report.fail(
                    f"event {seq}: stored leaf hash is not SHA-256(0x00 || leaf) (leaf or hash was edited)", seq
                )
            if prev_ok is False:
                report.fail(f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)", seq)
            edge.append(computed)
            prev, expected = computed, expected + 1
            if expected in wanted:
                roots_at[expected] = edge.root()
        else:
            if len(report.problems) <= 50:
                continue
            report.problems.append("… stopping after 50 problems")
        break
    report.events = expected
    report.root = edge.root() if expected else verifier.EMPTY_ROOT
    if report.ok:
        if MerkleNode.objects.filter(level=0, index__gte=report.events).exists():
            report.fail("there are stored Merkle leaf nodes beyond the last event (events were deleted)")
        verify._check_leaf_nodes(report)
        verify._check_inner_nodes(report)
    verify._check_checkpoints(report, checkpoints, roots_at, keys)
    return report


def _tamper(rng: random.Random, size: int) -> Any:
    """Some random damage, as SQL to run with the triggers dropped."""
    kinds = rng.sample(["object", "hash", "prev", "delete", "tail", "node", "many", "leaf"], k=rng.randint(1, 3))

    def change(cursor: Any) -> None:
        for kind in kinds:
            seq = rng.randrange(1, size - 1)
            if kind == "object":
                cursor.execute("UPDATE governance_event SET object_id = 'x' WHERE seq = %s", [seq])
            elif kind == "hash":
                cursor.execute("UPDATE governance_event SET leaf_hash = %s WHERE seq = %s", [rng.randbytes(32), seq])
            elif kind == "prev":
                cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = %s", [rng.randbytes(32), seq])
            elif kind == "delete":
                cursor.execute("DELETE FROM governance_event WHERE seq = %s", [seq])
            elif kind == "tail":
                cursor.execute("DELETE FROM governance_event WHERE seq >= %s", [size - rng.randint(1, 6)])
            elif kind == "node":
                level = rng.randint(0, 4)
                cursor.execute(
                    'UPDATE governance_merklenode SET hash = %s WHERE level = %s AND "index" = %s',
                    [rng.randbytes(32), level, rng.randrange(max(size >> level, 1))],
                )
            elif kind == "many":  # over 50 problems: the stop rule
                for victim in rng.sample(range(size), 30):
                    cursor.execute(
                        "UPDATE governance_event SET leaf_hash = %s WHERE seq = %s", [rng.randbytes(32), victim]
                    )
            elif kind == "leaf":  # a space after the canonical bytes: the same values, not the canonical form
                cursor.execute("SELECT leaf FROM governance_event WHERE seq = %s", [seq])
                row = cursor.fetchone()
                if row is not None:
                    cursor.execute("UPDATE governance_event SET leaf = %s WHERE seq = %s", [bytes(row[0]) + b" ", seq])

    return kinds, change


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.django_db
def test_random_damage_is_reported_exactly_as_the_previous_verifier_did(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(verify, "_BATCH", rng.choice([3, 4, 5, 8]))
    monkeypatch.setattr(verify, "_CHUNK_BITS", rng.choice([1, 2, 3, 5]))
    issue_checkpoint()
    append(30)
    issue_checkpoint()
    append(rng.randint(3, 20), start=30)
    issue_checkpoint()
    size = Event.objects.count()
    kinds, change = _tamper(rng, size)
    as_attacker(change)
    expected = reference_verify()
    for workers in (1, 2):
        found = verify.verify_trail(workers=workers)
        assert (found.problems, found.first_bad_seq, found.events, found.root, found.checkpoints) == (
            expected.problems,
            expected.first_bad_seq,
            expected.events,
            expected.root,
            expected.checkpoints,
        ), kinds
    assert not expected.ok


@pytest.mark.django_db
def test_a_clean_trail_verifies_as_before_over_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "_CHUNK_BITS", 1)
    issue_checkpoint()
    append(37)
    issue_checkpoint()
    expected = reference_verify()
    found = verify.verify_trail(workers=1)
    assert expected.ok
    assert found.ok
    assert (found.events, found.root, found.checkpoints) == (expected.events, expected.root, expected.checkpoints)


@pytest.mark.parametrize(
    ("level", "index", "message"),
    [
        (9, 0, "the stored Merkle tree holds nodes that a tree of 21 events does not have"),  # new: unseen before
        (0, -1, "the stored Merkle tree holds nodes that a tree of 21 events does not have"),  # the walk skipped it
        (3, 40, "stored Merkle nodes at level 3 are missing or out of place near index 2"),
    ],
)
@pytest.mark.django_db
def test_a_node_the_tree_cannot_have_is_reported(level: int, index: int, message: str) -> None:
    """Stricter than before: an extra stored node the node-by-node walk never reads still fails verification."""
    append(20)
    issue_checkpoint()
    as_attacker(
        lambda cursor: cursor.execute(
            'INSERT INTO governance_merklenode (level, "index", hash) VALUES (%s, %s, %s)', [level, index, b"\x05" * 32]
        )
    )
    code, output = run_verify_trail()
    assert code == 1
    assert message in output


@pytest.mark.django_db
def test_an_edited_node_above_the_chunks_is_reported_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "_CHUNK_BITS", 1)  # levels 2 and up are recomputed from the chunks' roots
    append(20)
    issue_checkpoint()
    as_attacker(
        lambda cursor: cursor.execute(
            'UPDATE governance_merklenode SET hash = %s WHERE level = 3 AND "index" = 1', [b"\x00" * 32]
        )
    )
    code, output = run_verify_trail()
    assert code == 1
    assert "stored Merkle node (3, 1) is not the hash of its children (edited)" in output
