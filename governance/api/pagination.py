"""Moved to :mod:`governance.web.api.pagination` (shared web plumbing); re-exported for old imports."""

from governance.web.api.pagination import (
    Pagination,
)

__all__ = [
    "Pagination",
]
