"""My tokens: the signed-in person's API tokens, issued, listed and revoked in the portal.

The same actions as the API's ``/api/v1/tokens/`` (``do_issue_token``, ``do_revoke_token``), so the same rules
and trail events: only the token's hash is stored, the token itself is shown once, on the page that answers its
creation (never stored in the session, never sent again); a token has its owner's role's scopes, or only their
read scopes. This page lists and revokes one's own tokens only: another person's answers 404, as in the API for
whoever lacks ``tokens:manage``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from governance.access.actions import ActionError, do_issue_token, do_revoke_token
from governance.access.models import ApiToken
from governance.access.roles import SCOPES, scopes_for
from governance.access.scoping import get_visible_or_404
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view, refusal
from governance.web.portal.pagination import paginate

READ_WRITE, READ_ONLY = "read_write", "read_only"


class TokenForm(forms.Form):
    """A new token: a name to tell it apart, what it may do, and how long it lives (the API's limits)."""

    name = forms.CharField(
        label="Name", max_length=100, required=False, help_text="To tell your tokens apart, e.g. the laptop's CI job."
    )
    access = forms.ChoiceField(
        label="What it may do",
        choices=[
            (READ_WRITE, "Everything my role may do"),
            (READ_ONLY, "Read only (the :read scopes of my role)"),
        ],
        initial=READ_WRITE,
        widget=forms.RadioSelect,
    )
    days = forms.IntegerField(
        label="Lifetime in days",
        min_value=1,
        max_value=3650,
        required=False,
        initial=90,
        help_text="1 to 3650; empty for a token that never expires (revoke it when it is no longer needed).",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=200, required=False)


def _scope_rows(role: str) -> list[tuple[str, str, bool]]:
    """Each scope of ``role``: (scope, what it allows, kept by a read-only token)."""
    read = scopes_for(role, read_only=True)
    return [(scope, SCOPES[scope], scope in read) for scope in sorted(scopes_for(role))]


def _page(request: HttpRequest, form: TokenForm, **extra: Any) -> HttpResponse:
    user = portal_user(request)
    status = extra.pop("status", 200)
    tokens = paginate(request, ApiToken.objects.filter(user=user).order_by("-created_at", "-pk"))
    context = {
        "form": form,
        "tokens": tokens,
        "page": tokens,
        "now": timezone.now(),
        "can_issue": may(request, "tokens:self"),
        "scope_rows": _scope_rows(user.role),
        **extra,
    }
    response = render(request, "portal/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a page that may show a token once is never kept by a cache
    return response


@portal_view(GET="meta:read", POST="tokens:self")
def tokens(request: HttpRequest) -> HttpResponse:
    """List your tokens; POST issues one through ``do_issue_token`` and shows it, once."""
    if request.method != "POST":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, error="Please correct the problems marked below.", status=400)
    data = form.cleaned_data
    try:
        issued = do_issue_token(
            user=portal_user(request),
            actor=Actor.from_request(request),
            name=data["name"],
            read_only=data["access"] == READ_ONLY,
            days=data["days"],
        )
    except ActionError as exc:
        error, status = refusal(request, exc)
        return _page(request, form, error=error, status=status)
    return _page(request, TokenForm(), issued=issued, status=201)


@portal_view(POST="tokens:self")
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of your tokens through ``do_revoke_token``; it is refused from the next request on."""
    user = portal_user(request)
    token = get_visible_or_404(ApiToken.objects.filter(user=user), user, request, pk=pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        return _page(
            request, TokenForm(), error=f"Token {token.hint}…: the reason has at most 200 characters.", status=400
        )
    try:
        do_revoke_token(token=token, actor=Actor.from_request(request), reason=form.cleaned_data["reason"])
    except ActionError as exc:
        error, status = refusal(request, exc)
        return _page(request, TokenForm(), error=f"Token {token.hint}…: {error}", status=status)
    messages.success(request, f"Token {token.hint}… {('(' + token.name + ') ') if token.name else ''}is revoked.")
    return redirect("portal:tokens")
