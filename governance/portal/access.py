"""Moved to :mod:`governance.web.portal.access` (shared web plumbing); re-exported for old imports."""

from governance.web.portal.access import (
    View,
    may,
    portal_user,
    portal_view,
    refusal,
    set_choices,
)

__all__ = [
    "View",
    "may",
    "portal_user",
    "portal_view",
    "refusal",
    "set_choices",
]
