"""People and teams in the portal (issue 19: "admins manage users, roles and teams through the same set_role/add_user
actions (trail events), never self-promotion"): only administrators (``users:manage``) open the page; adding a
person, changing another's role and teams and adding a team each record the event the management commands record;
nobody changes their own role or teams, and a refusal or bad input changes nothing and is named under its field."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from governance.access.models import Team, User
from governance.access.oidc.models import ExternalIdentity
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return response.content.decode("utf-8")


def row(response: Any, username: str) -> str:
    """The people table's row of ``username``, its cells' text joined by " | "."""
    found = re.search(rf'<tr data-testid="person-{re.escape(username)}">(.*?)</tr>', text(response), re.DOTALL)
    assert found, text(response)[:3000]
    cells = re.findall(r"<td>(.*?)</td>", found.group(1), re.DOTALL)
    return " | ".join(re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells[:6])


def test_the_admin_sees_everyone_with_role_teams_active_and_how_they_sign_in(cast: Cast) -> None:
    ExternalIdentity.objects.create(issuer="https://idp.example", subject="s-1", user=cast.reviewer.user)
    User.objects.filter(pk=cast.outsider.user.pk).update(is_active=False, first_name="Otto", last_name="Berg")
    page = signed_in(cast.admin).get("/people/")
    assert page.status_code == 200
    assert row(page, "omar") == "omar | – | Model owner | credit-risk | yes | local"
    assert row(page, "rhea") == "rhea | – | Reviewer | credit-risk | yes | SSO"
    assert row(page, "otto") == "otto | Otto Berg | Model owner | hiring | no | local"
    # The admin's own row offers no change form.
    assert f'action="/people/{cast.admin.user.pk}/role"' not in text(page)
    assert f'action="/people/{cast.owner.user.pk}/role"' in text(page)
    # The navigation links the page for admins only.
    assert 'href="/people/"' in text(page)
    assert 'href="/people/"' not in text(signed_in(cast.officer).get("/"))


def test_adding_a_person_records_the_add_user_event(cast: Cast) -> None:
    before = last_seq()
    admin = signed_in(cast.admin)
    response = admin.post("/people/", {"username": "nina", "name": "Nina Kay", "role": "reviewer", "teams": ["hiring"]})
    assert (response.status_code, response["Location"]) == (302, "/people/")
    nina = User.objects.get(username="nina")
    assert (nina.first_name, nina.role, nina.has_usable_password()) == ("Nina Kay", "reviewer", False)
    assert list(nina.teams.values_list("slug", flat=True)) == ["hiring"]
    [event] = events_since(before)
    assert (event.action, event.payload) == ("user.created", {"role": "reviewer", "teams": ["hiring"]})
    assert event.actor_user_id == cast.admin.user.pk
    # The same event as manage.py add_user records.
    call_command("add_user", "noor", "--role", "reviewer", "--team", "hiring", "--no-password", stdout=StringIO())
    [command_event] = events_since(event.seq)
    assert (command_event.action, set(command_event.payload)) == (event.action, set(event.payload))
    assert "nina is added as Reviewer." in text(admin.get("/people/"))


def test_changing_anothers_role_and_teams_records_the_set_role_event(cast: Cast) -> None:
    before = last_seq()
    response = signed_in(cast.admin).post(
        f"/people/{cast.owner.user.pk}/role", {"role": "reviewer", "teams": ["credit-risk", "hiring"]}
    )
    assert response.status_code == 302
    omar = User.objects.get(pk=cast.owner.user.pk)
    assert omar.role == "reviewer"
    assert sorted(omar.teams.values_list("slug", flat=True)) == ["credit-risk", "hiring"]
    [event] = events_since(before)
    assert (event.action, event.payload) == (
        "user.role_changed",
        {"role": "reviewer", "teams": ["credit-risk", "hiring"]},
    )
    # No teams ticked: the person leaves every team.
    signed_in(cast.admin).post(f"/people/{cast.owner.user.pk}/role", {"role": "owner"})
    omar.refresh_from_db()
    assert (omar.role, list(omar.teams.all())) == ("owner", [])


def test_adding_a_team_records_its_event(cast: Cast) -> None:
    before = last_seq()
    response = signed_in(cast.admin).post("/people/teams/new", {"slug": "fraud", "title": "Fraud detection"})
    assert response.status_code == 302
    assert Team.objects.get(slug="fraud").name == "Fraud detection"
    [event] = events_since(before)
    assert (event.action, event.payload) == ("team.created", {"slug": "fraud"})


@pytest.mark.parametrize(
    "post",
    [
        {"role": "officer"},
        {"role": "admin", "teams": ["credit-risk"]},
    ],
)
def test_an_admin_cannot_change_their_own_role_or_teams(cast: Cast, post: dict[str, Any]) -> None:
    state, before = db_state(), last_seq()
    response = signed_in(cast.admin).post(f"/people/{cast.admin.user.pk}/role", post)
    assert response.status_code == 403
    assert "ada: Nobody may change their own role or teams." in text(response)
    assert db_state() == state
    assert [(e.action, e.payload["reason"]) for e in events_since(before)] == [("access.denied", "self_change")]


@pytest.mark.parametrize("who", ["officer", "owner", "reviewer", "regulator", "ci"])
def test_nobody_but_an_admin_manages_people_not_even_themselves(cast: Cast, who: str) -> None:
    member = getattr(cast, who)
    client = signed_in(member)
    state = db_state()
    assert client.get("/people/").status_code == 403
    assert client.post("/people/", {"username": "mallory", "role": "admin"}).status_code == 403
    assert client.post(f"/people/{member.user.pk}/role", {"role": "admin"}).status_code == 403
    assert client.post(f"/people/{cast.owner.user.pk}/role", {"role": "admin"}).status_code == 403
    assert client.post("/people/teams/new", {"slug": "mine"}).status_code == 403
    assert db_state() == state
    assert User.objects.get(pk=member.user.pk).role == who


def test_anonymous_is_sent_to_sign_in_and_nothing_changes(cast: Cast) -> None:
    state = db_state()
    response = signed_in(None).post(f"/people/{cast.owner.user.pk}/role", {"role": "admin"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert db_state() == state


@pytest.mark.parametrize(
    ("url", "post", "status", "said"),
    [
        ("/people/", {"username": "", "role": "owner"}, 400, "User name: This field is required."),
        (
            "/people/",
            {"username": "bad name!", "role": "owner"},
            422,
            "User name: &#x27;bad name!&#x27; is not",
        ),
        ("/people/", {"username": "omar", "role": "owner"}, 422, "User name: A user named &#x27;omar&#x27; already"),
        ("/people/", {"username": "nina", "role": "wizard"}, 400, "Role: Select a valid choice."),
        ("/people/", {"username": "nina", "role": "owner", "teams": ["nope"]}, 400, "Teams: Select a valid choice."),
        ("/people/teams/new", {"slug": "Bad Slug"}, 422, "Team name: &#x27;Bad Slug&#x27; is not a valid team name"),
        ("/people/teams/new", {"slug": "hiring"}, 422, "Team name: A team named &#x27;hiring&#x27; already exists."),
        ("/people/teams/new", {"slug": ""}, 400, "Team name: This field is required."),
    ],
)
def test_bad_input_is_named_under_its_field_and_changes_nothing(
    cast: Cast, url: str, post: dict[str, Any], status: int, said: str
) -> None:
    state = db_state()
    response = signed_in(cast.admin).post(url, post)
    assert response.status_code == status
    assert said in text(response), text(response)[:4000]
    assert db_state() == state


def test_a_bad_role_change_names_the_field_and_an_unknown_person_is_404(cast: Cast) -> None:
    state = db_state()
    admin = signed_in(cast.admin)
    response = admin.post(f"/people/{cast.owner.user.pk}/role", {"role": "wizard"})
    assert response.status_code == 400
    assert "omar: Role: Select a valid choice." in text(response)
    assert admin.post("/people/999999/role", {"role": "owner"}).status_code == 404
    assert db_state() == state
