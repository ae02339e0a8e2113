"""Configuration from the environment: typed helpers that fail loudly, and a production mode that refuses to start
without its secrets and then passes ``manage.py check --deploy``.

The production checks run ``manage.py`` in a subprocess with a clean environment (settings are read once, at
import), pointed at a temporary directory so that they never touch a developer's ``var/``.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from governance.env import env_bool, env_int, env_list, env_secret, env_str

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
STRONG_KEY = secrets.token_urlsafe(50)  # 67 random characters
STRONG_PSEUDONYM_KEY = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def trail_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "trail-signing.pem"
    call_command("trail_keygen", "--out", str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
    return path


DEPLOY_CHECK = ("check", "--deploy", "--fail-level", "WARNING")
Manage = Callable[..., subprocess.CompletedProcess[str]]


def run_manage(workdir: Path, key_file: Path, *args: str, **changes: str | None) -> subprocess.CompletedProcess[str]:
    """``manage.py`` (the deploy check by default) in a complete production environment, changed by keyword
    (None removes a variable), with every file it might write under ``workdir``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "ASSAY_VAR_DIR": str(workdir / "var"),
        "DATABASE_URL": f"sqlite:///{workdir / 'assay.sqlite3'}",
        "TRAIL_KEY_DIR": str(workdir / "keys"),
        "DEBUG": "0",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "assay.example.org",
        "TRAIL_SIGNING_KEY_FILE": str(key_file),
        "PSEUDONYM_KEY": STRONG_PSEUDONYM_KEY,
        # Named only: a system check never connects to the cache.
        "CACHE_URL": "redis://127.0.0.1:6379/1",
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *(args or DEPLOY_CHECK)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def manage(tmp_path: Path, trail_key_file: Path) -> Manage:
    def run(*args: str, **changes: str | None) -> subprocess.CompletedProcess[str]:
        return run_manage(tmp_path, trail_key_file, *args, **changes)

    return run


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr[-2000:]


def check_ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The ids of the system-check messages in a ``manage.py check`` run (``security.W008``, ...)."""
    return re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr)


# --- production ------------------------------------------------------------------------------------------------


def test_a_complete_production_environment_starts_and_meets_djangos_security_checks(
    manage: Manage, tmp_path: Path
) -> None:
    result = manage("check", "--deploy")  # fails on errors only
    assert result.returncode == 0, result.stderr[-3000:]
    assert [i for i in check_ids(result) if not i.startswith("drf_spectacular.")] == []
    assert not (tmp_path / "keys").exists()  # the configured key is used; none is generated


def test_a_complete_production_environment_passes_the_deploy_check(manage: Manage) -> None:
    result = manage()  # check --deploy --fail-level WARNING: drf-spectacular's schema warnings count too
    assert check_ids(result) == [], result.stderr[-3000:]
    assert result.returncode == 0
    assert "System check identified no issues" in result.stdout


def test_the_secret_key_may_come_from_a_file(manage: Manage, tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(STRONG_KEY + "\n")
    result = manage("check", SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "System check identified no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start(manage: Manage) -> None:
    assert_refused(manage(SECRET_KEY=None), "SECRET_KEY is not set")


@pytest.mark.parametrize(
    "weak_key",
    [
        "too-short-but-random-Zq8",
        "django-insecure-" + secrets.token_urlsafe(50),
        "ab" * 40,  # long, but only two different characters
    ],
    ids=["short", "django-insecure", "repetitive"],
)
def test_production_with_a_weak_secret_key_refuses_to_start(manage: Manage, weak_key: str) -> None:
    result = manage(SECRET_KEY=weak_key)
    assert_refused(result, "SECRET_KEY is too weak")
    assert weak_key not in result.stderr


def test_production_without_allowed_hosts_refuses_to_start(manage: Manage) -> None:
    assert_refused(manage(ALLOWED_HOSTS=None), "ALLOWED_HOSTS is empty")


def test_production_without_a_pseudonym_key_refuses_to_start(manage: Manage) -> None:
    assert_refused(manage(PSEUDONYM_KEY=None), "PSEUDONYM_KEY is not set", "PSEUDONYM_KEY_FILE")


@pytest.mark.parametrize("weak", ["short-key", "a" * 40, "the-secret-key"], ids=["short", "repetitive", "reused"])
def test_production_with_a_weak_or_reused_pseudonym_key_refuses_to_start(manage: Manage, weak: str) -> None:
    assert_refused(manage(PSEUDONYM_KEY=STRONG_KEY if weak == "the-secret-key" else weak), "PSEUDONYM_KEY is too weak")


def test_production_without_a_trail_signing_key_refuses_to_start(manage: Manage) -> None:
    assert_refused(manage(TRAIL_SIGNING_KEY_FILE=None), "TRAIL_SIGNING_KEY", "trail_keygen")


def test_an_unreadable_trail_signing_key_file_refuses_to_start(manage: Manage, tmp_path: Path) -> None:
    assert_refused(
        manage(TRAIL_SIGNING_KEY_FILE=str(tmp_path / "missing.pem")), "TRAIL_SIGNING_KEY_FILE=", "cannot be read"
    )


def test_a_trail_signing_key_file_that_holds_no_key_fails_the_deploy_check(manage: Manage, tmp_path: Path) -> None:
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("this is not a PEM key\n")
    result = manage(TRAIL_SIGNING_KEY_FILE=str(not_a_key))
    assert result.returncode != 0
    assert "TRAIL_SIGNING_KEY" in result.stdout + result.stderr


def test_a_secret_given_both_directly_and_as_a_file_is_refused(manage: Manage, tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(STRONG_KEY)
    result = manage(SECRET_KEY_FILE=str(key_file))
    assert_refused(result, "Set SECRET_KEY or SECRET_KEY_FILE, not both")
    assert STRONG_KEY not in result.stderr


def test_a_debug_value_that_is_not_a_boolean_is_refused(manage: Manage) -> None:
    assert_refused(manage(DEBUG="maybe"), "DEBUG='maybe' is not a boolean")


def test_the_deploy_check_catches_an_insecure_production_setting(manage: Manage) -> None:
    result = manage(SECURE_SSL_REDIRECT="0")
    assert result.returncode != 0
    assert "security.W008" in check_ids(result)


def test_the_deploy_check_warns_when_rate_limits_are_counted_per_process(manage: Manage) -> None:
    result = manage(CACHE_URL=None)
    assert result.returncode != 0
    assert check_ids(result) == ["assay.W010"], result.stderr[-3000:]
    assert "each gunicorn worker allows the full GATE_RATE" in result.stderr + result.stdout


def test_development_needs_no_configuration(manage: Manage) -> None:
    result = manage("check", DEBUG="1", SECRET_KEY=None, ALLOWED_HOSTS=None, TRAIL_SIGNING_KEY_FILE=None)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "System check identified no issues" in result.stdout


# --- governance.env --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " on "])
def test_env_bool_reads_true(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASSAY_FLAG", raw)
    assert env_bool("ASSAY_FLAG", default=False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "OFF", ""])
def test_env_bool_reads_false(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASSAY_FLAG", raw)
    assert env_bool("ASSAY_FLAG", default=True) is False


def test_env_bool_defaults_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_FLAG", raising=False)
    assert env_bool("ASSAY_FLAG", default=True) is True
    assert env_bool("ASSAY_FLAG") is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASSAY_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=f"ASSAY_FLAG='{raw}' is not a boolean"):
        env_bool("ASSAY_FLAG")


def test_env_int_reads_an_integer_and_defaults_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_NUMBER", " 42 ")
    assert env_int("ASSAY_NUMBER", 7) == 42
    monkeypatch.setenv("ASSAY_NUMBER", "  ")
    assert env_int("ASSAY_NUMBER", 7) == 7
    monkeypatch.delenv("ASSAY_NUMBER")
    assert env_int("ASSAY_NUMBER", 7) == 7


@pytest.mark.parametrize("raw", ["forty-two", "4.2", "0x10"])
def test_env_int_refuses_a_non_integer(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASSAY_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match=f"ASSAY_NUMBER='{raw}' is not an integer"):
        env_int("ASSAY_NUMBER", 7)


def test_env_int_refuses_a_value_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="ASSAY_NUMBER=0 is below the minimum of 1"):
        env_int("ASSAY_NUMBER", 7, minimum=1)
    monkeypatch.setenv("ASSAY_NUMBER", "1")
    assert env_int("ASSAY_NUMBER", 7, minimum=1) == 1


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_HOSTS", " a.example , ,b.example,")
    assert env_list("ASSAY_HOSTS") == ["a.example", "b.example"]
    monkeypatch.setenv("ASSAY_HOSTS", "")
    assert env_list("ASSAY_HOSTS", ["default"]) == []  # set but empty means empty, not the default
    monkeypatch.delenv("ASSAY_HOSTS")
    assert env_list("ASSAY_HOSTS", ["default"]) == ["default"]
    assert env_list("ASSAY_HOSTS") == []


def test_env_list_never_hands_out_its_default_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_HOSTS", raising=False)
    default = ["localhost"]
    env_list("ASSAY_HOSTS", default).append("evil.example")
    assert default == ["localhost"]


def test_env_str_strips_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TEXT", "  hello \n")
    assert env_str("ASSAY_TEXT") == "hello"
    monkeypatch.delenv("ASSAY_TEXT")
    assert env_str("ASSAY_TEXT", "fallback") == "fallback"
    assert env_str("ASSAY_TEXT") == ""


def test_env_secret_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_SECRET", " s3cret ")
    monkeypatch.delenv("ASSAY_SECRET_FILE", raising=False)
    assert env_secret("ASSAY_SECRET") == "s3cret"


def test_env_secret_reads_the_file_without_its_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.delenv("ASSAY_SECRET", raising=False)
    monkeypatch.setenv("ASSAY_SECRET_FILE", str(path))
    assert env_secret("ASSAY_SECRET") == "s3cret"


def test_env_secret_is_empty_when_neither_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_SECRET", raising=False)
    monkeypatch.delenv("ASSAY_SECRET_FILE", raising=False)
    assert env_secret("ASSAY_SECRET") == ""


def test_env_secret_refuses_both_the_variable_and_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-file")
    monkeypatch.setenv("ASSAY_SECRET", "from-variable")
    monkeypatch.setenv("ASSAY_SECRET_FILE", str(path))
    with pytest.raises(ImproperlyConfigured, match="Set ASSAY_SECRET or ASSAY_SECRET_FILE, not both") as refused:
        env_secret("ASSAY_SECRET")
    assert "from-variable" not in str(refused.value)


def test_env_secret_refuses_an_unreadable_file_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ASSAY_SECRET", raising=False)
    monkeypatch.setenv("ASSAY_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"ASSAY_SECRET_FILE='.*missing' cannot be read: No such file"):
        env_secret("ASSAY_SECRET")
