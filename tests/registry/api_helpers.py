"""Helpers shared by the registry's HTTP API tests (test_api_*.py): URLs, clients, refusals and bodies."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast, Member

API = "/api/v1/models/"


def url(name: str, *rest: object) -> str:
    """``url("m")`` -> /api/v1/models/m/, ``url("m", "risk")`` -> /api/v1/models/m/risk,
    ``url("m", 1)`` -> /api/v1/models/m/versions/1/, ``url("m", 1, "approve")`` -> .../versions/1/approve."""
    if not rest:
        return f"{API}{name}/"
    if rest == ("versions",):
        return f"{API}{name}/versions/"
    if isinstance(rest[0], int):
        tail = "/".join(str(part) for part in rest[1:])
        return f"{API}{name}/versions/{rest[0]}/" + tail
    return f"{API}{name}/" + "/".join(str(part) for part in rest)


def client_of(cast: Cast, who: str) -> APIClient:
    return APIClient() if who == "anonymous" else getattr(cast, who).client()


def refused(
    response_of: Any, status: int, code: str | None = None, *, allowed_events: tuple[str, ...] = ("access.denied",)
) -> dict[str, Any]:
    """Send a request (``response_of()``) that must be refused; assert the error shape and that nothing changed."""
    before, seq = db_state(), last_seq()
    error = assert_error(response_of(), status, code)
    assert db_state() == before
    assert [e.action for e in events_since(seq) if e.action not in allowed_events] == []
    return error


def post(member: Member, path: str, body: dict[str, Any] | None = None) -> Any:
    return member.client().post(path, body or {}, format="json")
