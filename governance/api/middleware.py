"""Moved to :mod:`governance.web.api.middleware` (shared web plumbing); re-exported for old imports."""

from governance.web.api.middleware import (
    ApiBodyLimitMiddleware,
)

__all__ = [
    "ApiBodyLimitMiddleware",
]
