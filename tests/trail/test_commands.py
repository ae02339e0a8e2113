"""The trail's management commands: their error paths answer with a clear message and change nothing."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.trail.checkpoints import issue_checkpoint
from governance.trail.models import Checkpoint
from tests.trail.helpers import append, run_offline_verifier, run_verify_trail

pytestmark = pytest.mark.django_db


def test_export_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    before = Checkpoint.objects.count()
    with pytest.raises(CommandError, match="exists and is not empty"):
        call_command("export_trail", "--out", str(tmp_path))
    assert Checkpoint.objects.count() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something"]


def test_export_then_the_bundled_verifier_verifies_it(tmp_path: Path) -> None:
    append(5)
    out = tmp_path / "export"
    call_command("export_trail", "--out", str(out), stdout=StringIO())
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.note",
        "checkpoints.json",
        "keys.txt",
        "leaves.jsonl",
        "trail.json",
        "verify.py",
    ]
    result = run_offline_verifier("verify", out, "--trusted-keys", out / "keys.txt")
    assert result.returncode == 0, result.stderr
    # The copy shipped in the export is the verifier itself, byte for byte.
    shipped = (out / "verify.py").read_bytes()
    assert shipped == (Path(__file__).resolve().parents[2] / "governance" / "trail" / "verifier.py").read_bytes()


def test_keygen_refuses_to_overwrite_and_writes_a_private_ed25519_key(tmp_path: Path) -> None:
    path = tmp_path / "trail.pem"
    call_command("trail_keygen", "--out", str(path), stdout=StringIO())
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert type(key).__name__ == "Ed25519PrivateKey"
    assert path.stat().st_mode & 0o777 == 0o600
    original = path.read_bytes()
    with pytest.raises(CommandError, match="refusing to overwrite"):
        call_command("trail_keygen", "--out", str(path))
    assert path.read_bytes() == original


def test_verify_trail_reports_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("verify_trail", "--checkpoint", str(tmp_path / "missing.note"))
    with pytest.raises(CommandError, match="--workers must be between 1 and 64"):
        call_command("verify_trail", "--workers", "0")


def test_verify_trail_reports_a_malformed_trusted_key(tmp_path: Path) -> None:
    append(2)
    issue_checkpoint()
    keys = tmp_path / "keys.txt"
    keys.write_text("not a verifier key\n")
    code, output = run_verify_trail("--trusted-keys", str(keys))
    assert code == 1
    assert "is malformed" in output


def test_verify_trail_json_output(tmp_path: Path) -> None:
    append(3)
    issue_checkpoint()
    code, output = run_verify_trail("--json")
    report = json.loads(output)
    assert code == 0
    assert (report["ok"], report["events"], report["first_bad_seq"]) == (True, 4, None)


def test_trail_checkpoint_if_due_issues_nothing_when_nothing_is_new() -> None:
    append(1)
    err = StringIO()
    call_command("trail_checkpoint", stdout=StringIO())
    call_command("trail_checkpoint", "--if-due", stdout=StringIO(), stderr=err)
    assert "No checkpoint due." in err.getvalue()
    assert Checkpoint.objects.count() == 1


def test_export_refuses_a_file_or_an_uncreatable_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(CommandError, match="is a file"):
        call_command("export_trail", "--out", str(a_file))
    with pytest.raises(CommandError, match="Cannot create"):
        call_command("export_trail", "--out", str(a_file / "below"))
    assert a_file.read_text() == "x"
