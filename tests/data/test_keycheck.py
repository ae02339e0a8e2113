"""A changed PSEUDONYM_KEY stops the service instead of silently hiding every data subject (issue 17: the red team
changed the key, ``check`` passed, and a subject with two consent events showed none)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from governance.data import keycheck
from governance.data.models import KeyFingerprint, Subject
from tests.conftest import Cast
from tests.data.conftest import make_purpose, pseudonym, record_consent

pytestmark = pytest.mark.django_db
OTHER_KEY = "another-pseudonym-key-of-at-least-32-characters!"
ROOT = Path(__file__).resolve().parents[2]


def with_two_consent_events(cast: Cast) -> None:
    purpose = make_purpose(cast)
    record_consent(cast, "applicant-1", "given", datetime(2026, 1, 5, tzinfo=UTC), purpose=purpose)
    record_consent(cast, "applicant-1", "withdrawn", datetime(2026, 3, 5, tzinfo=UTC), purpose=purpose)
    assert Subject.objects.filter(pseudonym=pseudonym("applicant-1")).exists()


def test_the_fingerprint_is_recorded_at_migration_and_reveals_nothing_of_the_key(settings: Any) -> None:
    stored = KeyFingerprint.objects.get(name="PSEUDONYM_KEY")
    assert stored.fingerprint == keycheck.fingerprint()
    assert settings.PSEUDONYM_KEY not in stored.fingerprint
    assert keycheck.key_problem() is None


def test_a_changed_key_fails_the_system_check_and_the_start(cast: Cast) -> None:
    with_two_consent_events(cast)
    with override_settings(PSEUDONYM_KEY=OTHER_KEY):
        errors = keycheck.pseudonym_key_unchanged()
        assert [e.id for e in errors] == ["assay.E010"]
        assert "PSEUDONYM_KEY is not the key" in errors[0].msg
        with pytest.raises(ImproperlyConfigured, match="Restore the original key"):
            keycheck.stop_if_key_changed()
        # manage.py commands (runserver among them) run the check first.
        with pytest.raises(SystemCheckError, match=r"assay\.E010"):
            call_command("trail_checkpoint", skip_checks=False)
    assert keycheck.pseudonym_key_unchanged() == []


def test_a_new_key_is_accepted_while_no_subject_depends_on_it() -> None:
    assert not Subject.objects.exists()
    with override_settings(PSEUDONYM_KEY=OTHER_KEY):
        assert keycheck.key_problem() is None
        assert keycheck.key_problem(record=True) is None
        assert KeyFingerprint.objects.get(name="PSEUDONYM_KEY").fingerprint == keycheck.fingerprint()


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="a throwaway SQLite file is the fresh server"
)
def test_the_wsgi_entry_point_refuses_to_serve_with_a_changed_key(tmp_path: Path) -> None:
    """A real start: migrate a fresh database with one key, add a subject, then import the WSGI application (as
    gunicorn does) with another key."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "ASSAY_VAR_DIR": str(tmp_path),
        "PSEUDONYM_KEY": "the-original-pseudonym-key-32-characters-long",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
    }

    def run(*argv: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = env if key is None else {**env, "PSEUDONYM_KEY": key}
        return subprocess.run(
            [sys.executable, *argv], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
        )

    assert run("manage.py", "migrate", "--noinput").returncode == 0
    add = "from governance.data.models import Subject; Subject.objects.create(pseudonym='a' * 64)"
    assert run("manage.py", "shell", "-c", add).returncode == 0
    assert run("-c", "import governance.wsgi").returncode == 0
    refused = run("-c", "import governance.wsgi", key=OTHER_KEY)
    assert refused.returncode != 0
    assert "PSEUDONYM_KEY is not the key" in refused.stderr
