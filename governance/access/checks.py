"""Deployment check: rate limits need a cache that every server process shares."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def shared_rate_limit_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warning ``assay.W010`` when throttling counts live in each process's own memory.

    DRF keeps its request counts in the default cache. With the local-memory cache every gunicorn worker counts
    alone, so a token may send ``GATE_RATE`` (and ``API_USER_RATE``, and the unauthenticated ``API_ANON_RATE`` that
    slows token guessing) once per worker: three times the configured rate with the recommended three workers.
    """
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith(("LocMemCache", "DummyCache")):
        return [
            checks.Warning(
                "Rate limits are counted per server process: the default cache is process-local memory, so each "
                "gunicorn worker allows the full GATE_RATE, API_USER_RATE and API_ANON_RATE on its own.",
                hint="Set CACHE_URL to a Redis every process shares, e.g. redis://127.0.0.1:6379/1.",
                id="assay.W010",
            )
        ]
    return []
