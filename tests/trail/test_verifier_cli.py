"""Tests for governance/trail/verifier.py's command line, run as regulators run it: a *copy* of verifier.py, alone
in a temporary directory, as a subprocess, against honest and tampered exports.

Plain pytest; no database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from governance.trail import verifier
from governance.trail.note import verifier_key_text
from governance.trail.verifier import consistency_proof, inclusion_proof, leaf_hash, root_from_leaf_hashes
from tests.trail.verifier_exports import (
    KEY_NAME,
    LOG_KEY,
    VERIFIER_SOURCE,
    chain,
    checkpoint_note,
    honest_export,
    make_events,
    rewrite_lines,
    signing_key,
    write_export,
)

NEW_LOG_KEY = signing_key("assay log key 2026")


ATTACKER_KEY = signing_key("attacker")


@pytest.fixture(scope="module")
def regulator_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """verifier.py copied alone into an empty directory, away from the repository."""
    target = tmp_path_factory.mktemp("regulator") / "verifier.py"
    shutil.copyfile(VERIFIER_SOURCE, target)
    return target


@pytest.fixture
def trusted_keys(tmp_path: Path) -> Path:
    path = tmp_path / "trusted-keys.txt"
    path.write_text(
        "# Assay audit trail keys, obtained from Assay's published key list\n"
        + verifier_key_text(KEY_NAME, LOG_KEY.public_key())
        + "\n",
        encoding="utf-8",
    )
    return path


class Run:
    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def run_cli(regulator_copy: Path):  # type: ignore[no-untyped-def]
    def run(*arguments: object) -> Run:
        environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
        completed = subprocess.run(
            [sys.executable, str(regulator_copy), *map(str, arguments)],
            capture_output=True,
            text=True,
            cwd=regulator_copy.parent,
            env=environment,
            timeout=120,
            check=False,
        )
        return Run(completed)

    return run


def test_cli_untampered_export_verifies(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    root = root_from_leaf_hashes([leaf_hash(leaf) for leaf in chain(make_events(20))])

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 0, result
    assert result.out.strip() == (
        f"OK: 20 leaves, 4 checkpoints verified; latest checkpoint: size 20, root {root.hex()}"
    )
    assert result.err == ""


def test_cli_without_trusted_keys_is_not_verified(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    # Every check holds, but only against the export's own keys: exit 2, never 0, unless the user accepts them.
    export = honest_export(tmp_path / "export")
    key = verifier.parse_verifier_key(verifier_key_text(KEY_NAME, LOG_KEY.public_key()))
    result = run_cli("verify", export)
    assert result.code == 2, result
    assert result.out == ""
    assert "WARNING: no --trusted-keys given" in result.err
    assert "came with the export itself" in result.err
    assert f"{key.describe()}: {key.text()}" in result.err
    assert f"SHA-256 fingerprint {hashlib.sha256(key.public_key).hexdigest()}" in result.err
    assert "NOT VERIFIED against keys you trust" in result.err

    accepted = run_cli("verify", export, "--trust-export-keys")
    assert accepted.code == 0, accepted
    assert "which you accepted with --trust-export-keys" in accepted.out
    assert f"SHA-256 fingerprint {hashlib.sha256(key.public_key).hexdigest()}" in accepted.err

    both = run_cli("verify", export, "--trust-export-keys", "--trusted-keys", export / "keys.txt")
    assert both.code == 2, both
    assert "exclude each other" in both.err


def test_cli_edited_leaf_byte(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")

    def edit(lines: list[bytes]) -> list[bytes]:
        assert b'"actor":"user-1"' in lines[7]
        lines[7] = lines[7].replace(b'"actor":"user-1"', b'"actor":"user-2"')
        return lines

    rewrite_lines(export, edit)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    first = result.err.splitlines()[0]
    assert first.startswith("FAIL: leaf 8 (leaves.jsonl line 9): prev is ")
    assert "but the hash of leaf 7 is" in first
    assert "leaf 7 was altered" in first
    assert "entry 1 (tree_size 10): root" in result.err
    assert "does not match the Merkle root of leaves 0..9" in result.err
    assert "entry 0 (tree_size 5)" not in result.err  # leaves 0..4 are intact


def test_cli_edited_last_leaf_is_caught_by_the_checkpoint(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    rewrite_lines(export, lambda lines: [*lines[:-1], lines[-1].replace(b"doc-19", b"doc-91")])
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "entry 3 (tree_size 20): root" in result.err
    assert "does not match the Merkle root of leaves 0..19" in result.err


def test_cli_deleted_middle_line(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    rewrite_lines(export, lambda lines: lines[:10] + lines[11:])
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    first = result.err.splitlines()[0]
    assert first == (
        "FAIL: leaf 10 (leaves.jsonl line 11): seq is 11, expected 10: 1 leaf before it is "
        "missing (deleted), or leaves were reordered (later leaves with the same shift are not reported again)"
    )
    assert "leaf 10 (leaves.jsonl line 11): prev is" in result.err
    assert "trail.json says tree_size 20, but leaves.jsonl has 19 leaves" in result.err
    assert "entry 3 (tree_size 20): commits to 20 leaves, but the export has only 19" in result.err
    assert "entry 2 (tree_size 15): root" in result.err
    # The shift is reported once, not once for every later leaf.
    assert sum("seq is" in line for line in result.err.splitlines() if line.startswith("FAIL")) == 1


def test_cli_two_lines_swapped(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")

    def swap(lines: list[bytes]) -> list[bytes]:
        lines[12], lines[13] = lines[13], lines[12]
        return lines

    rewrite_lines(export, swap)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert result.err.splitlines()[0].startswith("FAIL: leaf 12 (leaves.jsonl line 13): seq is 13, expected 12")
    assert "leaf 13 (leaves.jsonl line 14): seq is 12, expected 13" in result.err
    assert "entry 2 (tree_size 15): root" in result.err


def test_cli_truncation_caught_only_by_a_held_checkpoint(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    # The regulator kept the size-20 checkpoint from an earlier export.
    leaves = chain(make_events(20))
    held = tmp_path / "held-20.note"
    held.write_text(checkpoint_note(leaves, 20, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    # The new export drops the last 5 leaves, fixes tree_size and drops the later checkpoints.
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10, 15)]
    export = write_export(tmp_path / "export", leaves[:15], notes)

    alone = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert alone.code == 0, alone  # internally consistent: only outside memory can tell

    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--previous-checkpoint", held)
    assert result.code == 1, result
    assert (
        f"truncated: the log is shorter than a checkpoint you hold: previous checkpoint {held} "
        f"(tree_size 20) commits to 20 leaves, the export has only 15"
    ) in result.err


def test_cli_rewrite_resigned_with_the_same_key_is_caught_by_a_held_checkpoint(
    tmp_path: Path,
    run_cli,  # type: ignore[no-untyped-def]
    trusted_keys: Path,
) -> None:
    honest = chain(make_events(20))
    held = tmp_path / "held-10.note"
    held.write_text(checkpoint_note(honest, 10, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    # An insider with the signing key inserts a forged event at position 6, renumbers and
    # re-chains everything after it, and re-signs every checkpoint with the same key.
    events = make_events(20)
    events.insert(6, {"action": "record.deleted", "actor": "user-0", "object": "doc-evidence"})
    forged = chain(events)
    notes = [checkpoint_note(forged, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10, 15, 21)]
    export = write_export(tmp_path / "export", forged, notes)

    alone = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert alone.code == 0, alone  # a consistent rewrite is invisible without a held checkpoint

    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--previous-checkpoint", held)
    assert result.code == 1, result
    assert f"rewritten: leaves 0..9 differ from what checkpoint {held} committed to" in result.err
    assert (
        f"previous checkpoint {held} (tree_size 10): the consistency proof built from the export's leaves" in result.err
    )
    assert "first root mismatch" in result.err


def test_cli_held_checkpoint_of_an_honest_log_verifies(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    held = []
    for size in (7, 10, 20):  # 7 was never in checkpoints.json: any signed size works
        path = tmp_path / f"held-{size}.note"
        path.write_text(checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
        held += ["--previous-checkpoint", path]
    export = honest_export(tmp_path / "export")
    result = run_cli("verify", export, "--trusted-keys", trusted_keys, *held)
    assert result.code == 0, result


def test_cli_checkpoint_signed_by_an_unknown_key(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10)]
    notes.append(checkpoint_note(leaves, 20, [(KEY_NAME, ATTACKER_KEY)]))
    attacker_line = verifier_key_text(KEY_NAME, ATTACKER_KEY.public_key())
    export = write_export(tmp_path / "export", leaves, notes, keys=[attacker_line])
    attacker_id = attacker_line.split("+")[1]

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "checkpoints.json entry 2 (tree_size 20): no signature by a trusted key" in result.err
    assert f"{KEY_NAME} (key id {attacker_id}) (a key with this name is trusted, but not this key id)" in result.err


def test_cli_export_keys_prove_nothing_on_their_own(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    # Whoever rewrites the export can re-sign everything with their own key and ship that key
    # in keys.txt. Only independently obtained keys (--trusted-keys) catch it.
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, ATTACKER_KEY)]) for size in (10, 20)]
    keys = [verifier_key_text(KEY_NAME, ATTACKER_KEY.public_key())]
    export = write_export(tmp_path / "export", leaves, notes, keys=keys)

    unsafe = run_cli("verify", export)
    assert unsafe.code == 2, unsafe  # never 0 on the export's own word
    assert "WARNING: no --trusted-keys given" in unsafe.err
    attacker = verifier.parse_verifier_key(keys[0])
    assert f"SHA-256 fingerprint {hashlib.sha256(attacker.public_key).hexdigest()}" in unsafe.err

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "entry 0 (tree_size 10): no signature by a trusted key" in result.err
    assert "entry 1 (tree_size 20): no signature by a trusted key" in result.err


def test_cli_checkpoint_sizes_going_backwards(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 15, 10, 20)]
    export = write_export(tmp_path / "export", leaves, notes)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert (
        "checkpoints.json entry 2 (tree_size 10): checkpoint sizes went backwards (entry 1 has size 15)"
    ) in result.err


def test_cli_key_rotation(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    old, new = (KEY_NAME, LOG_KEY), (KEY_NAME, NEW_LOG_KEY)
    notes = [
        checkpoint_note(leaves, 5, [old]),
        checkpoint_note(leaves, 10, [old, new]),  # overlap period: signed by both
        checkpoint_note(leaves, 20, [new]),
    ]
    key_lines = [
        verifier_key_text(KEY_NAME, LOG_KEY.public_key()),
        verifier_key_text(KEY_NAME, NEW_LOG_KEY.public_key()),
    ]
    export = write_export(tmp_path / "export", leaves, notes, keys=key_lines)
    both = tmp_path / "both.txt"
    both.write_text("\n".join(key_lines) + "\n", encoding="utf-8")
    only_new = tmp_path / "new.txt"
    only_new.write_text(key_lines[1] + "\n", encoding="utf-8")

    assert run_cli("verify", export, "--trust-export-keys").code == 0
    assert run_cli("verify", export, "--trusted-keys", both).code == 0
    result = run_cli("verify", export, "--trusted-keys", only_new)
    assert result.code == 1, result
    assert "entry 0 (tree_size 5): no signature by a trusted key" in result.err
    assert "entry 1 (tree_size 10)" not in result.err  # the overlap checkpoint carries the new key


def test_cli_origin_must_match(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--origin", "other.example/log")
    assert result.code == 1, result
    assert "trail.json origin is 'assay.example/audit-trail', expected 'other.example/log'" in result.err
    assert "checkpoint is for origin 'assay.example/audit-trail', expected 'other.example/log'" in result.err


def test_cli_usage_and_unreadable_input_exit_2(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli().code == 2
    assert run_cli("verify").code == 2
    missing = run_cli("verify", tmp_path / "nope")
    assert missing.code == 2, missing
    assert "is not a directory" in missing.err, missing

    export = honest_export(tmp_path / "export")
    bad_keys = tmp_path / "bad-keys.txt"
    bad_keys.write_text("not-a-key\n", encoding="utf-8")
    result = run_cli("verify", export, "--trusted-keys", bad_keys)
    assert result.code == 2, result
    assert "line 1: verifier key 'not-a-key' is not of the form" in result.err, result

    (export / "leaves.jsonl").unlink()
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 2, result
    assert "error: cannot read" in result.err, result
    assert "leaves.jsonl" in result.err, result


# --- inclusion and consistency subcommands -----------------------------------------------------


def _write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_cli_inclusion(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(13))
    hashes = [leaf_hash(leaf) for leaf in leaves]

    def nodes(ids):  # type: ignore[no-untyped-def]
        return {node: root_from_leaf_hashes(hashes[node.begin : node.end]) for node in ids}

    proof = inclusion_proof(index=6, tree_size=13, get_nodes=nodes)
    document = {
        "leaf_index": 6,
        "tree_size": 13,
        "leaf_hash": hashes[6].hex(),
        "proof": [element.hex() for element in proof],
        "root": root_from_leaf_hashes(hashes).hex(),
    }
    good = _write_json(tmp_path / "good.json", document)
    note13 = tmp_path / "cp13.note"
    note13.write_text(checkpoint_note(leaves, 13, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    note12 = tmp_path / "cp12.note"
    note12.write_text(checkpoint_note(leaves, 12, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")

    result = run_cli("inclusion", good)
    assert result.code == 2, result  # consistent, but against a root nobody signed: not verified
    assert "leaf 6 is in a tree of size 13" in result.out
    assert "NOT VERIFIED: no checkpoint given, so that root is not authenticated" in result.err
    result = run_cli("inclusion", good, "--checkpoint", note13, "--trusted-keys", trusted_keys)
    assert result.code == 0, result
    assert "checkpoint signature verified" in result.out, result

    result = run_cli("inclusion", good, "--checkpoint", note12, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert f"checkpoint {note12} is for tree size 12, the proof for 13" in result.err

    flipped = dict(
        document, proof=[proof[0].hex(), (bytes([proof[1][0] ^ 1]) + proof[1][1:]).hex(), *document["proof"][2:]]
    )  # type: ignore[misc]
    result = run_cli("inclusion", _write_json(tmp_path / "flipped.json", flipped))
    assert result.code == 1, result
    assert "inclusion proof does not verify: root mismatch" in result.err, result

    upper = _write_json(tmp_path / "upper.json", dict(document, root=document["root"].upper()))  # type: ignore[attr-defined]
    result = run_cli("inclusion", upper)
    assert result.code == 2, result
    assert "field 'root' must be a lowercase hex string" in result.err, result
    assert run_cli("inclusion", good, "--checkpoint", note13).code == 2  # keys are required with it


def test_cli_consistency(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(21))
    hashes = [leaf_hash(leaf) for leaf in leaves]

    def nodes(ids):  # type: ignore[no-untyped-def]
        return {node: root_from_leaf_hashes(hashes[node.begin : node.end]) for node in ids}

    proof = consistency_proof(first_size=6, second_size=21, get_nodes=nodes)
    document = {
        "first_size": 6,
        "second_size": 21,
        "first_root": root_from_leaf_hashes(hashes[:6]).hex(),
        "second_root": root_from_leaf_hashes(hashes).hex(),
        "proof": [element.hex() for element in proof],
    }
    good = _write_json(tmp_path / "good.json", document)
    first = tmp_path / "first.note"
    first.write_text(checkpoint_note(leaves, 6, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    second = tmp_path / "second.note"
    second.write_text(checkpoint_note(leaves, 21, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    forged = tmp_path / "forged.note"
    forged.write_text(checkpoint_note(leaves, 21, [(KEY_NAME, ATTACKER_KEY)]), encoding="utf-8")

    result = run_cli("consistency", good)
    assert result.code == 0, result
    assert "is a prefix of the tree of size 21" in result.out, result
    arguments = ["--first-checkpoint", first, "--second-checkpoint", second, "--trusted-keys", trusted_keys]
    assert run_cli("consistency", good, *arguments).code == 0

    result = run_cli("consistency", good, "--second-checkpoint", forged, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert f"second checkpoint {forged}: no signature by a trusted key" in result.err, result

    wrong = _write_json(tmp_path / "wrong.json", dict(document, first_size=5))
    result = run_cli("consistency", wrong)
    assert result.code == 1, result
    assert "consistency proof does not verify" in result.err, result
    result = run_cli("consistency", _write_json(tmp_path / "partial.json", {"first_size": 6}))
    assert result.code == 2, result
    assert "field 'second_size' must be an integer" in result.err, result
