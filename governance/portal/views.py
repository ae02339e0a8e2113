"""Portal pages of the governance app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.access.roles import SCOPES, scopes_for
from governance.trail.checkpoints import latest_checkpoint
from governance.trail.log import tree_size


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's role, what it allows, and the state of the trail."""
    user = request.user
    scopes = sorted(scopes_for(user.role))  # type: ignore[union-attr]
    return render(
        request,
        "portal/home.html",
        {
            "scopes": [(scope, SCOPES[scope]) for scope in scopes],
            "trail_size": tree_size(),
            "checkpoint": latest_checkpoint(),
        },
    )
