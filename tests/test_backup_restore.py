"""Backup and restore as docs/operations.md says, then verification: the database (SQLite's online backup, or
pg_dump/pg_restore on PostgreSQL), the media folder and the keys are copied; a fresh database and media folder are
restored from them; verify_trail, verify_media and the system checks (the pseudonym key's fingerprint) all pass.
And the restore checks catch what a bad restore looks like: an altered file, a missing file, another key."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from governance.trail.checkpoints import issue_checkpoint
from tests.conftest import Cast
from tests.data.conftest import german_csv, make_dataset, make_file_version, make_purpose, media_root, record_consent

__all__ = ["media_root"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = connection.vendor == "postgresql"
# On a bucket, the media folder this test copies does not exist: docs/operations.md backs a bucket up with the
# provider's versioning or replication, which is not Assay's to test.
pytestmark = pytest.mark.skipif(
    getattr(django_settings, "TEST_STORAGE", "local") == "s3",
    reason="backs up and restores the media folder; with ASSAY_TEST_STORAGE=s3 files are in a bucket",
)


def manage(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # a real process, as an operator runs it after a restore
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def backup_database(target: Path) -> None:
    """The backup command of docs/operations.md for this database."""
    params = connection.settings_dict
    if POSTGRES:
        subprocess.run(
            ["pg_dump", "-Fc", "-h", params["HOST"] or "127.0.0.1", "-p", str(params["PORT"] or 5432), "-U",
             params["USER"] or "postgres", "-f", str(target), params["NAME"]],
            check=True,
        )  # fmt: skip
    elif shutil.which("sqlite3"):
        subprocess.run(["sqlite3", params["NAME"], f".backup '{target}'"], check=True)
    else:  # the same online backup, through Python's sqlite3 module
        with sqlite3.connect(params["NAME"]) as source, sqlite3.connect(target) as copy:
            source.backup(copy)


@pytest.fixture
def restored_database(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(backup file, DATABASE_URL of a fresh database to restore into); the PostgreSQL one is dropped after."""
    backup = tmp_path / ("assay.dump" if POSTGRES else "assay.sqlite3")
    if not POSTGRES:
        yield backup, f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    params = connection.settings_dict
    host, port, user = params["HOST"] or "127.0.0.1", str(params["PORT"] or 5432), params["USER"] or "postgres"
    name = f"assay_restore_{uuid.uuid4().hex[:10]}"
    subprocess.run(["createdb", "-h", host, "-p", port, "-U", user, name], check=True)
    try:
        yield backup, f"postgres://{user}@{host}:{port}/{name}"
    finally:
        subprocess.run(["dropdb", "-h", host, "-p", port, "-U", user, "--if-exists", name], check=False)


def restore_database(backup: Path, url: str) -> None:
    if POSTGRES:
        name = url.rsplit("/", 1)[1]
        params = connection.settings_dict
        subprocess.run(
            ["pg_restore", "--no-owner", "-h", params["HOST"] or "127.0.0.1", "-p", str(params["PORT"] or 5432),
             "-U", params["USER"] or "postgres", "-d", name, str(backup)],
            check=True,
        )  # fmt: skip
    else:
        shutil.copyfile(backup, url.removeprefix("sqlite:///"))


@pytest.mark.usefixtures("unprotected_trail")
def test_backup_restore_then_verify(
    cast: Cast, media_root: Path, tmp_path: Path, restored_database: tuple[Path, str], settings: Any
) -> None:
    # Something worth keeping: a dataset file, a data subject with consent events, trail events, a checkpoint.
    make_file_version(cast, make_dataset(cast, "applicants"), german_csv(40), subject_id_column="applicant_id")
    purpose = make_purpose(cast)
    record_consent(cast, "applicant-1", "given", datetime(2026, 1, 5, tzinfo=UTC), purpose=purpose)
    issue_checkpoint(reason="before-backup")

    # Backup: the database, the media folder, the keys (here: the environment's values and the key folder).
    backup, url = restored_database
    backup_database(backup)
    shutil.copytree(media_root, tmp_path / "backup-media")

    # Restore into a fresh database and media folder.
    restore_database(backup, url)
    shutil.copytree(tmp_path / "backup-media", tmp_path / "restored-media")
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(tmp_path / "restored-media"),
        "PSEUDONYM_KEY": django_settings.PSEUDONYM_KEY,
        "TRAIL_KEY_DIR": str(django_settings.TRAIL_KEY_DIR),
        "DJANGO_SETTINGS_MODULE": "governance.settings",
    }

    verified = manage("verify_trail", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    media = manage("verify_media", env=env)
    assert media.returncode == 0, media.stdout + media.stderr
    assert "1 stored files checked, 0 missing or altered" in media.stdout
    checked = manage("check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # What a bad restore looks like, named by the checks.
    stored = next(p for p in (tmp_path / "restored-media").rglob("*") if p.is_file())
    stored.write_bytes(stored.read_bytes() + b"x")
    altered = manage("verify_media", env=env)
    assert altered.returncode == 1
    assert "dataset applicants v1" in altered.stdout
    assert "holds other bytes" in altered.stdout
    stored.unlink()
    assert "missing" in manage("verify_media", env=env).stdout
    other_key = manage("check", env={**env, "PSEUDONYM_KEY": "a-different-pseudonym-key-of-32-characters"})
    assert other_key.returncode != 0
    assert "assay.E010" in other_key.stderr
