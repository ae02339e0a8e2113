"""The trail for people: actors, tokens and objects by name, with links, and the filter by a person's name, by model
and by event type. Presentation only: the leaves keep their ids (no name is written to the trail), and a data
subject is never named."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.conf import settings

from governance.access.actions import do_issue_token
from governance.access.models import Team, User
from governance.data import actions as data
from governance.trail.log import Actor
from governance.trail.models import Event
from tests.conftest import Cast
from tests.portal.conftest import World, signed_in

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return unescape(response.content.decode("utf-8"))


def _row(page: str, seq: int) -> str:
    """The table row of event ``seq``."""
    return page.split(f'href="/trail/events/{seq}/">{seq}</a>', 1)[1].split("</tr>", 1)[0]


@pytest.fixture
def named(cast: Cast, world: World) -> User:
    """Omar with a display name (set directly: a profile edit, not a trail event)."""
    User.objects.filter(pk=cast.owner.user.pk).update(first_name="Omar", last_name="Haddad")
    return User.objects.get(pk=cast.owner.user.pk)


def test_events_show_people_and_objects_by_name_with_links(cast: Cast, world: World, named: User) -> None:
    registered = Event.objects.get(action="model_version.registered")
    page = text(signed_in(cast.officer).get("/trail/"))
    row = _row(page, registered.seq)
    assert '<a href="/trail/?actor=omar">Omar Haddad (omar)</a>' in row
    assert '<a href="/models/credit-scoring/versions/1/">credit-scoring v1</a>' in row
    assert f"user {named.pk}" not in row
    assert "registry.modelversion" not in row
    # The leaf keeps the ids: no name was written to the trail.
    assert b"Haddad" not in bytes(registered.leaf)
    assert b'"user":' + str(named.pk).encode() in bytes(registered.leaf)


def test_a_token_is_shown_by_its_name(cast: Cast, world: World, named: User) -> None:
    issued = do_issue_token(user=named, actor=Actor.for_user(named), name="nightly CI")
    dataset = data.do_register_dataset(
        user=named,
        actor=Actor.for_user(named, issued.token),
        name="loans-2026",
        team=Team.objects.get(slug="credit-risk"),
    )
    event = Event.objects.filter(object_type="governance.dataset", object_id=str(dataset.pk)).get()
    row = _row(text(signed_in(cast.officer).get("/trail/")), event.seq)
    assert "via token “nightly CI” of omar" in row
    assert '<a href="/data/datasets/loans-2026/">loans-2026</a>' in row
    detail = text(signed_in(cast.officer).get(f"/trail/events/{event.seq}/"))
    assert "Omar Haddad (omar)</a> via token “nightly CI” of omar" in detail
    assert f"token {issued.token.pk})" in detail  # the leaf's own ids, said beside the names


def test_the_filter_chooses_a_person_by_name_and_a_model_and_event_type(cast: Cast, world: World, named: User) -> None:
    officer = signed_in(cast.officer)
    form = text(officer.get("/trail/"))
    assert '<option value="omar">Omar Haddad (omar)</option>' in form
    assert '<option value="model_version.registered">' in form
    by_omar = text(officer.get("/trail/", {"actor": "omar"}))
    mine = Event.objects.filter(actor_user_id=named.pk).count()
    assert mine > 0
    assert by_omar.count('href="/trail/events/') == min(mine, settings.PORTAL_PAGE_SIZE)
    assert "Rhea" not in by_omar
    about = text(officer.get("/trail/", {"model": "credit-scoring", "action": "model_version.registered"}))
    assert about.count('href="/trail/events/') == 1
    assert "credit-scoring v1" in about
    unknown = officer.get("/trail/", {"actor": "nobody"})
    assert unknown.status_code == 400


def test_a_data_subject_is_never_named(cast: Cast, world: World) -> None:
    personal = (
        "governance.subject",
        "governance.personalrecord",
        "governance.consentevent",
        "governance.datasetsubject",
    )
    events = list(Event.objects.filter(object_type__in=personal).order_by("-seq")[:5])
    assert events  # the world's consents and subjects
    officer = signed_in(cast.officer)
    for event in events:
        page = text(officer.get("/trail/", {"object_type": event.object_type}))
        assert f"{event.object_type} {event.object_id}" in _row(page, event.seq)
