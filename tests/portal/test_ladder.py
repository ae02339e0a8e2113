"""Every portal page's permission ladder: anonymous -> sign-in; role without the scope -> 403 (recorded); out of
team -> 404; allowed -> 200. And deny by default: every page of the portal declares the scopes it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from governance.trail.models import Event
from registry.models import MonitoringBatch
from tests.api import last_seq
from tests.conftest import Cast
from tests.data.conftest import pseudonym
from tests.portal.conftest import CONSENTING, World, signed_in

ALL = ("admin", "officer", "owner", "reviewer", "outsider", "regulator", "ci")


def _batch_url(world: World) -> str:
    """A (pending) production batch of the world's version: its page is the ladder's subject, not its check."""
    batch, _ = MonitoringBatch.objects.get_or_create(
        version=world.version,
        number=1,
        defaults={"data": world.dataset_version, "rows": 1, "deployed": False, "received_by": world.model.created_by},
    )
    return f"/models/{world.model.name}/versions/1/batches/{batch.number}/"


# page -> (URL from the world, who gets 200, who gets 404); everyone else signed in gets 403.
PAGES: dict[str, tuple[Callable[[World], str], set[str], set[str]]] = {
    "dashboard": (lambda w: "/", set(ALL), set()),
    "models": (lambda w: "/models/", {"admin", "officer", "owner", "reviewer", "outsider", "regulator", "ci"}, set()),
    "model": (
        lambda w: f"/models/{w.model.name}/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "model as of": (
        lambda w: f"/models/{w.model.name}/?as_of=2026-01-31",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "model risk": (
        lambda w: f"/models/{w.model.name}/risk",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "version": (
        lambda w: f"/models/{w.model.name}/versions/1/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "version obligations": (
        lambda w: f"/models/{w.model.name}/versions/1/obligations/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "model incidents": (
        lambda w: f"/models/{w.model.name}/incidents/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "statement of applicability": (lambda w: "/statement-of-applicability/", set(ALL), set()),
    "monitoring batch": (_batch_url, {"admin", "officer", "owner", "reviewer", "ci"}, {"outsider", "regulator"}),
    "new model": (lambda w: "/models/new", {"owner", "outsider", "ci"}, set()),
    "new version": (lambda w: f"/models/{w.model.name}/versions/new", {"owner", "ci"}, {"outsider"}),
    "my tokens": (lambda w: "/tokens/", set(ALL), set()),
    "people": (lambda w: "/people/", {"admin"}, set()),
    "approvals": (lambda w: "/approvals/", {"officer", "reviewer"}, set()),
    "audits": (lambda w: "/audits/", {"admin", "officer", "owner", "reviewer", "outsider", "regulator", "ci"}, set()),
    "audit run": (
        lambda w: f"/audits/{w.run.pk}/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "audit run body": (
        lambda w: f"/audits/{w.run.pk}/body",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "new audit": (lambda w: "/audits/new", {"admin", "officer", "owner", "outsider", "ci"}, set()),
    "datasets": (lambda w: "/data/datasets/", {"admin", "officer", "owner", "reviewer", "outsider", "ci"}, set()),
    "dataset": (
        lambda w: "/data/datasets/applications/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider"},
    ),
    "dataset version": (
        lambda w: "/data/datasets/applications/versions/1/",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider"},
    ),
    "new dataset": (lambda w: "/data/datasets/new", {"admin", "owner", "outsider", "ci"}, set()),
    "new dataset version": (
        lambda w: "/data/datasets/applications/versions/new",
        {"admin", "owner", "ci"},
        {"outsider"},
    ),
    "new lineage run": (lambda w: "/data/lineage/runs/new", {"admin", "owner", "outsider", "ci"}, set()),
    "monitoring set-up": (
        lambda w: f"/models/{w.model.name}/versions/1/monitoring",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "monitoring source": (
        lambda w: f"/models/{w.model.name}/versions/1/monitoring/source",
        {"admin", "officer", "owner", "reviewer", "ci"},
        {"outsider", "regulator"},
    ),
    "subject lookup": (lambda w: "/data/subjects/", {"admin", "officer"}, set()),
    "subject": (lambda w: f"/data/subjects/{pseudonym(CONSENTING[0])}/", {"admin", "officer"}, set()),
    "subject access": (lambda w: f"/data/subjects/{pseudonym(CONSENTING[0])}/access", {"admin", "officer"}, set()),
    "subject erase": (lambda w: f"/data/subjects/{pseudonym(CONSENTING[0])}/erase", {"admin", "officer"}, set()),
    "trail": (lambda w: "/trail/", {"admin", "officer"}, set()),
    "trail event": (lambda w: "/trail/events/0/", {"admin", "officer"}, set()),
    "checkpoints": (lambda w: "/trail/checkpoints/", set(ALL), set()),
    "exports": (lambda w: "/exports/", {"admin", "officer", "regulator"}, set()),
    "shares": (lambda w: "/shares/", {"admin", "officer", "regulator"}, set()),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(PAGES))
def test_permission_ladder(page: str, cast: Cast, world: World) -> None:
    url_of, allowed, hidden = PAGES[page]
    url = url_of(world)

    anonymous = signed_in(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/?next=")

    for name in ALL:
        before = last_seq()
        response = signed_in(getattr(cast, name)).get(url)
        expected = 200 if name in allowed else 404 if name in hidden else 403
        assert response.status_code == expected, f"{name} on {url}: {response.status_code}"
        assert b"Traceback" not in response.content
        if expected == 403:
            # The refusal says which scope is missing, and it is recorded in the trail, as the API records it.
            assert b"scope" in response.content
            denied = Event.objects.filter(seq__gt=before, action="access.denied")
            assert denied.count() == 1, f"{name} on {url}"


def _portal_patterns() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append((prefix + str(pattern.pattern), pattern.callback))

    walk(get_resolver().url_patterns, "")
    return [
        (route, callback)
        for route, callback in found
        if not route.lstrip("^").startswith(
            ("api/", "admin/", ".well-known", "healthz", "readyz", "login/", "logout/", "sso/")
        )
    ]


def test_every_portal_page_declares_its_scopes() -> None:
    """Deny by default: a page added without a declared scope fails here, before anyone can reach it."""
    pages = _portal_patterns()
    assert len(pages) >= 20
    undeclared = [route for route, callback in pages if not getattr(callback, "required_scopes", None)]
    assert undeclared == []


@pytest.mark.django_db
def test_the_ladder_covers_every_page(cast: Cast, world: World) -> None:
    """Every route that answers GET is one of the pages above (POST-only routes are tested in test_forms.py)."""
    visited = {resolve(url_of(world).split("?")[0]).func for url_of, _, _ in PAGES.values()}
    # Pages of objects made in test_sharing.py (a bundle, a share) are laddered there.
    visited |= {resolve("/exports/1/").func, resolve("/shares/1/").func}
    unvisited = [
        route for route, callback in _portal_patterns() if "GET" in callback.required_scopes and callback not in visited
    ]
    assert unvisited == []
