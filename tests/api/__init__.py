"""Helpers shared by the API and access tests: the JSON error shape, the API's endpoints, and the database state.

``api_endpoints()`` walks the real URLconf, so a test parametrized over it covers a new endpoint the day it is
added. ``db_state()`` lets a test say "this refused request changed nothing" without listing what it might
have changed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from governance.access.models import ApiToken
from governance.api.views import api_not_found
from governance.trail.models import Event, MerkleNode

API_V1 = "/api/v1/"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
HTTP_METHODS = ("GET", *WRITE_METHODS)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is the API's JSON error envelope with ``status`` (and ``code``); return its error."""
    body = response.content.decode("utf-8", "replace")
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {body[:500]}"
    content_type = response["Content-Type"]
    assert re.match(r"application/([\w.]+\+)?json", content_type), f"not JSON ({content_type}): {body[:500]}"
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str), error
    assert error["message"].strip(), error
    assert isinstance(error["details"], dict | list), error
    if code is not None:
        assert error["code"] == code, error
    assert "Traceback" not in body
    return error


@dataclass(frozen=True)
class Endpoint:
    """One route of the API, as the URLconf declares it."""

    name: str  # "namespace:name", what reverse() takes
    route: str  # "/api/v1/teams/<slug:slug>/"
    view: type | None  # the DRF view class, or None for a plain Django view
    kwargs: tuple[str, ...]  # names of the path's parameters

    @property
    def implemented_methods(self) -> tuple[str, ...]:
        """The HTTP methods the view has a handler for (HEAD and OPTIONS aside)."""
        return tuple(m for m in HTTP_METHODS if self.view is not None and hasattr(self.view, m.lower()))

    @property
    def required_scopes(self) -> dict[str, str]:
        return dict(getattr(self.view, "required_scopes", None) or {})

    @property
    def openapi_path(self) -> str:
        """The route as the schema spells it: ``/api/v1/teams/{slug}/`` (DRF's generator calls ``{pk}`` ``{id}``)."""
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.route).replace("{pk}", "{id}")

    def __str__(self) -> str:
        return self.name


def api_endpoints(prefix: str = API_V1) -> list[Endpoint]:
    """Every route of the root URLconf under ``prefix``, walked recursively (the JSON 404 catch-all aside)."""
    found: list[Endpoint] = []

    def walk(patterns: list[Any], route: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                walk(pattern.url_patterns, route + str(pattern.pattern), inner)
                continue
            assert isinstance(pattern, URLPattern)
            full = "/" + route + str(pattern.pattern)
            if not full.startswith(prefix) or pattern.callback is api_not_found:
                continue
            callback = pattern.callback
            view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
            found.append(Endpoint(name=name, route=full, view=view, kwargs=tuple(pattern.pattern.regex.groupindex)))

    walk(get_resolver().url_patterns, "", "")
    return found


def drf_endpoints(prefix: str = API_V1) -> list[Endpoint]:
    """The endpoints served by DRF views (every one of them, if the API is built as it should be)."""
    return [e for e in api_endpoints(prefix) if e.view is not None and issubclass(e.view, APIView)]


def token_row(member: Any) -> ApiToken:
    """The stored row of a cast member's token (found by its hash, as the server finds it)."""
    return ApiToken.objects.get(digest=hashlib.sha256(member.token.encode()).hexdigest())


# Columns that change on every use without being a state change anyone asked for.
_VOLATILE = {"governance.apitoken": {"last_used_at"}, "governance.user": {"last_login"}}
_OUR_APPS = {"governance", "registry", "audits", "obligations"}


def db_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of Assay's apps, except refusals recorded in the trail (and their Merkle nodes).

    Two equal states mean a request changed nothing, apart from recording that it was refused.
    """
    state: dict[str, list[tuple[Any, ...]]] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:  # plain SQL: this runs twice per rung of the ladder, so it must be cheap
        for model in apps.get_models(include_auto_created=True):
            label = model._meta.label_lower
            if model._meta.app_label not in _OUR_APPS or model is MerkleNode:
                continue
            if model._meta.proxy or not model._meta.managed:
                continue  # the rows live in (and are compared through) another model's table
            volatile = _VOLATILE.get(label, set())
            columns = [f.column for f in model._meta.concrete_fields if f.name not in volatile]
            where = ""
            if model is Event:
                # Database triggers make the trail append-only, so its rows are known by their seq and action.
                columns, where = ["seq", "action"], " WHERE action <> 'access.denied'"
            table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
            cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {table}{where} ORDER BY {pk}")
            state[label] = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()
            ]
    return state


def last_seq() -> int:
    """The newest event's seq (-1 when the trail is empty): events after it are what a request recorded."""
    seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    return -1 if seq is None else seq


def events_since(seq: int, action: str | None = None) -> list[Event]:
    """Events recorded after ``seq``, oldest first, optionally of one action."""
    queryset = Event.objects.filter(seq__gt=seq).order_by("seq")
    if action is not None:
        queryset = queryset.filter(action=action)
    return list(queryset)
