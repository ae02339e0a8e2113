"""The evidence imports plug into the registry's version pages (its API and portal routes, and a panel on the
version page) through ``registry.hooks``, so the registry does not import them."""

from __future__ import annotations

from audits.evidence.api import API_ROUTES
from audits.evidence.portal import PORTAL_ROUTES, evidence_panel
from registry import hooks


def register() -> None:
    """Add the routes and the panel once (``AppConfig.ready`` may run more than once in tests)."""
    for routes, extra in ((hooks.API_ROUTES, API_ROUTES), (hooks.PORTAL_ROUTES, PORTAL_ROUTES)):
        known = {route.name for route in routes}
        routes.extend(route for route in extra if route.name not in known)
    hooks.VERSION_PANELS["imported_evidence"] = evidence_panel
