"""Tests for governance/trail/verifier.py's verify_export in process: the rarer problems of an export, with their
exact wording, and main's exit codes.

Plain pytest; no database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from governance.trail import verifier
from governance.trail.note import verifier_key_text
from governance.trail.verifier import verify_export
from tests.trail.verifier_exports import (
    KEY_NAME,
    LOG_KEY,
    ORIGIN,
    chain,
    checkpoint_note,
    honest_export,
    make_events,
    rewrite_lines,
    write_export,
)

# ---------------------------------------------------------------------------------------------
# verify_export in-process: the rarer problems, with exact wording
# ---------------------------------------------------------------------------------------------


def _keys() -> list[verifier.VerifierKey]:
    return [verifier.parse_verifier_key(verifier_key_text(KEY_NAME, LOG_KEY.public_key()))]


def test_export_refuses_malformed_leaves(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=6, sizes=(6,))

    def damage(lines: list[bytes]) -> list[bytes]:
        lines[1] = b'{"seq":1,"seq":1,"prev":""}'  # duplicate key: parsers disagree on these
        lines[2] = b"[2]"
        lines[3] = b"{not json"
        lines[4] = lines[4].replace(b'"seq":4', b'"seq":"4"')
        return lines

    rewrite_lines(export, damage)
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0] == "leaf 1 (leaves.jsonl line 2) is not valid JSON: duplicate key 'seq'"
    assert problems[1] == "leaf 2 (leaves.jsonl line 3) is not a JSON object"
    assert problems[2].startswith("leaf 3 (leaves.jsonl line 4) is not valid JSON")
    assert problems[3] == 'leaf 4 (leaves.jsonl line 5) has no integer "seq" field'


def test_export_refuses_a_missing_final_newline_and_a_bad_first_prev(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=3, sizes=(3,))
    path = export / "leaves.jsonl"
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"prev":""', b'"prev":"00"', 1)[:-1])
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0] == (
        "leaf 0 (leaves.jsonl line 1): prev must be empty for the first leaf, got '00': leaves before it are missing"
    )
    assert "leaf 2 (leaves.jsonl line 3) does not end with a newline: the file may be truncated" in problems


def test_export_names_crlf_conversion_once(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=4, sizes=(4,))
    path = export / "leaves.jsonl"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0].startswith("leaf 0 (leaves.jsonl line 1) ends with a carriage return")
    assert sum("carriage return" in problem for problem in problems) == 1


def test_export_with_no_checkpoints_is_not_authenticated(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", chain(make_events(4)), [])
    report = verify_export(export, trusted_keys=_keys())
    assert report.problems == ["no checkpoint in the export verified: none of its leaves are authenticated"]


def test_export_warns_about_leaves_no_checkpoint_covers(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=12, sizes=(5, 10))
    report = verify_export(export, trusted_keys=_keys())
    assert report.ok, report.problems
    assert report.warnings == ["leaves 10..11 are not covered by any checkpoint yet, so nothing signed commits to them"]


def test_export_refuses_a_held_checkpoint_newer_than_the_latest(tmp_path: Path) -> None:
    leaves = chain(make_events(20))
    export = write_export(tmp_path / "export", leaves, [checkpoint_note(leaves, 10, [(KEY_NAME, LOG_KEY)])])
    held = checkpoint_note(leaves, 15, [(KEY_NAME, LOG_KEY)])
    report = verify_export(export, trusted_keys=_keys(), previous_checkpoints=[("held.note", held)])
    assert report.problems == [
        "previous checkpoint held.note (tree_size 15) is newer than the export's latest checkpoint "
        "(size 10): checkpoints were removed from the export or the log was rolled back"
    ]


def test_export_refuses_unsigned_size_disagreeing_with_signed_size(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=5, sizes=(5,))
    path = export / "checkpoints.json"
    document = json.loads(path.read_text())
    document["checkpoints"][0]["tree_size"] = 4
    path.write_text(json.dumps(document))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems == ["checkpoints.json entry 0 (tree_size 4): the signed note says tree size 5"]


def test_export_checks_trail_json(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=2, sizes=(2,))
    (export / "trail.json").write_text(json.dumps({"format": "assay-trail/2", "origin": ORIGIN}))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems == [
        "trail.json format is 'assay-trail/2', expected 'assay-trail/1'",
        'trail.json has no integer "tree_size"',
        'trail.json "exported_at" is not an ISO 8601 timestamp: None',
        'trail.json has no string "leaf_encoding"',
    ]


def test_main_in_process_returns_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = honest_export(tmp_path / "export", count=3, sizes=(3,))
    assert verifier.main(["verify", str(export)]) == 2
    assert verifier.main(["verify", str(export), "--trust-export-keys"]) == 0
    assert "OK: 3 leaves, 1 checkpoints verified" in capsys.readouterr().out
    assert verifier.main(["--help"]) == 0
    assert verifier.main(["frobnicate"]) == 2
