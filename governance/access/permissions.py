"""DRF permission classes: each view maps every HTTP method it answers to the one scope it needs.

    class ModelList(APIView):
        required_scopes = {"GET": "models:read", "POST": "models:write"}

A method the view implements but does not map is refused for everyone (deny by default). HEAD and
OPTIONS need the GET scope. A refusal of an authenticated caller is recorded in the trail.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from governance.access.actions import do_record_access_denied
from governance.access.models import ApiToken, User
from governance.access.roles import scopes_for
from governance.access.throttling import refuse_if_throttled

_SAME_AS_GET = {"HEAD", "OPTIONS"}


def caller_scopes(request: Any) -> frozenset[str]:
    """The scopes of the request's credential: the token's (narrowed if read-only) or the session user's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return frozenset()
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiToken):
        return auth.scopes
    return scopes_for(user.role)


def required_scope(view: Any, method: str) -> str | None:
    """The scope ``view`` declares for ``method`` (None when it declares none)."""
    mapping: dict[str, str] = getattr(view, "required_scopes", {}) or {}
    return mapping.get("GET" if method in _SAME_AS_GET else method)


class ScopedPermission(BasePermission):
    """Grants a request when its credential holds the scope its view maps to the HTTP method."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            refuse_if_throttled(request, view)
            return False  # DRF answers 401, because an authenticator offers a WWW-Authenticate header
        method = request.method.upper()
        if method.lower() not in view.http_method_names or not hasattr(view, method.lower()):
            return True  # no handler: DRF answers 405
        scope = required_scope(view, method)
        if scope is None:
            self.message = f"{method} on this endpoint is not mapped to a scope, so it is refused."
            _record_denial(request, reason="unmapped_method", scope="")
            return False
        if scope not in caller_scopes(request):
            read_only = isinstance(request.auth, ApiToken) and request.auth.read_only
            self.message = (
                f"This needs the '{scope}' scope, which your "
                + ("read-only token" if read_only else f"role ({request.user.role})")
                + " does not have."
            )
            _record_denial(request, reason="missing_scope", scope=scope)
            return False
        return True


class AnyAuthenticated(ScopedPermission):
    """For views outside our control (the OpenAPI schema): any authenticated caller with ``meta:read``."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and "meta:read" in caller_scopes(request)


def _record_denial(request: Any, *, reason: str, scope: str) -> None:
    do_record_access_denied(request, reason=reason, scope=scope)


def caller(request: Any) -> User:
    """The authenticated user behind a request that passed ScopedPermission (typed for the actions)."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("caller() is for requests that passed authentication")
    return user
