"""Helpers shared by the crash-recovery tests (test_crash_recovery*.py): the environment of a child process that
is killed for real, and waiting for what it does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """The environment of a process that works on this test's database (file SQLite or PostgreSQL)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DEBUG": "1",
        "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
    }


def wait_for(condition: Any, what: str, *, seconds: float = 120) -> None:
    """Poll ``condition`` (a deadline against a hung child, not a time the test measures)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
