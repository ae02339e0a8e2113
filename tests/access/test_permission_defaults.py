"""Around the permission ladder (test_permission_ladder.py): lists filter through the same chokepoint as objects, a
method or a view without scopes is refused for everyone (deny by default), and what lies outside /api/v1/ needs a
login unless it is public.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast

# --- lists filter through the same chokepoint as objects ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "teams"),
    [
        ("owner", ["credit-risk"]),
        ("reviewer", ["credit-risk"]),
        ("outsider", ["hiring"]),
        ("read_only", ["credit-risk"]),
        ("officer", ["credit-risk", "hiring"]),
        ("admin", ["credit-risk", "hiring"]),
    ],
)
def test_the_team_list_shows_only_the_teams_a_caller_can_see(cast: Cast, name: str, teams: list[str]) -> None:
    body = cast.members()[name].client().get(reverse("api:team-list")).json()
    assert [team["slug"] for team in body["results"]] == teams
    assert body["count"] == len(teams)


# --- deny by default: a method the view implements but does not map ---------------------------------------------


class UnmappedView(APIView):
    """Maps GET; implements POST too, but forgot to map it."""

    required_scopes = {"GET": "meta:read"}

    def get(self, request: Any) -> Response:
        return Response({"ok": True})

    def post(self, request: Any) -> Response:  # pragma: no cover - must never run
        raise AssertionError("an unmapped method was served")


class NoScopesView(APIView):
    """Declares no scopes at all."""

    def get(self, request: Any) -> Response:  # pragma: no cover - must never run
        raise AssertionError("a view without required_scopes was served")


@pytest.mark.urls("tests.access.urls_unmapped")
def test_a_method_the_view_implements_but_does_not_map_is_refused_for_everyone(cast: Cast) -> None:
    for name, member in cast.members().items():
        client = member.client()
        assert client.get("/api/v1/unmapped").json() == {"ok": True}, name
        before, seq = db_state(), last_seq()
        error = assert_error(client.post("/api/v1/unmapped", {}, format="json"), 403, "permission_denied")
        assert "not mapped to a scope" in error["message"], name
        assert db_state() == before
        [denial] = events_since(seq, "access.denied")
        assert denial.payload == {
            "method": "POST",
            "path": "api/v1/unmapped",
            "reason": "unmapped_method",
            "scope": "",
        }


@pytest.mark.urls("tests.access.urls_unmapped")
def test_a_view_without_required_scopes_is_refused_for_everyone(cast: Cast, anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/v1/no-scopes"), 401, "not_authenticated")
    for name, member in cast.members().items():
        seq = last_seq()
        assert_error(member.client().get("/api/v1/no-scopes"), 403, "permission_denied")
        assert len(events_since(seq, "access.denied")) == 1, name


# --- outside /api/v1/ ------------------------------------------------------------------------------------------


def test_the_openapi_schema_needs_authentication(cast: Cast, anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/schema/?format=json"), 401, "not_authenticated")
    response = cast.regulator.client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Assay API"


def test_the_api_docs_need_authentication(cast: Cast, anonymous: APIClient) -> None:
    refused = anonymous.get("/api/docs/")
    assert refused.status_code == 401
    assert b"swagger" not in refused.content.lower()
    served = cast.regulator.client().get("/api/docs/")
    assert served.status_code == 200
    assert b"swagger-ui" in served.content


def test_health_and_published_keys_are_public(db: Any, anonymous: APIClient) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/.well-known/assay-keys").status_code == 200
