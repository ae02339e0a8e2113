"""Moved to :mod:`governance.web.api.parsers` (shared web plumbing); re-exported for old imports."""

from governance.web.api.parsers import (
    MAX_DEPTH,
    SafeJSONParser,
    check_json_value,
)

__all__ = [
    "MAX_DEPTH",
    "SafeJSONParser",
    "check_json_value",
]
