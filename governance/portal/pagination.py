"""Moved to :mod:`governance.web.portal.pagination` (shared web plumbing); re-exported for old imports."""

from governance.web.portal.pagination import (
    paginate,
)

__all__ = [
    "paginate",
]
