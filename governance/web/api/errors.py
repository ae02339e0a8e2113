"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

DRF's exceptions, Django's 404/403/500, oversized bodies and throttling all come out in this shape, so a
pipeline can print ``error.message`` and a person can act on it. Nothing here ever includes a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from governance.access.actions import ActionError, do_record_access_denied

logger = logging.getLogger("assay.api")

API_PREFIX = "/api/"


class Unprocessable(exceptions.APIException):
    """Well-formed JSON whose content is wrong (unknown fields, wrong types, failed validation)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request body is not valid."
    default_code = "validation_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The stable error envelope."""
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "throttled",
}


def _first_message(detail: Any) -> str:
    """A one-line summary of a DRF error detail (a string, list or nested dict of field errors)."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if field in ("non_field_errors", "detail") else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _record_refusal(context: dict[str, Any], reason: str) -> None:
    """Record an action's authorization refusal (role, team, separation of duties) as the permission classes record
    a missing scope: an ``access.denied`` event, in its own transaction (the action's has been rolled back)."""
    request = context.get("request")
    if request is not None and getattr(request.user, "is_authenticated", False):
        do_record_access_denied(request, reason=reason, scope="")


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, re-shaped; validation errors become 422, malformed JSON stays 400."""
    if isinstance(exc, ActionError):
        if exc.status == 403:
            _record_refusal(context, exc.code)
        field = getattr(exc, "field", "")
        return Response(error_body(exc.code, str(exc), {field: [str(exc)]} if field else None), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        exc = _as_unprocessable(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers (JSON under /api/)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ParseError):
        code = "malformed_request"
    details: Any = detail if isinstance(detail, (dict, list)) else {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        details = {"retry_after_seconds": int(wait)}
    response.data = error_body(code, _first_message(detail), details)
    return response


def _as_unprocessable(exc: exceptions.ValidationError) -> Unprocessable:
    converted = Unprocessable(detail=exc.detail)
    converted.detail = exc.detail  # keep the per-field structure
    return converted


def json_error(request: HttpRequest, status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return json_error(request, 404, "not_found", f"No API endpoint at {request.path}.")

    return page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    """``CSRF_FAILURE_VIEW``: a JSON 403 under /api/ (clients there read JSON), Django's page elsewhere."""
    if _is_api(request):
        return json_error(request, 403, "csrf_failed", f"CSRF verification failed: {reason or 'no reason given'}.")

    return django_csrf_failure(request, reason=reason)


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return json_error(request, 403, "permission_denied", "You do not have permission to do this.")

    return permission_denied(request, exception or PermissionDenied())


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return json_error(request, 400, "bad_request", "The request could not be understood.")

    return bad_request(request, exception or SuspiciousOperation())


def handler500(request: HttpRequest) -> Any:
    if _is_api(request):
        return json_error(
            request, 500, "server_error", "Something went wrong on our side; it has been logged. Please retry later."
        )

    return server_error(request)
