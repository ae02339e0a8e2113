"""Moved to :mod:`governance.web.api.negotiation` (shared web plumbing); re-exported for old imports."""

from governance.web.api.negotiation import (
    StrictFormatNegotiation,
)

__all__ = [
    "StrictFormatNegotiation",
]
