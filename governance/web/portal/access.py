"""The portal's one access rule for pages: the same scopes as the API, checked the same way.

    @portal_view(GET="models:read", POST="models:approve")
    def version_page(request, name, number): ...

Anonymous visitors are sent to sign in; a role without the scope gets 403 (and the refusal is recorded in the trail,
as the API records it); a method the page does not map is refused (405). Objects are then looked up through the
apps' own access functions, so "not yours" and "not there" both answer 404, exactly as in the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from governance.access.actions import ActionError, do_record_access_denied
from governance.access.models import User
from governance.access.permissions import caller_scopes

View = Callable[..., HttpResponse]


def portal_view(**scopes: str) -> Callable[[View], View]:
    """Map each HTTP method a page answers to the one scope it needs (HEAD as GET); anything else is refused."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            method = "GET" if request.method == "HEAD" else (request.method or "GET")
            scope = scopes.get(method)
            if scope is None:
                return HttpResponseNotAllowed(sorted(scopes))
            if scope not in caller_scopes(request):
                do_record_access_denied(request, reason="missing_scope", scope=scope)
                raise PermissionDenied(
                    f"This needs the '{scope}' scope, which your role ({request.user.role}) does not have."  # type: ignore[union-attr]
                )
            return view(request, *args, **kwargs)

        guarded.required_scopes = dict(scopes)  # type: ignore[attr-defined]
        return guarded

    return decorate


def may(request: HttpRequest, scope: str) -> bool:
    """Whether the signed-in user's role holds ``scope`` (to decide which forms a page offers)."""
    return scope in caller_scopes(request)


def portal_user(request: HttpRequest) -> User:
    """The signed-in user, typed for the actions (views reach this only through ``portal_view``)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def set_choices(form: Any, name: str, choices: list[tuple[str, str]]) -> None:
    """Give a form's choice field its choices at request time (what this user may pick)."""
    field = form.fields[name]
    assert hasattr(field, "choices"), f"{name} is not a choice field"
    field.choices = choices


def refusal(request: HttpRequest, exc: ActionError) -> tuple[str, int]:
    """An action's refusal as (message for the person, HTTP status for the re-rendered page).

    A 403 is an authorization failure decided by the action's own rules (a role, a team, separation of duties): it
    is recorded in the trail as the API records it (``access.denied`` with the refusal's code as the reason).
    """
    status = exc.status if 400 <= exc.status < 500 else 422
    if status == 403:
        do_record_access_denied(request, reason=exc.code, scope="")
    return str(exc), status
