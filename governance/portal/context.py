"""What every portal page knows: the signed-in user's scopes, to show only the sections their role opens, and for a
regulator what is shared with them and until when (shown on every page they can open)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from governance.access.permissions import caller_scopes
from governance.access.roles import Role
from governance.exports.access import shares_visible_to
from governance.exports.models import Share

# Navigation: (label, URL name, the scope the page needs). The pages check the scope themselves; this only hides
# links that would answer 403.
NAVIGATION = (
    ("Dashboard", "portal:home", "meta:read"),
    ("Models", "registry-portal:model-list", "models:read"),
    ("Approvals", "registry-portal:approvals", "models:approve"),
    ("Audits", "audits-portal:run-list", "audits:read"),
    ("Data", "portal:dataset-list", "datasets:read"),
    ("Subjects", "portal:subject-lookup", "consent:read"),
    ("Trail", "portal:trail-events", "trail:read"),
    ("Checkpoints", "portal:checkpoints", "proofs:read"),
    ("Exports", "portal:exports", "exports:create"),
    ("Shares", "portal:shares", "exports:read"),
    ("My tokens", "portal:tokens", "tokens:self"),
    ("People", "portal:people", "users:manage"),
)


def portal(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``scopes`` (a set) and ``navigation`` (the links this role may follow)."""
    if request.path_info.startswith("/api/"):
        return {}
    scopes = caller_scopes(request) if getattr(request, "user", None) is not None else frozenset()
    return {
        "scopes": scopes,
        "navigation": [(label, name) for label, name, scope in NAVIGATION if scope in scopes],
        "regulator_shares": _regulator_shares(request),
    }


def _regulator_shares(request: HttpRequest) -> list[Any] | None:
    """A regulator's active shares (what they may see and until when), for the notice on every page they open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.role != Role.REGULATOR:
        return None

    active = Share.objects.active(timezone.now()).filter(pk__in=shares_visible_to(user).values("pk"))
    return list(active.select_related("model", "export").order_by("expires_at")[:10])
