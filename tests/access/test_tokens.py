"""API tokens: issued once and stored as a hash, seen only by their owner, refused the moment they stop being valid."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import ApiToken, User
from governance.trail.log import Actor
from governance.trail.models import Event
from tests.api import assert_error, db_state, events_since, last_seq, token_row
from tests.conftest import PASSWORD, Cast, Member, sha256_text

TOKENS = "/api/v1/tokens/"
TOKEN_FIELDS = {
    "id",
    "user",
    "name",
    "hint",
    "read_only",
    "created_at",
    "expires_at",
    "revoked_at",
    "revoke_reason",
    "last_used_at",
}


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def every_stored_value() -> str:
    """Every value of every row of every table, as one string (bytes read as Latin-1, so nothing is lost)."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                parts.extend(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row)
    return "\n".join(parts)


def issue_via_api(member: Member, **body: Any) -> dict[str, Any]:
    response = member.client().post(TOKENS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- issuing ---------------------------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_only_its_sha256_is_stored(cast: Cast) -> None:
    body = issue_via_api(cast.owner, name="laptop", days=7)
    raw = body.pop("token")
    assert raw.startswith("assay_")
    assert len(raw) > 40
    assert set(body) == TOKEN_FIELDS
    assert (body["user"], body["name"], body["read_only"], body["revoked_at"]) == ("omar", "laptop", False, None)
    assert body["hint"] == raw[:10]
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)

    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in every_stored_value()
    assert raw[:20] not in every_stored_value()  # not even a prefix longer than the hint

    # Never shown again: neither in the token's own page nor in the list.
    detail = cast.owner.client().get(f"{TOKENS}{body['id']}/")
    assert detail.status_code == 200
    assert set(detail.json()) == TOKEN_FIELDS
    assert raw not in cast.owner.client().get(TOKENS).content.decode()

    me = bearer(raw).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["token"]["id"] == body["id"]


def test_a_token_without_a_lifetime_defaults_to_90_days_and_null_means_never(cast: Cast) -> None:
    default = issue_via_api(cast.owner)
    expires_at = dt.datetime.fromisoformat(default["expires_at"])
    assert abs(expires_at - (timezone.now() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    assert issue_via_api(cast.owner, days=None)["expires_at"] is None


def test_a_read_only_token_issued_through_the_api_cannot_write(cast: Cast) -> None:
    body = issue_via_api(cast.owner, read_only=True)
    client = bearer(body["token"])
    assert client.get("/api/v1/me").json()["token"]["read_only"] is True
    before = db_state()
    assert_error(client.post(TOKENS, {}, format="json"), 403, "permission_denied")
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({"days": 0}, "days"), ({"days": 3651}, "days"), ({"user": "ada"}, "user"), ({"name": "x" * 101}, "name")],
    ids=["zero-days", "over-ten-years", "for-someone-else", "long-name"],
)
def test_a_token_request_with_a_bad_field_is_refused_and_issues_nothing(cast: Cast, body: dict, field: str) -> None:
    before = db_state()
    error = assert_error(cast.owner.client().post(TOKENS, body, format="json"), 422, "validation_failed")
    assert set(error["details"]) == {field}
    assert db_state() == before


def test_token_events_name_ids_and_never_people(db: Any) -> None:
    user = do_create_user(
        username="zelda.quartermain", email="zelda@example.org", role="owner", password=PASSWORD, actor=Actor.system()
    )
    first = do_issue_token(user=user, actor=Actor.system())
    client = bearer(first.raw)
    seq = last_seq()

    body = client.post(TOKENS, {"read_only": True, "days": 30}, format="json").json()
    client.delete(f"{TOKENS}{body['id']}/", {"reason": "lost laptop"}, format="json")

    issued, revoked = events_since(seq)
    assert (issued.action, issued.object_type) == ("token.issued", "governance.apitoken")
    assert issued.object_id == str(body["id"])
    assert issued.payload == {"user": user.pk, "read_only": True, "expires_at": issued.payload["expires_at"]}
    assert issued.payload["expires_at"].startswith(body["expires_at"][:16])
    assert (revoked.action, revoked.object_id) == ("token.revoked", str(body["id"]))
    assert revoked.payload == {"user": user.pk, "reason_sha256": sha256_text("lost laptop")}
    assert b"lost laptop" not in bytes(revoked.leaf)  # free text stays on the token row, erasable
    for event in (issued, revoked):
        assert (event.actor_kind, event.actor_user_id, event.actor_token_id) == ("token", user.pk, first.token.pk)
        for secret in ("zelda", "example.org", body["token"], first.raw):
            assert secret not in str(event.payload)
            assert secret.encode() not in bytes(event.leaf)


# --- who sees which tokens -------------------------------------------------------------------------------------


def test_the_list_shows_only_the_callers_own_tokens(cast: Cast) -> None:
    body = cast.owner.client().get(TOKENS).json()
    owners_tokens = set(ApiToken.objects.filter(user=cast.owner.user).values_list("pk", flat=True))
    assert len(owners_tokens) == 2  # the owner's full and read-only tokens
    assert {item["id"] for item in body["results"]} == owners_tokens
    assert {item["user"] for item in body["results"]} == {"omar"}
    assert body["count"] == 2


def test_an_admin_with_tokens_manage_sees_every_token(cast: Cast) -> None:
    body = cast.admin.client().get(TOKENS, {"page_size": 100}).json()
    assert body["count"] == ApiToken.objects.count()
    assert {item["id"] for item in body["results"]} == set(ApiToken.objects.values_list("pk", flat=True))


def test_someone_elses_token_is_not_found_and_stays_valid(cast: Cast) -> None:
    target = token_row(cast.owner)
    client = cast.outsider.client()
    before, seq = db_state(), last_seq()
    assert_error(client.get(f"{TOKENS}{target.pk}/"), 404, "not_found")
    assert_error(client.delete(f"{TOKENS}{target.pk}/"), 404, "not_found")
    assert db_state() == before
    assert [e.payload["reason"] for e in events_since(seq, "access.denied")] == ["out_of_scope", "out_of_scope"]
    assert cast.owner.client().get("/api/v1/me").status_code == 200


def test_a_token_that_does_not_exist_is_not_found_without_a_recorded_refusal(cast: Cast) -> None:
    seq = last_seq()
    assert_error(cast.outsider.client().get(f"{TOKENS}999999/"), 404, "not_found")
    assert events_since(seq) == []


def test_an_admin_can_revoke_anyones_token(cast: Cast) -> None:
    target = token_row(cast.outsider)
    response = cast.admin.client().delete(f"{TOKENS}{target.pk}/")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    target.refresh_from_db()
    assert target.revoked_at is not None
    assert_error(cast.outsider.client().get("/api/v1/me"), 401, "not_authenticated")


# --- tokens that stop being valid ------------------------------------------------------------------------------


def test_a_revoked_token_is_refused_on_the_very_next_request(cast: Cast) -> None:
    body = issue_via_api(cast.owner, name="ci-laptop")
    client = bearer(body["token"])
    assert client.get("/api/v1/me").status_code == 200

    response = client.delete(f"{TOKENS}{body['id']}/")  # a token may revoke itself
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None

    error = assert_error(client.get("/api/v1/me"), 401, "not_authenticated")
    assert "revoked" in error["message"]


def test_revoking_a_token_twice_is_refused(cast: Cast) -> None:
    body = issue_via_api(cast.owner)
    client = cast.owner.client()
    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 200
    seq = last_seq()
    error = assert_error(client.delete(f"{TOKENS}{body['id']}/"), 422, "refused")
    assert "already revoked" in error["message"]
    assert events_since(seq, "token.revoked") == []


def test_an_expired_token_is_refused(cast: Cast) -> None:
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    issued = do_issue_token(user=cast.owner.user, actor=Actor.system(), days=1, now=two_days_ago)
    error = assert_error(bearer(issued.raw).get("/api/v1/me"), 401, "not_authenticated")
    assert "expired" in error["message"]


def test_a_token_is_refused_from_the_moment_it_expires(cast: Cast) -> None:
    ApiToken.objects.filter(pk=token_row(cast.owner).pk).update(expires_at=timezone.now())
    error = assert_error(cast.owner.client().get("/api/v1/me"), 401, "not_authenticated")
    assert "expired" in error["message"]


def test_a_deactivated_users_tokens_are_refused(cast: Cast) -> None:
    User.objects.filter(pk=cast.owner.user.pk).update(is_active=False)
    for member in (cast.owner, cast.read_only):
        error = assert_error(member.client().get("/api/v1/me"), 401, "not_authenticated")
        assert "deactivated" in error["message"]


def test_using_a_token_records_when_it_was_last_used(cast: Cast) -> None:
    assert token_row(cast.owner).last_used_at is None
    cast.owner.client().get("/api/v1/me")
    last_used = token_row(cast.owner).last_used_at
    assert last_used is not None
    assert timezone.now() - last_used < dt.timedelta(minutes=1)


# --- read-only tokens ------------------------------------------------------------------------------------------


def test_a_read_only_token_can_read_but_not_issue_or_revoke(cast: Cast) -> None:
    client = cast.read_only.client()
    listed = client.get(TOKENS)
    assert listed.status_code == 200
    assert listed.json()["count"] == 2

    own = token_row(cast.read_only)
    before = db_state()
    for response in (client.post(TOKENS, {"name": "sneaky"}, format="json"), client.delete(f"{TOKENS}{own.pk}/")):
        error = assert_error(response, 403, "permission_denied")
        assert "read-only token" in error["message"]
    assert db_state() == before
    own.refresh_from_db()
    assert own.revoked_at is None


# --- the Authorization header ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "must be 'Bearer <token>'"),
        ("Bearer a b", "must be 'Bearer <token>'"),
        ("Bearer assay_\xe9t\xe9\xff", "characters"),  # bytes a client may send; the server sees them as Latin-1
        ("Bearer assay_not-a-real-token", "not valid"),
        ("Basic dXNlcjpwYXNz", "not provided"),
        ("Token assay_not-a-real-token", "not provided"),
        ("", "not provided"),
    ],
    ids=["no-token", "two-tokens", "non-ascii", "unknown-token", "basic", "other-scheme", "empty"],
)
def test_a_malformed_authorization_header_answers_401_never_500(db: Any, header: str, message: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    seq = last_seq()
    error = assert_error(client.get("/api/v1/me"), 401, "not_authenticated")
    assert message in error["message"]
    assert events_since(seq) == []


def test_the_bearer_scheme_is_case_insensitive(cast: Cast) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {cast.owner.token}")
    assert client.get("/api/v1/me").json()["username"] == "omar"


def test_a_portal_session_cannot_write_through_the_api_without_a_csrf_token(cast: Cast) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(cast.owner.user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/me").json()["token"] is None  # the session authenticates
    before = db_state()
    error = assert_error(client.post(TOKENS, {}, format="json"), 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert db_state() == before
    assert not Event.objects.filter(action="token.issued", actor_kind="user").exists()
