"""Tamper scenarios: what someone with database access might do, and how verify_trail and the offline verifier
each catch it, with a message that names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from governance.trail import verify
from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint
from governance.trail.checks import trail_triggers_present
from governance.trail.keys import published_verifier_keys
from governance.trail.leaf import encode_leaf
from governance.trail.merkle import leaf_hash
from governance.trail.models import Checkpoint, Event
from governance.trail.note import checkpoint_body, sign_note
from tests.trail.helpers import append, as_attacker, rebuild_nodes, run_offline_verifier, run_verify_trail

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail() -> Checkpoint:
    """Twenty events under a checkpoint, then five more (some checkpoints cover only a prefix).

    The first event is the signing key's registration, recorded by the first checkpoint.
    """
    issue_checkpoint()
    append(19)
    held = issue_checkpoint()
    append(5, start=20)
    issue_checkpoint()
    return held


def export(tmp_path: Path, name: str = "export") -> Path:
    out = tmp_path / name
    call_command("export_trail", "--out", str(out), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return out


def refuse_export(tmp_path: Path, problem: str) -> None:
    """export_trail refuses to sign over a trail that does not verify since its last checkpoint, and says why."""
    size = Checkpoint.objects.count()
    with pytest.raises(CommandError, match="Nothing exported: the trail does not verify") as refused:
        export(tmp_path, "refused")
    assert problem in str(refused.value)
    assert "verify_trail" in str(refused.value)
    assert Checkpoint.objects.count() == size  # nothing was signed


def keys_file(tmp_path: Path) -> Path:
    """The verifier keys as a regulator would have fetched them earlier from /.well-known/assay-keys."""
    path = tmp_path / "trusted-keys.txt"
    path.write_text("".join(k + "\n" for k in published_verifier_keys()))
    return path


def held_note(tmp_path: Path, checkpoint: Checkpoint) -> Path:
    path = tmp_path / f"held-{checkpoint.tree_size}.note"
    path.write_text(checkpoint.note)
    return path


def test_untampered_trail_verifies_in_both_verifiers(trail: Checkpoint, tmp_path: Path) -> None:
    code, output = run_verify_trail("--checkpoint", str(held_note(tmp_path, trail)))
    assert code == 0, output
    assert "OK: 25 events" in output
    out = export(tmp_path)
    result = run_offline_verifier(
        "verify", out, "--trusted-keys", keys_file(tmp_path), "--previous-checkpoint", held_note(tmp_path, trail)
    )
    assert result.returncode == 0, result.stderr
    assert "25" in result.stdout


def _row_payload_edit(cursor) -> None:
    cursor.execute("""UPDATE governance_event SET payload = '{"slug": "forged"}' WHERE seq = 7""")


def test_payload_edited_in_the_row(trail: Checkpoint, tmp_path: Path) -> None:
    as_attacker(_row_payload_edit)
    code, output = run_verify_trail()
    assert code == 1
    assert "first bad sequence number: 7" in output
    assert "event 7: its columns no longer match its stored leaf bytes" in output


def test_payload_edited_with_leaf_and_hashes_recomputed(trail: Checkpoint, tmp_path: Path) -> None:
    """A careful attacker re-encodes the leaf, its hash, the next prev link and every node: checkpoints catch it."""

    def rewrite(cursor) -> None:
        event = Event.objects.get(seq=7)
        forged = encode_leaf(
            seq=7,
            prev_hash=bytes(event.prev_hash),
            recorded_at=event.recorded_at,
            action=event.action,
            actor={"kind": "system", "token": None, "user": None},
            object_type=event.object_type,
            object_id=event.object_id,
            payload={"slug": "forged"},
        )
        cursor.execute(
            "UPDATE governance_event SET payload = %s, leaf = %s, leaf_hash = %s WHERE seq = 7",
            [json.dumps({"slug": "forged"}), forged, leaf_hash(forged)],
        )
        cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = 8", [leaf_hash(forged)])
        rebuild_nodes(cursor)

    as_attacker(rewrite)
    code, output = run_verify_trail()
    assert code == 1
    assert "event 8:" in output  # the next leaf's bytes still name the old prev hash
    assert "root differs from the recomputed root at size 20" in output
    # The server will not sign a new checkpoint over the forged log (its last checkpoint's root no longer holds).
    refuse_export(tmp_path, "the stored tree no longer has its root")


def test_middle_row_deleted(trail: Checkpoint, tmp_path: Path) -> None:
    as_attacker(lambda cursor: cursor.execute("DELETE FROM governance_event WHERE seq = 11"))
    code, output = run_verify_trail()
    assert code == 1
    assert "first bad sequence number: 11" in output
    assert "event 11: missing" in output
    refuse_export(tmp_path, "only 24 of its 25 events are stored")


def test_last_rows_deleted_caught_against_an_earlier_checkpoint(trail: Checkpoint, tmp_path: Path) -> None:
    keys = keys_file(tmp_path)
    held = held_note(tmp_path, trail)  # size 20

    def truncate(cursor) -> None:
        cursor.execute("DELETE FROM governance_event WHERE seq >= 15")
        cursor.execute("DELETE FROM governance_checkpoint")  # and hide the server's own evidence
        rebuild_nodes(cursor)

    as_attacker(truncate)
    code, output = run_verify_trail("--checkpoint", str(held), "--trusted-keys", str(keys))
    assert code == 1
    assert "covers 20 events but the trail has 15: the trail was truncated" in output
    out = export(tmp_path)
    result = run_offline_verifier("verify", out, "--trusted-keys", keys, "--previous-checkpoint", held)
    assert result.returncode == 1
    assert "truncated" in result.stderr


def test_two_rows_swapped(trail: Checkpoint, tmp_path: Path) -> None:
    def swap(cursor) -> None:
        cursor.execute("UPDATE governance_event SET seq = -1 WHERE seq = 3")
        cursor.execute("UPDATE governance_event SET seq = 3 WHERE seq = 4")
        cursor.execute("UPDATE governance_event SET seq = 4 WHERE seq = -1")

    as_attacker(swap)
    code, output = run_verify_trail()
    assert code == 1
    assert "first bad sequence number: 3" in output
    out = export(tmp_path)
    result = run_offline_verifier("verify", out, "--trusted-keys", keys_file(tmp_path))
    assert result.returncode == 1
    assert "3" in result.stderr


def test_forged_row_inserted_and_every_later_hash_recomputed(trail: Checkpoint, tmp_path: Path) -> None:
    """The attacker rebuilds the log with an extra event and even re-signs with the server's key.

    Only a checkpoint held outside the server catches this: its root no longer matches the prefix.
    """
    keys = keys_file(tmp_path)
    held = held_note(tmp_path, trail)
    rows = list(Event.objects.order_by("seq"))

    def forge(cursor) -> None:
        cursor.execute("DELETE FROM governance_checkpoint")
        cursor.execute("DELETE FROM governance_event")
        prev = b""
        forged_rows = [*rows[:10], None, *rows[10:]]
        for seq, row in enumerate(forged_rows):
            source = {
                "action": "team.created",
                "actor_kind": "system",
                "object_type": "test",
                "object_id": "forged",
                "payload": {"slug": "forged"},
            }
            if row is not None:
                source = {name: getattr(row, name) for name in source}
            fields = source
            recorded_at = rows[seq - 1].recorded_at if row is None else row.recorded_at
            leaf = encode_leaf(
                seq=seq,
                prev_hash=prev,
                recorded_at=recorded_at,
                actor={"kind": fields["actor_kind"], "token": None, "user": None},
                action=fields["action"],
                object_type=fields["object_type"],
                object_id=fields["object_id"],
                payload=fields["payload"],
            )
            Event.objects.create(
                seq=seq, recorded_at=recorded_at, leaf=leaf, leaf_hash=leaf_hash(leaf), prev_hash=prev, **fields
            )
            prev = leaf_hash(leaf)
        rebuild_nodes(cursor)

    as_attacker(forge)
    issue_checkpoint()  # signed by the real key over the forged log
    code, output = run_verify_trail()
    assert code == 0, "without an outside checkpoint a full rewrite by the key holder is undetectable: " + output
    code, output = run_verify_trail("--checkpoint", str(held), "--trusted-keys", str(keys))
    assert code == 1
    assert "the checkpoint you hold (20): its root differs" in output
    assert "the first 20 events were rewritten" in output
    out = export(tmp_path)
    result = run_offline_verifier("verify", out, "--trusted-keys", keys, "--previous-checkpoint", held)
    assert result.returncode == 1
    assert "rewritten" in result.stderr


def test_checkpoint_signed_with_an_unknown_key(trail: Checkpoint, tmp_path: Path) -> None:
    size = trail.tree_size
    body = checkpoint_body(origin="assay.local/trail", tree_size=size, root=bytes(trail.root_hash))
    note = sign_note(body, signers=[("assay-trail", Ed25519PrivateKey.generate())])

    def insert(cursor) -> None:
        cursor.execute(
            "INSERT INTO governance_checkpoint (tree_size, root_hash, note, key_id, issued_at, reason)"
            " VALUES (%s, %s, %s, %s, %s, 'forged')",
            [25, bytes(trail.root_hash), note, trail.key_id, Checkpoint.objects.latest().issued_at],
        )

    as_attacker(insert)
    code, output = run_verify_trail()
    assert code == 1
    assert "signature or format does not verify" in output
    refuse_export(tmp_path, "its signature does not verify")


def test_stale_checkpoint_reinserted_after_newer_ones(trail: Checkpoint, tmp_path: Path) -> None:
    def replay(cursor) -> None:
        cursor.execute(
            "INSERT INTO governance_checkpoint (tree_size, root_hash, note, key_id, issued_at, reason)"
            " VALUES (%s, %s, %s, %s, %s, 'replayed')",
            [trail.tree_size, bytes(trail.root_hash), trail.note, trail.key_id, trail.issued_at],
        )

    as_attacker(replay)
    code, output = run_verify_trail()
    assert code == 1
    assert "size goes backwards from 25 (a stale checkpoint)" in output
    assert "issued before the checkpoint that precedes it" in output


def test_stored_merkle_node_edited(trail: Checkpoint) -> None:
    as_attacker(
        lambda cursor: cursor.execute(
            'UPDATE governance_merklenode SET hash = %s WHERE level = 2 AND "index" = 1', [b"\x00" * 32]
        )
    )
    code, output = run_verify_trail()
    assert code == 1
    assert "stored Merkle node (2, 1) is not the hash of its children" in output


def test_held_checkpoint_from_another_key_is_reported(trail: Checkpoint, tmp_path: Path) -> None:
    body = checkpoint_body(origin="assay.local/trail", tree_size=20, root=bytes(trail.root_hash))
    note = tmp_path / "foreign.note"
    note.write_text(sign_note(body, signers=[("someone-else", Ed25519PrivateKey.generate())]))
    code, output = run_verify_trail("--checkpoint", str(note))
    assert code == 1
    assert "a checkpoint you hold does not verify" in output


def test_triggers_are_back_after_each_attack(trail: Checkpoint) -> None:
    as_attacker(lambda cursor: None)

    assert trail_triggers_present() == []
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.parametrize("scenario", ["clean", "edited", "deleted"])
def test_parallel_verification_finds_the_same_as_sequential(trail: Checkpoint, scenario: str) -> None:
    """The worker-process path (used for large trails) reports exactly what the single-process path does."""
    if scenario == "edited":
        as_attacker(_row_payload_edit)
    elif scenario == "deleted":
        as_attacker(lambda cursor: cursor.execute("DELETE FROM governance_event WHERE seq = 11"))
    sequential = run_verify_trail("--workers", "1")
    parallel = run_verify_trail("--workers", "2")
    assert parallel == sequential
    assert (sequential[0] == 0) == (scenario == "clean")


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("seq", [8, 9])  # with batches of four, 8 starts a batch and 9 is inside one
def test_a_broken_chain_is_caught_inside_and_across_batches(
    trail: Checkpoint, monkeypatch: pytest.MonkeyPatch, workers: str, seq: int
) -> None:
    monkeypatch.setattr(verify, "_BATCH", 4)
    assert run_verify_trail("--workers", workers)[0] == 0
    as_attacker(
        lambda cursor: cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = %s", [b"\x07" * 32, seq])
    )
    code, output = run_verify_trail("--workers", workers)
    assert code == 1
    assert f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)" in output


def test_stored_leaf_node_edited(trail: Checkpoint) -> None:
    as_attacker(
        lambda cursor: cursor.execute(
            'UPDATE governance_merklenode SET hash = %s WHERE level = 0 AND "index" = 6', [b"\x01" * 32]
        )
    )
    code, output = run_verify_trail()
    assert code == 1
    assert "first bad sequence number: 6" in output
    assert "event 6: the stored Merkle leaf node is missing or differs from the leaf hash" in output


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scenario", ["clean", "edited", "deleted", "chain"])
def test_workers_reading_their_own_ranges_find_the_same_as_one_process(
    unprotected_trail: None, monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    """Outside a transaction the workers read committed rows themselves (the path used on large trails)."""
    issue_checkpoint()
    append(19)
    monkeypatch.setattr(verify, "_BATCH", 4)  # several ranges, and tampering at a range boundary
    if scenario == "edited":
        as_attacker(_row_payload_edit)
    elif scenario == "deleted":
        as_attacker(lambda cursor: cursor.execute("DELETE FROM governance_event WHERE seq = 11"))
    elif scenario == "chain":
        as_attacker(
            lambda cursor: cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = 8", [b"\x07" * 32])
        )
    sequential = run_verify_trail("--workers", "1")
    parallel = run_verify_trail("--workers", "2")
    assert parallel == sequential
    assert (sequential[0] == 0) == (scenario == "clean")


def test_newest_events_and_checkpoints_deleted_are_never_signed_over(trail: Checkpoint, tmp_path: Path) -> None:
    """The red team's case: the newest events and the checkpoints covering them deleted, the Merkle nodes left."""

    def truncate(cursor) -> None:
        cursor.execute("DELETE FROM governance_event WHERE seq >= 22")
        cursor.execute("DELETE FROM governance_checkpoint WHERE tree_size > 20")

    as_attacker(truncate)
    code, output = run_verify_trail()
    assert code == 1, output
    refuse_export(tmp_path, "stored Merkle leaf nodes beyond the last event (21)")
    with pytest.raises(CheckpointRefused, match=r"first bad event: 22"):
        issue_checkpoint(reason="on-demand")


def test_an_edited_row_since_the_last_checkpoint_stops_the_next_checkpoint(trail: Checkpoint) -> None:
    append(3, start=40)
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET object_id = 'x' WHERE seq = 26"))
    with pytest.raises(CheckpointRefused, match=r"event 26: its columns no longer match"):
        issue_checkpoint()
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET object_id = '41' WHERE seq = 26"))
    assert issue_checkpoint().tree_size == 28  # once repaired, checkpoints resume
