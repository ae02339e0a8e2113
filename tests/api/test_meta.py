"""What the API says about itself: who is calling, where to go, whether it is healthy, its keys and its schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from django.db import DatabaseError
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from governance.access.roles import scopes_for
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import load_signing_key
from governance.trail.models import SigningKey
from governance.trail.verifier import parse_verifier_key, verify_note
from tests.api import drf_endpoints, token_row
from tests.conftest import Cast

ME = "/api/v1/me"


# --- /api/v1/me ------------------------------------------------------------------------------------------------


def test_me_shows_role_teams_scopes_and_the_token(cast: Cast) -> None:
    body = cast.owner.client().get(ME).json()
    token = token_row(cast.owner)
    assert body == {
        "id": cast.owner.user.pk,
        "username": "omar",
        "role": "owner",
        "teams": ["credit-risk"],
        "scopes": sorted(scopes_for("owner")),
        "token": {"id": token.pk, "read_only": False, "expires_at": body["token"]["expires_at"]},
    }
    assert body["token"]["expires_at"].startswith(token.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_me_through_a_read_only_token_shows_only_read_scopes(cast: Cast) -> None:
    body = cast.read_only.client().get(ME).json()
    assert body["username"] == "omar"
    assert body["token"]["read_only"] is True
    assert body["token"]["id"] == token_row(cast.read_only).pk
    assert body["scopes"] == sorted(scopes_for("owner", read_only=True))
    assert all(scope.endswith(":read") for scope in body["scopes"])


@pytest.mark.parametrize("name", ["admin", "officer", "reviewer", "outsider", "regulator", "ci"])
def test_me_shows_each_roles_scopes_and_teams(cast: Cast, name: str) -> None:
    member = cast.members()[name]
    body = member.client().get(ME).json()
    assert body["role"] == member.user.role
    assert body["scopes"] == sorted(scopes_for(member.user.role))
    assert body["teams"] == sorted(member.user.teams.values_list("slug", flat=True))


def test_me_through_a_portal_session_has_no_token(cast: Cast) -> None:
    client = APIClient()
    client.force_login(cast.reviewer.user, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(ME).json()
    assert (body["username"], body["token"]) == ("rhea", None)
    assert body["scopes"] == sorted(scopes_for("reviewer"))


# --- the API root ----------------------------------------------------------------------------------------------


def _links(tree: dict[str, Any]) -> list[str]:
    found = []
    for value in tree.values():
        found.extend(_links(value) if isinstance(value, dict) else [value])
    return found


def test_the_api_root_links_to_where_to_go_next_and_every_link_answers(cast: Cast) -> None:
    issue_checkpoint(reason="test")  # so that the latest-checkpoint link has something to show
    body = cast.regulator.client().get("/api/v1/").json()
    assert set(body) == {"me", "teams", "tokens", "trail", "schema", "docs"}
    assert set(body["trail"]) == {"events", "checkpoints", "latest_checkpoint"}
    assert body["me"] == "http://testserver/api/v1/me"
    admin = cast.admin.client()
    for link in _links(body):
        assert link.startswith("http://testserver/")
        assert admin.get(link.removeprefix("http://testserver")).status_code == 200, link


# --- health ----------------------------------------------------------------------------------------------------


def test_healthz_answers_ok_to_anyone(db: Any, anonymous: APIClient) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


class _PendingMigrations:
    def __init__(self, connection: Any) -> None:
        self.loader = type("Loader", (), {"graph": type("Graph", (), {"leaf_nodes": lambda self: []})()})()

    def migration_plan(self, targets: Any) -> list[Any]:
        return [("governance", "0003_future"), ("registry", "0002_future")]


class _UnreachableDatabase:
    def __init__(self, connection: Any) -> None:
        raise DatabaseError("could not connect to server at 10.0.0.5 as user assay_admin")


def test_healthz_answers_503_while_migrations_are_pending(
    db: Any, anonymous: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("governance.api.views.MigrationExecutor", _PendingMigrations)
    response = anonymous.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "migrations": "2 not applied"}


def test_healthz_answers_503_without_details_when_the_database_is_unreachable(
    db: Any, anonymous: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("governance.api.views.MigrationExecutor", _UnreachableDatabase)
    response = anonymous.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
    assert b"10.0.0.5" not in response.content


# --- published verifier keys -----------------------------------------------------------------------------------


def test_no_key_is_published_before_the_first_checkpoint(db: Any, anonymous: APIClient) -> None:
    response = anonymous.get("/.well-known/assay-keys")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b""


def test_the_published_keys_verify_the_checkpoints(db: Any, anonymous: APIClient) -> None:
    checkpoint = issue_checkpoint(reason="test")
    assert checkpoint is not None
    response = anonymous.get("/.well-known/assay-keys")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines == [load_signing_key().verifier_key]
    assert lines == list(SigningKey.objects.values_list("verifier_key", flat=True))
    assert "PRIVATE" not in response.content.decode()

    keys = [parse_verifier_key(line) for line in lines]
    verify_note(checkpoint.note, keys=keys)  # raises when the note is not signed by a published key


def test_the_latest_checkpoint_is_served_as_a_signed_note_the_published_keys_verify(
    cast: Cast, anonymous: APIClient
) -> None:
    checkpoint = issue_checkpoint(reason="test")
    assert checkpoint is not None
    response = cast.regulator.client().get("/api/v1/trail/checkpoints/latest?format=note")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == checkpoint.note
    keys = [parse_verifier_key(line) for line in anonymous.get("/.well-known/assay-keys").content.decode().split()]
    verify_note(response.content.decode(), keys=keys)


# --- the OpenAPI schema and docs -------------------------------------------------------------------------------


@pytest.fixture
def schema(cast: Cast) -> dict[str, Any]:
    response = cast.regulator.client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Assay API"
    validate_schema(schema)  # raises jsonschema.ValidationError on an invalid document


def test_the_schema_lists_every_api_path_and_method(schema: dict[str, Any]) -> None:
    endpoints = drf_endpoints()
    assert endpoints
    missing = [
        f"{method} {endpoint.openapi_path}"
        for endpoint in endpoints
        for method in endpoint.implemented_methods
        if method.lower() not in schema["paths"].get(endpoint.openapi_path, {})
    ]
    assert not missing, f"the schema lacks {missing}"
    assert {p for p in schema["paths"] if p.startswith("/api/v1/")} == {e.openapi_path for e in endpoints}


def _api_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
    ]


def test_the_schema_documents_bearer_token_authentication(schema: dict[str, Any]) -> None:
    bearer = [
        name
        for name, scheme in schema["components"]["securitySchemes"].items()
        if scheme.get("type") == "http" and scheme.get("scheme") == "bearer"
    ]
    assert bearer, schema["components"]["securitySchemes"]
    for path, method, operation in _api_operations(schema):
        assert any(bearer[0] in requirement for requirement in operation["security"]), f"{method} {path}"


def test_the_schema_documents_every_success_response_body(schema: dict[str, Any]) -> None:
    undocumented = [
        f"{method.upper()} {path}"
        for path, method, operation in _api_operations(schema)
        if not any(code.startswith("2") and answer.get("content") for code, answer in operation["responses"].items())
    ]
    assert not undocumented, f"no documented response body: {undocumented}"


def test_the_schema_is_served_as_yaml_by_default(cast: Cast, schema: dict[str, Any]) -> None:
    response = cast.regulator.client().get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert json.loads(json.dumps(yaml.safe_load(response.content))) == schema


def test_the_docs_are_served_from_our_own_static_files(cast: Cast) -> None:
    response = cast.regulator.client().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in page
