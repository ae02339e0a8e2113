"""Moved to :mod:`governance.web.api.errors` (shared web plumbing); re-exported for old imports."""

from governance.web.api.errors import (
    API_PREFIX,
    PayloadTooLarge,
    Unprocessable,
    api_exception_handler,
    csrf_failure,
    error_body,
    handler400,
    handler403,
    handler404,
    handler500,
    json_error,
)

__all__ = [
    "API_PREFIX",
    "PayloadTooLarge",
    "Unprocessable",
    "api_exception_handler",
    "csrf_failure",
    "error_body",
    "handler400",
    "handler403",
    "handler404",
    "handler500",
    "json_error",
]
