"""An expected refusal is one log line, not two tracebacks (issue 19, item 8).

A portal page someone may not open raises PermissionDenied; Django logs it on ``django.request`` with the exception
attached. In development Django's own console handler on ``django`` printed that traceback and, as the record went
on to the root logger, Assay's console handler printed it again. These tests read what the configured handlers
(settings.LOGGING, as `make run` has them) actually write.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tests.conftest import Cast
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output(settings: object) -> Iterator[io.StringIO]:
    """Everything the configured stream handlers write while the test runs, with DEBUG on as in `make run`."""
    settings.DEBUG = True  # type: ignore[attr-defined]
    stream = io.StringIO()
    handlers = {
        handler
        for name in ("", "django", "django.request")
        for handler in logging.getLogger(name).handlers
        if type(handler) is logging.StreamHandler
    }
    assert handlers  # the console handlers of settings.LOGGING (and Django's own, when it keeps one)
    previous = {handler: handler.setStream(stream) for handler in handlers}
    try:
        yield stream
    finally:
        for handler, old in previous.items():
            handler.setStream(old)


def test_a_refused_page_logs_one_line_without_a_traceback(cast: Cast, log_output: io.StringIO) -> None:
    response = signed_in(cast.regulator).get("/approvals/")
    assert response.status_code == 403
    written = log_output.getvalue()
    assert written.count("Forbidden") == 1, written
    assert "Traceback" not in written


def test_a_server_error_still_logs_its_traceback(cast: Cast, log_output: io.StringIO) -> None:
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        logging.getLogger("django.request").exception("Internal Server Error: /x", extra={"status_code": 500})
    written = log_output.getvalue()
    assert written.count("Traceback") == 1, written
