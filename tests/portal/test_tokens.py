"""My tokens in the portal (issue 19, item 1): issue (shown once), list, revoke, through the API's actions with the
API's trail events; the token works against the API, with its scopes, and stops working once revoked; only the
hash is stored; another person's token answers 404; bad input is refused naming the problem and changes nothing."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from governance.access.models import ApiToken, hash_token
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return response.content.decode("utf-8")


def shown_token(response: Any) -> str:
    found = re.search(r'data-testid="new-token">(assay_[A-Za-z0-9_-]+)<', text(response))
    assert found, text(response)[:3000]
    return found.group(1)


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_owner_makes_a_token_shown_once_hashed_and_working_with_the_apis_event(cast: Cast) -> None:
    before = last_seq()
    owner = signed_in(cast.owner)
    response = owner.post("/tokens/", {"name": "laptop", "access": "read_write", "days": "30"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    raw = shown_token(response)
    token = ApiToken.objects.get(name="laptop")
    assert token.digest == hash_token(raw)
    assert raw not in str(ApiToken.objects.values_list())
    assert (token.user, token.read_only) == (cast.owner.user, False)
    assert (token.expires_at - token.created_at).days == 30
    [event] = events_since(before)
    assert event.action == "token.issued"
    # The API's event for the same request: the same fields (its expiry is its own moment).
    api = cast.owner.client().post("/api/v1/tokens/", {"name": "api", "days": 30}, format="json")
    assert api.status_code == 201
    [api_event] = events_since(event.seq)
    assert api_event.action == event.action
    assert set(api_event.payload) == set(event.payload)
    assert (event.payload["user"], event.payload["read_only"]) == (cast.owner.user.pk, False)

    # It works against the API as the owner, with write scopes.
    me = bearer(raw).get("/api/v1/me").json()
    assert me["username"] == "omar"
    assert "models:write" in me["scopes"]
    # Listed afterwards by its first characters, never in full.
    page = text(owner.get("/tokens/"))
    assert token.hint in page
    assert raw not in page


def test_a_read_only_token_reads_and_cannot_write(cast: Cast) -> None:
    response = signed_in(cast.owner).post("/tokens/", {"name": "ro", "access": "read_only", "days": ""})
    raw = shown_token(response)
    token = ApiToken.objects.get(name="ro")
    assert (token.read_only, token.expires_at) == (True, None)
    client = bearer(raw)
    assert client.get("/api/v1/models/").status_code == 200
    assert all(scope.endswith(":read") for scope in client.get("/api/v1/me").json()["scopes"])
    refused = client.post("/api/v1/models/", {"name": "x"}, format="json")
    assert refused.status_code == 403


def test_revoking_stops_the_token_and_records_the_apis_event(cast: Cast) -> None:
    owner = signed_in(cast.owner)
    raw = shown_token(owner.post("/tokens/", {"name": "ci", "access": "read_write", "days": "90"}))
    token = ApiToken.objects.get(name="ci")
    before = last_seq()
    response = owner.post(f"/tokens/{token.pk}/revoke", {"reason": "laptop lost"})
    assert (response.status_code, response["Location"]) == (302, "/tokens/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoke_reason == "laptop lost"
    [event] = events_since(before)
    assert event.action == "token.revoked"
    assert set(event.payload) == {"user", "reason_sha256"}
    assert bearer(raw).get("/api/v1/me").status_code == 401
    assert "is revoked." in text(owner.get("/tokens/"))
    # Twice: refused in words, nothing changes.
    state = db_state()
    again = owner.post(f"/tokens/{token.pk}/revoke", {"reason": ""})
    assert again.status_code == 422
    assert "This token is already revoked." in text(again)
    assert db_state() == state


def test_another_persons_token_is_404_listed_nowhere_and_recorded(cast: Cast) -> None:
    theirs = ApiToken.objects.filter(user=cast.reviewer.user).first()
    assert theirs is not None
    before = last_seq()
    owner = signed_in(cast.owner)
    assert owner.post(f"/tokens/{theirs.pk}/revoke", {}).status_code == 404
    assert owner.post("/tokens/999999/revoke", {}).status_code == 404
    assert [e.payload["reason"] for e in events_since(before)] == ["out_of_scope"]  # the miss is not recorded
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert theirs.hint not in text(owner.get("/tokens/"))
    # An admin (tokens:manage) manages others' tokens through the API; this page is one's own, for them too.
    assert signed_in(cast.admin).post(f"/tokens/{theirs.pk}/revoke", {}).status_code == 404


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"name": "n" * 101, "access": "read_write", "days": "9"},
            "Name: Ensure this value has at most 100 characters",
        ),
        ({"name": "x", "access": "admin", "days": "9"}, "What it may do: Select a valid choice. admin is not one"),
        ({"name": "x", "access": "read_write", "days": "0"}, "Lifetime in days: Ensure this value is greater than or"),
        ({"name": "x", "access": "read_write", "days": "3651"}, "Lifetime in days: Ensure this value is less than or"),
        ({"name": "x", "access": "read_write", "days": "1e9"}, "Lifetime in days: Enter a whole number."),
        ({"name": "nul\x00", "access": "read_write", "days": "9"}, "Name: Null characters are not allowed."),
        ({"name": "<script>alert(1)</script>", "access": "<b>", "days": "9"}, "What it may do: Select a valid"),
    ],
    ids=["long-name", "scope", "zero-days", "too-long", "not-a-number", "nul", "hostile"],
)
def test_bad_token_requests_are_refused_in_words_and_change_nothing(
    cast: Cast, data: dict[str, str], problem: str
) -> None:
    state = db_state()
    response = signed_in(cast.owner).post("/tokens/", data)
    assert response.status_code == 400
    page = text(response)
    assert problem in page, page[:3000]
    assert "<script>alert(1)" not in page
    assert 'data-testid="new-token"' not in page
    assert db_state() == state


def test_an_oversized_revoke_reason_is_refused(cast: Cast) -> None:
    mine = ApiToken.objects.filter(user=cast.owner.user).first()
    assert mine is not None
    response = signed_in(cast.owner).post(f"/tokens/{mine.pk}/revoke", {"reason": "r" * 201})
    assert response.status_code == 400
    assert "the reason has at most 200 characters" in text(response)
    mine.refresh_from_db()
    assert mine.revoked_at is None


def test_a_regulator_sees_the_page_but_cannot_make_tokens(cast: Cast) -> None:
    before = last_seq()
    regulator = signed_in(cast.regulator)
    assert "Your role cannot make API tokens." in text(regulator.get("/tokens/"))
    assert regulator.post("/tokens/", {"name": "x", "access": "read_only", "days": "9"}).status_code == 403
    assert [e.action for e in events_since(before)] == ["access.denied"]
    assert not ApiToken.objects.filter(user=cast.regulator.user, name="x").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
def test_two_revokes_at_once_revoke_once(unprotected_trail: None, cast: Cast) -> None:
    token = ApiToken.objects.filter(user=cast.owner.user).first()
    assert token is not None
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def revoke() -> None:
        client = signed_in(cast.owner)
        barrier.wait()
        try:
            statuses.append(client.post(f"/tokens/{token.pk}/revoke", {"reason": "twice"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [302, 422]
    assert len(events_since(0, "token.revoked")) == 1
