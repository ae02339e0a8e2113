"""Refuse oversized API bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from governance.web.api.errors import API_PREFIX, json_error

_MULTIPART_OVERHEAD = 1024 * 1024  # room for the metadata field and multipart boundaries


class ApiBodyLimitMiddleware:
    """413 for API requests whose declared body exceeds the view's limit (``max_body_bytes``) or the default.

    Upload views name the setting of their larger limit in ``max_body_setting``; everything else gets
    ``API_MAX_BODY_BYTES``. A body
    without Content-Length is bounded by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` when it is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        # path_info, not path: behind a URL prefix (SCRIPT_NAME) the API still starts at /api/.
        if not request.path_info.startswith(API_PREFIX):
            return None
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return json_error(request, 400, "bad_request", f"Content-Length {raw_length!r} is not a number.")
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        limit = settings.API_MAX_BODY_BYTES
        if view_class is not None and getattr(view_class, "max_body_setting", None):
            # Upload views name the setting of their file limit; multipart framing adds a little on top.
            limit = getattr(settings, view_class.max_body_setting) + _MULTIPART_OVERHEAD
        if length > limit:
            return json_error(
                request,
                413,
                "payload_too_large",
                f"The request body is {length} bytes; this endpoint accepts at most {limit} bytes.",
            )
        return None
