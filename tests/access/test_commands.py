"""The add_user and issue_token management commands."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance.access.actions import ActionError, do_change_role, do_create_user
from governance.access.models import ApiToken, Team, User
from governance.trail.log import Actor
from governance.trail.models import Event
from tests.api import db_state, events_since, last_seq
from tests.conftest import PASSWORD, Cast


def run(command: str, *args: str) -> tuple[str, str]:
    """Run a management command; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(f"{PASSWORD}\nthe second line is ignored\n", encoding="utf-8")
    return path


# --- add_user --------------------------------------------------------------------------------------------------


def test_add_user_reads_the_password_from_a_file_and_records_the_creation(db: Any, password_file: Path) -> None:
    seq, password = last_seq(), str(password_file)
    teams = ["--team", "credit-risk", "--team", "hiring"]
    out, _ = run(
        "add_user", "pat", "--role", "owner", *teams, "--email", "pat@example.org", "--password-file", password
    )

    assert out.strip() == "Created pat (owner)."
    user = User.objects.get(username="pat")
    assert (user.role, user.email, user.is_staff) == ("owner", "pat@example.org", False)
    assert user.check_password(PASSWORD)
    assert sorted(user.teams.values_list("slug", flat=True)) == ["credit-risk", "hiring"]
    created = events_since(seq, "user.created")
    assert [(e.object_id, e.payload) for e in created] == [
        (str(user.pk), {"role": "owner", "teams": ["credit-risk", "hiring"]})
    ]
    assert created[0].actor_kind == "system"


def test_a_team_named_for_the_first_time_is_created_with_its_own_event(cast: Cast, password_file: Path) -> None:
    seq = last_seq()
    run("add_user", "pat", "--role", "owner", "--team", "fraud", "--team", "credit-risk", "--no-password")
    team = Team.objects.get(slug="fraud")
    created = events_since(seq, "team.created")  # credit-risk exists already: only fraud is new
    assert [(e.object_id, e.payload, e.actor_kind) for e in created] == [(str(team.pk), {"slug": "fraud"}, "system")]


def test_add_user_makes_admins_staff_and_no_one_else(db: Any, password_file: Path) -> None:
    run("add_user", "ada", "--role", "admin", "--password-file", str(password_file))
    run("add_user", "olivia", "--role", "officer", "--password-file", str(password_file))
    assert User.objects.get(username="ada").is_superuser is True
    assert User.objects.get(username="olivia").is_staff is False


def test_add_user_without_a_password_creates_a_service_account(db: Any) -> None:
    run("add_user", "pipeline", "--role", "ci", "--no-password")
    user = User.objects.get(username="pipeline")
    assert user.role == "ci"
    assert not user.has_usable_password()


def test_add_user_prompts_twice_when_no_password_source_is_given(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("add_user", "pat", "--role", "reviewer")
    assert User.objects.get(username="pat").check_password(PASSWORD)


def _refused(args: list[str], message: str) -> None:
    before = db_state()
    with pytest.raises(CommandError, match=message):
        run("add_user", *args)
    assert db_state() == before


def test_add_user_refuses_an_unknown_role(db: Any, password_file: Path) -> None:
    _refused(["pat", "--role", "wizard", "--password-file", str(password_file)], "invalid choice: 'wizard'")


def test_add_user_refuses_a_user_that_already_exists(cast: Cast, password_file: Path) -> None:
    _refused(["omar", "--role", "reviewer", "--password-file", str(password_file)], "'omar' already exists")
    assert User.objects.get(username="omar").role == "owner"


def test_add_user_refuses_an_unreadable_password_file(db: Any, tmp_path: Path) -> None:
    _refused(["pat", "--role", "owner", "--password-file", str(tmp_path / "missing")], "Cannot read a password from")


def test_add_user_refuses_an_empty_password_file(db: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    _refused(["pat", "--role", "owner", "--password-file", str(empty)], "Cannot read a password from")


def test_add_user_refuses_a_weak_password(db: Any, tmp_path: Path) -> None:
    weak = tmp_path / "weak"
    weak.write_text("password\n")
    _refused(["pat", "--role", "owner", "--password-file", str(weak)], "too short")


def test_add_user_refuses_prompted_passwords_that_differ(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    _refused(["pat", "--role", "owner"], "do not match")


@pytest.mark.parametrize(
    "username", ["", "has space", "semi;colon", "x" * 151], ids=["empty", "space", "semicolon", "too-long"]
)
def test_add_user_refuses_an_invalid_username(db: Any, username: str) -> None:
    _refused([username, "--role", "ci", "--no-password"], "user name")


@pytest.mark.parametrize("team", ["Credit Risk!", "credit/risk", "-leading-hyphen", "x" * 65])
def test_add_user_refuses_a_team_name_no_url_could_reach(db: Any, team: str) -> None:
    _refused(["pat", "--role", "owner", "--no-password", f"--team={team}"], "is not a valid team name")


def test_add_user_refuses_both_a_password_file_and_no_password(db: Any, password_file: Path) -> None:
    _refused(["pat", "--role", "ci", "--no-password", "--password-file", str(password_file)], "not allowed with")


# --- issue_token -----------------------------------------------------------------------------------------------


def _me(raw: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get("/api/v1/me")


def test_issue_token_prints_the_token_alone_and_it_authenticates(cast: Cast) -> None:
    seq = last_seq()
    out, err = run("issue_token", "rhea")
    assert err == ""
    assert out.endswith("\n")
    assert out.count("\n") == 1
    raw = out.strip()
    assert raw.startswith("assay_")

    me = _me(raw)
    assert me.status_code == 200
    assert me.json()["username"] == "rhea"
    assert me.json()["token"]["read_only"] is False
    assert me.json()["token"]["expires_at"] is None  # no --days: never expires
    [issued] = events_since(seq, "token.issued")
    assert issued.actor_kind == "system"
    assert raw not in str(issued.payload)


def test_issue_token_honours_read_only_days_and_label(cast: Cast) -> None:
    out, _ = run("issue_token", "omar", "--read-only", "--days", "7", "--label", "dashboard")
    raw = out.strip()
    token = ApiToken.objects.get(pk=_me(raw).json()["token"]["id"])
    assert (token.read_only, token.name) == (True, "dashboard")
    assert token.expires_at is not None
    assert abs(token.expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/api/v1/tokens/", {}, format="json").status_code == 403


def _issue_refused(args: list[str], message: str) -> None:
    before = db_state()
    with pytest.raises(CommandError, match=message):
        run("issue_token", *args)
    assert db_state() == before


def test_issue_token_refuses_an_unknown_user(db: Any) -> None:
    _issue_refused(["nobody"], "no user named 'nobody'")


def test_issue_token_refuses_a_deactivated_user(cast: Cast) -> None:
    User.objects.filter(username="omar").update(is_active=False)
    _issue_refused(["omar"], "deactivated")


@pytest.mark.parametrize("days", ["0", "3651"])
def test_issue_token_refuses_a_lifetime_out_of_range(cast: Cast, days: str) -> None:
    _issue_refused(["omar", "--days", days], "between 1 and 3650 days")


def test_issue_token_never_writes_the_token_into_the_trail(cast: Cast) -> None:
    raw = run("issue_token", "omar")[0].strip().encode()
    leaves = [bytes(leaf) for leaf in Event.objects.values_list("leaf", flat=True)]
    assert leaves
    assert not any(raw in leaf for leaf in leaves)


def test_set_role_changes_the_role_and_records_it(db: None) -> None:
    do_create_user(username="rita", role="owner", teams=["credit-risk"], actor=Actor.system())
    out = StringIO()
    call_command("set_role", "rita", "--role", "reviewer", "--team", "hiring", stdout=out)
    user = User.objects.get(username="rita")
    assert (user.role, sorted(user.teams.values_list("slug", flat=True))) == ("reviewer", ["hiring"])
    event = Event.objects.filter(action="user.role_changed").get()
    assert event.payload == {"role": "reviewer", "teams": ["hiring"]}
    assert "rita is now reviewer." in out.getvalue()


def test_nobody_changes_their_own_role(db: None) -> None:
    user = do_create_user(username="ann", role="owner", actor=Actor.system())
    with pytest.raises(ActionError, match="their own role"):
        do_change_role(user=user, actor=Actor.for_user(user), role="officer")
    user.refresh_from_db()
    assert user.role == "owner"


def test_the_admin_cannot_edit_roles_or_add_users(admin_client) -> None:
    user = do_create_user(username="bob", role="owner", actor=Actor.system())
    assert admin_client.get("/admin/governance/user/add/").status_code == 403
    page = admin_client.get(f"/admin/governance/user/{user.pk}/change/").content.decode()
    assert 'name="role"' not in page
    admin_client.post(f"/admin/governance/user/{user.pk}/change/", {"role": "officer", "is_active": "on"})
    user.refresh_from_db()
    assert user.role == "owner"
