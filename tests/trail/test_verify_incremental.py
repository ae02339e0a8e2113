"""``verify_trail --incremental``: from the checkpoint it verified last (kept in a file) to the latest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.trail import verify_incremental as vi
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.leaf import encode_leaf
from governance.trail.merkle import leaf_hash
from governance.trail.models import Checkpoint, Event
from governance.trail.note import checkpoint_body, sign_note
from tests.trail.helpers import append, as_attacker, rebuild_nodes, run_verify_trail

pytestmark = pytest.mark.django_db


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A first incremental run over 20 events (a full one), which keeps the checkpoint at 20; then 7 more events."""
    issue_checkpoint()
    append(19)
    issue_checkpoint()
    path = tmp_path / "var" / "verified.note"
    code, output = incremental(path)
    assert code == 0, output
    assert path.read_text() == Checkpoint.objects.latest().note
    append(7, start=100)
    issue_checkpoint()
    return path


def incremental(path: Path, *args: str) -> tuple[int, str]:
    return run_verify_trail("--incremental", "--state", str(path), *args)


def verdict(*args: str) -> dict[str, object]:
    code, output = run_verify_trail("--json", *args)
    found = json.loads(output)
    return {"code": code, **{key: found[key] for key in ("ok", "events", "root", "first_bad_seq")}}


def test_a_clean_trail_gets_the_same_verdict_as_a_full_run(state: Path) -> None:
    full = verdict()
    assert verdict("--incremental", "--state", str(state)) == full
    assert full["ok"] is True
    assert full["events"] == 27
    assert state.read_text() == Checkpoint.objects.latest().note  # now kept at 27
    code, output = incremental(state)
    assert code == 0
    assert "OK: 27 events (incremental: the 0 events after the 27 verified before)" in output


def test_the_first_run_verifies_everything_and_keeps_the_latest_checkpoint(tmp_path: Path) -> None:
    append(5)
    issue_checkpoint()
    path = tmp_path / "kept.note"
    found = verdict("--incremental", "--state", str(path))
    assert found == verdict()
    assert path.read_text() == Checkpoint.objects.latest().note


def test_a_tampered_new_leaf_is_caught(state: Path) -> None:
    kept = state.read_text()
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET object_id = 'x' WHERE seq = 23"))
    code, output = incremental(state)
    assert code == 1
    assert "first bad sequence number: 23" in output
    assert "event 23: its columns no longer match its stored leaf bytes (the row was edited)" in output
    assert state.read_text() == kept  # a failed run keeps the old checkpoint


def test_a_broken_chain_right_after_the_kept_checkpoint_is_caught(state: Path) -> None:
    as_attacker(
        lambda cursor: cursor.execute("UPDATE governance_event SET prev_hash = %s WHERE seq = 20", [b"\x07" * 32])
    )
    code, output = incremental(state)
    assert code == 1
    assert "event 20: prev_hash does not match event 19's leaf hash (chain broken)" in output


def test_an_edited_new_node_is_caught(state: Path) -> None:
    as_attacker(
        lambda cursor: cursor.execute(
            'UPDATE governance_merklenode SET hash = %s WHERE level = 1 AND "index" = 11', [b"\x00" * 32]
        )
    )
    code, output = incremental(state)
    assert code == 1
    assert "stored Merkle nodes at level 1 differ from the ones recomputed from the events after 20" in output


def test_a_rewritten_old_leaf_fails_the_consistency_proof_from_the_kept_root(state: Path) -> None:
    """The careful attacker rewrites event 7 (under the kept checkpoint), its hash, the next link and every node."""
    kept = state.read_text()

    def rewrite(cursor: object) -> None:
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
        cursor.execute(  # type: ignore[attr-defined]
            "UPDATE governance_event SET payload = %s, leaf = %s, leaf_hash = %s WHERE seq = 7",
            [json.dumps({"slug": "forged"}), forged, leaf_hash(forged)],
        )
        cursor.execute(  # type: ignore[attr-defined]
            "UPDATE governance_event SET prev_hash = %s WHERE seq = 8", [leaf_hash(forged)]
        )
        rebuild_nodes(cursor)

    as_attacker(rewrite)
    code, output = incremental(state)
    assert code == 1
    assert "the checkpoint you verified last (20): the trail's latest checkpoint (27) does not extend it" in output
    assert "first root mismatch" in output
    assert "the stored tree no longer has its root at size 20: the first 20 events were rewritten" in output
    assert state.read_text() == kept


def test_a_kept_note_that_was_changed_is_refused(state: Path) -> None:
    kept = state.read_text()
    size_line = kept.splitlines()[1]
    state.write_text(kept.replace(f"\n{size_line}\n", "\n19\n", 1))
    code, output = incremental(state)
    assert code == 1
    assert f"the checkpoint kept in {state} does not verify" in output
    assert "nothing was verified" in output
    assert state.read_text() != kept  # left as found, for the operator to look at


def test_a_kept_note_signed_by_another_key_is_refused(state: Path) -> None:
    latest = Checkpoint.objects.latest()
    body = checkpoint_body(origin="assay.local/trail", tree_size=latest.tree_size, root=bytes(latest.root_hash))
    state.write_text(sign_note(body, signers=[("assay-trail", Ed25519PrivateKey.generate())]))
    code, output = incremental(state)
    assert code == 1
    assert "does not verify" in output


def test_a_trail_truncated_below_the_kept_checkpoint_is_caught(state: Path) -> None:
    as_attacker(lambda cursor: cursor.execute("DELETE FROM governance_event WHERE seq >= 15"))
    code, output = incremental(state)
    assert code == 1
    assert (
        "the checkpoint you verified last (20) covers 20 events but the trail has 15: the trail was truncated" in output
    )


def test_new_events_deleted_are_caught(state: Path) -> None:
    as_attacker(lambda cursor: cursor.execute("DELETE FROM governance_event WHERE seq = 22"))
    code, output = incremental(state)
    assert code == 1
    assert "event 22: missing (the next stored event is 23)" in output


def test_a_stale_checkpoint_replayed_after_the_kept_one_is_caught(state: Path) -> None:
    held = Checkpoint.objects.get(tree_size=20)

    def replay(cursor: object) -> None:
        cursor.execute(  # type: ignore[attr-defined]
            "INSERT INTO governance_checkpoint (tree_size, root_hash, note, key_id, issued_at, reason)"
            " VALUES (%s, %s, %s, %s, %s, 'replayed')",
            [held.tree_size, bytes(held.root_hash), held.note, held.key_id, held.issued_at],
        )

    as_attacker(replay)
    code, output = incremental(state)
    assert code == 1
    assert "size goes backwards from 27 (a stale checkpoint)" in output


def test_a_held_older_checkpoint_is_checked_by_a_consistency_proof(state: Path, tmp_path: Path) -> None:
    first = Checkpoint.objects.order_by("id").first()
    assert first is not None
    held = tmp_path / "held.note"
    held.write_text(first.note)
    assert incremental(state, "--checkpoint", str(held))[0] == 0


def test_state_goes_with_incremental(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--state goes with --incremental"):
        call_command("verify_trail", "--state", str(tmp_path / "x.note"))


def test_an_unreadable_state_is_reported_and_nothing_is_kept(tmp_path: Path) -> None:
    append(2)
    issue_checkpoint()
    code, output = incremental(tmp_path)  # a directory, not a file
    assert code == 1
    assert "cannot be read" in output


def test_without_state_the_setting_names_the_file(tmp_path: Path, settings: object) -> None:
    settings.TRAIL_VERIFIED_CHECKPOINT_FILE = tmp_path / "kept" / "verified.note"  # type: ignore[attr-defined]
    append(2)
    issue_checkpoint()
    code, output = run_verify_trail("--incremental")
    assert code == 0, output
    assert (tmp_path / "kept" / "verified.note").read_text() == Checkpoint.objects.latest().note


def racing(run: Callable[..., Any]) -> Callable[..., Any]:
    """``run``, after which 5 more events are appended and a checkpoint issued, as while a run finishes."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        report = run(*args, **kwargs)
        append(5, start=500)
        issue_checkpoint()
        return report

    return wrapped


def test_a_checkpoint_issued_while_a_run_finishes_is_not_kept(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run verified 27 events: it keeps the checkpoint at 27, not the one at 32 whose last 5 events it never saw."""
    monkeypatch.setattr(vi, "_verify_since", racing(vi._verify_since))
    report = vi.verify_incremental(state=state)
    assert (report.ok, report.events) == (True, 27)
    assert Checkpoint.objects.latest().tree_size == 32
    assert state.read_text() == Checkpoint.objects.get(tree_size=27).note
    monkeypatch.undo()
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET object_id = 'x' WHERE seq = 29"))
    code, output = incremental(state)  # event 29 came after the kept checkpoint, so this run checks it
    assert code == 1
    assert "event 29: its columns no longer match its stored leaf bytes (the row was edited)" in output


def test_a_first_run_keeps_the_checkpoint_it_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    append(5)
    issue_checkpoint()
    path = tmp_path / "kept.note"
    monkeypatch.setattr(vi, "verify_trail", racing(vi.verify_trail))
    report = vi.verify_incremental(state=path)
    assert (report.ok, report.events) == (True, 6)
    assert path.read_text() == Checkpoint.objects.get(tree_size=6).note
    assert Checkpoint.objects.latest().tree_size == 11
