"""One JSON error shape for every way a request can fail, and the limits that protect the server.

Each refusal is checked for its status, its body (the ``{"error": {code, message, details}}`` envelope) and its
side effects: a refused write creates nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from governance.access.models import ApiToken
from tests.api import assert_error, db_state, events_since, last_seq
from tests.api.urls_boom import SECRET
from tests.conftest import PASSWORD, Cast

TOKENS = "/api/v1/tokens/"


def post_raw(client: APIClient, body: str | bytes, content_type: str = "application/json", **extra: Any) -> Any:
    return client.generic("POST", TOKENS, body, content_type=content_type, **extra)


def refused_write(response: Any, status: int, code: str, before: dict) -> dict[str, Any]:
    """Assert the error envelope, and that the refused request created nothing."""
    error = assert_error(response, status, code)
    assert db_state() == before
    return error


# --- bodies the API cannot use ---------------------------------------------------------------------------------


def test_malformed_json_answers_400_malformed_request(cast: Cast) -> None:
    before = db_state()
    error = refused_write(post_raw(cast.owner.client(), '{"name": '), 400, "malformed_request", before)
    assert "JSON parse error" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"name": "laptop"}'),
        ("application/x-www-form-urlencoded", "name=laptop"),
        ("application/xml", "<token><name>laptop</name></token>"),
    ],
)
def test_a_body_that_is_not_json_answers_415(cast: Cast, content_type: str, body: str) -> None:
    before = db_state()
    error = refused_write(post_raw(cast.owner.client(), body, content_type), 415, "unsupported_media_type", before)
    assert content_type in error["message"]


def test_an_unknown_field_answers_422_naming_the_field(cast: Cast) -> None:
    before = db_state()
    response = post_raw(cast.owner.client(), json.dumps({"nmae": "laptop"}))
    error = refused_write(response, 422, "validation_failed", before)
    assert error["details"] == {"nmae": ["This field is not recognised."]}
    assert error["message"] == "nmae: This field is not recognised."


def test_wrong_types_answer_422_with_an_error_per_field(cast: Cast) -> None:
    before = db_state()
    response = post_raw(cast.owner.client(), json.dumps({"name": "laptop", "days": "soon", "read_only": "perhaps"}))
    error = refused_write(response, 422, "validation_failed", before)
    assert set(error["details"]) == {"days", "read_only"}
    assert error["details"]["days"] == ["A valid integer is required."]
    field, _, message = error["message"].partition(": ")
    assert field in error["details"]
    assert message == error["details"][field][0]


@pytest.mark.parametrize(
    "body", ["[]", '[{"name": "laptop"}]', '"laptop"', "42"], ids=["empty-list", "list", "string", "number"]
)
def test_json_that_is_not_an_object_answers_422(cast: Cast, body: str) -> None:
    before = db_state()
    error = refused_write(post_raw(cast.owner.client(), body), 422, "validation_failed", before)
    assert error["message"].startswith("Expected a JSON object, got ")
    assert list(error["details"]) == ["non_field_errors"]


# --- body size -------------------------------------------------------------------------------------------------


def _padded_token_request(size: int) -> str:
    """A valid request body of exactly ``size`` bytes (JSON allows any amount of whitespace)."""
    body = '{"name": "laptop"}'
    return body[:-1] + " " * (size - len(body)) + "}"


@override_settings(API_MAX_BODY_BYTES=2048)
def test_a_body_over_the_limit_answers_413_and_creates_nothing(cast: Cast) -> None:
    before = db_state()
    error = refused_write(post_raw(cast.owner.client(), _padded_token_request(2049)), 413, "payload_too_large", before)
    assert "2049 bytes" in error["message"]
    assert "at most 2048 bytes" in error["message"]


@override_settings(API_MAX_BODY_BYTES=2048)
def test_a_body_at_the_limit_is_accepted(cast: Cast) -> None:
    response = post_raw(cast.owner.client(), _padded_token_request(2048))
    assert response.status_code == 201
    assert ApiToken.objects.filter(pk=response.json()["id"], name="laptop").exists()


def test_the_default_body_limit_is_the_configured_one(cast: Cast) -> None:
    size = settings.API_MAX_BODY_BYTES + 1
    before = db_state()
    refused_write(post_raw(cast.owner.client(), _padded_token_request(size)), 413, "payload_too_large", before)


def test_a_content_length_that_is_not_a_number_answers_400(cast: Cast) -> None:
    before = db_state()
    response = post_raw(cast.owner.client(), '{"name": "laptop"}', CONTENT_LENGTH="lots")
    error = refused_write(response, 400, "bad_request", before)
    assert "'lots'" in error["message"]


@override_settings(API_MAX_BODY_BYTES=2048)
def test_the_body_limit_holds_when_served_under_a_url_prefix(cast: Cast) -> None:
    before = db_state()
    response = post_raw(cast.owner.client(), _padded_token_request(4096), SCRIPT_NAME="/assay")
    refused_write(response, 413, "payload_too_large", before)


# --- not found, server errors, bad hosts -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/", "/api/v1/nope", "/api/v2/teams/", "/api/v1/teams/x/y/z"])
def test_an_unknown_api_path_answers_a_json_404(db: Any, anonymous: APIClient, path: str) -> None:
    error = assert_error(anonymous.get(path), 404, "not_found")
    assert path in error["message"]


def test_an_unknown_object_answers_a_json_404_without_a_recorded_refusal(cast: Cast) -> None:
    seq = last_seq()
    assert_error(cast.owner.client().get("/api/v1/teams/no-such-team/"), 404, "not_found")
    assert events_since(seq) == []


def test_an_unknown_portal_path_answers_an_html_404(db: Any) -> None:
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.fixture
def crashing_client(cast: Cast) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {cast.owner.token}")
    return client


@pytest.mark.urls("tests.api.urls_boom")
@pytest.mark.parametrize("path", ["/api/v1/boom", "/api/plain-boom"], ids=["drf-view", "django-view"])
def test_an_unexpected_error_answers_a_json_500_without_the_traceback(crashing_client: APIClient, path: str) -> None:
    response = crashing_client.get(path)
    error = assert_error(response, 500, "server_error")
    assert "retry" in error["message"]
    for leak in (SECRET, "RuntimeError", "Traceback", "urls_boom"):
        assert leak not in response.content.decode()


@pytest.mark.urls("tests.api.urls_boom")
def test_an_unexpected_error_in_the_portal_answers_the_html_500_page(crashing_client: APIClient) -> None:
    response = crashing_client.get("/boom")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert SECRET not in response.content.decode()


def test_a_host_not_allowed_answers_a_json_400(cast: Cast) -> None:
    response = cast.owner.client().get("/api/v1/me", HTTP_HOST="evil.example")
    assert_error(response, 400, "bad_request")


# --- throttling ------------------------------------------------------------------------------------------------


@pytest.fixture
def two_requests_a_minute(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # DRF copies DEFAULT_THROTTLE_RATES onto the throttle class when it is first imported, so overriding the
    # REST_FRAMEWORK setting in a test does not reach it: the class attribute is what has to change.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": "2/minute"})
    cache.clear()  # the request history lives in the cache
    yield
    cache.clear()


@pytest.mark.usefixtures("two_requests_a_minute")
def test_too_many_requests_answer_429_with_the_wait(cast: Cast) -> None:
    client = cast.owner.client()
    assert [client.get("/api/v1/me").status_code for _ in range(2)] == [200, 200]
    before = db_state()
    response = client.post(TOKENS, {}, format="json")
    error = refused_write(response, 429, "throttled", before)
    wait = error["details"]["retry_after_seconds"]
    assert isinstance(wait, int)
    assert 1 <= wait <= 60
    assert int(response["Retry-After"]) == wait


@pytest.mark.usefixtures("two_requests_a_minute")
def test_one_callers_throttle_does_not_slow_another(cast: Cast) -> None:
    for _ in range(3):
        cast.owner.client().get("/api/v1/me")
    assert cast.owner.client().get("/api/v1/me").status_code == 429
    assert cast.reviewer.client().get("/api/v1/me").status_code == 200


@pytest.mark.usefixtures("two_requests_a_minute")
@pytest.mark.parametrize("header", [None, "Bearer assay_guessed-token"], ids=["no-credentials", "bad-token"])
def test_anonymous_callers_are_throttled_too(db: Any, header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    statuses = [client.get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# --- portal sign-in and lockout --------------------------------------------------------------------------------

LOCKED_OUT = "Too many failed sign-in attempts"


def _sign_in(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_signing_in_with_the_right_password_after_a_few_mistakes_works(cast: Cast) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = _sign_in(client, "omar", "wrong password")
        assert failed.status_code == 200
        assert b"did not match" in failed.content
    response = _sign_in(client, "omar", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _signed_in_as(client) == str(cast.owner.user.pk)


def test_too_many_failures_lock_the_account_out_even_with_the_right_password(cast: Cast) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "omar", "wrong password")
    response = _sign_in(client, "omar", PASSWORD)
    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()
    assert _signed_in_as(client) is None
    # The lock is on this user from this address, not on everyone at the address.
    assert _sign_in(Client(), "rhea", PASSWORD).status_code == 302


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options", "head"])
def test_an_unknown_api_path_answers_a_json_404_on_every_method_with_csrf_enforced(db: Any, method: str) -> None:
    # A browser-like client (CSRF enforced): a POST here used to get Django's HTML CSRF page (403).
    response = getattr(Client(enforce_csrf_checks=True), method)("/api/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    if method != "head":
        assert response.json()["error"]["code"] == "not_found"


def test_a_refused_csrf_token_under_the_api_answers_json(cast: Cast) -> None:
    # A signed-in portal session without the CSRF token, writing through the API.
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.owner.user)
    before = db_state()
    response = client.post("/api/v1/teams/", {"slug": "x", "name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] in {"csrf_failed", "permission_denied"}
    assert db_state() == before
