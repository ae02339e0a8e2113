"""Logging for people reading the console: an expected refusal is one line, an error keeps its traceback."""

from __future__ import annotations

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """Drops the traceback Django attaches to a 4xx it logs on ``django.request`` (PermissionDenied raised by a
    portal view, a 404): the refusal is expected, its line says what and where, and the trail records it. 5xx
    records keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info, record.exc_text = None, None
        return True
