"""What every portal page knows: the signed-in user's scopes, to show only the sections their role opens."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from governance.access.permissions import caller_scopes

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
)


def portal(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``scopes`` (a set) and ``navigation`` (the links this role may follow)."""
    if request.path_info.startswith("/api/"):
        return {}
    scopes = caller_scopes(request) if getattr(request, "user", None) is not None else frozenset()
    return {
        "scopes": scopes,
        "navigation": [(label, name) for label, name, scope in NAVIGATION if scope in scopes],
    }
