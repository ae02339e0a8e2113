"""Rate limits count atomically: concurrent requests never get more than the limit through, on the local-memory
cache (one process) and on a real Redis shared by processes (``ASSAY_TEST_REDIS_URL``, set in CI)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIRequestFactory

from governance.access.throttling import PerTokenThrottle

REDIS_URL = os.environ.get("ASSAY_TEST_REDIS_URL", "")
LIMIT = 25


class Clock:
    """The throttle's timer, moved by the test."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Throttle(PerTokenThrottle):
    """The per-token throttle at a rate of LIMIT a minute, on a clock the test controls."""

    def __init__(self, clock: Clock, scope: str) -> None:
        self.timer = clock  # type: ignore[method-assign]
        self.rate = f"{LIMIT}/minute"
        self.scope = scope
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.cache = caches["default"]


def request() -> Any:
    made = APIRequestFactory().get("/api/v1/me")
    made.user = type("U", (), {"pk": 7})()
    return made


def hammer(clock: Clock, scope: str, *, threads: int = 8, each: int = 20) -> int:
    """How many of threads x each concurrent requests the throttle let through."""
    allowed = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        nonlocal allowed
        start.wait()
        for _ in range(each):
            if Throttle(clock, scope).allow_request(request(), None):
                with lock:
                    allowed += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return allowed


@pytest.fixture(params=["local-memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    # Each use counts under its own key prefix and removes only its own keys: the Redis database is shared with
    # the other test worker (and the job tests' broker), so flushing it here let a concurrent test's flush reset
    # this count mid-hammer (75 let through against a limit of 25 in one CI run).
    prefix = f"rate-limit-test-{uuid.uuid4().hex}"
    if request.param == "local-memory":
        config = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    else:
        if not REDIS_URL:
            pytest.skip("set ASSAY_TEST_REDIS_URL (CI does) to count against a real Redis")
        config = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}
    with override_settings(CACHES={"default": config}):
        yield request.param
        if request.param == "redis":
            client = caches["default"]._cache.get_client(write=True)
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        else:
            caches["default"].clear()


def test_concurrent_requests_never_pass_more_than_the_limit(backend: str) -> None:
    assert hammer(Clock(), f"race-{backend}") == LIMIT


def test_the_window_slides_and_wait_says_when_a_place_frees(backend: str) -> None:
    clock = Clock()
    scope = f"slide-{backend}"
    for step in range(LIMIT):
        clock.now = 1_000_000.0 + step  # one request a second
        assert Throttle(clock, scope).allow_request(request(), None)
    clock.now = 1_000_000.0 + 30
    refused = Throttle(clock, scope)
    assert not refused.allow_request(request(), None)
    assert refused.wait() == pytest.approx(30.0)  # the first request leaves the minute at t + 60
    clock.now = 1_000_000.0 + 60  # exactly a minute after the first: it no longer counts (DRF's rule, <=)
    assert Throttle(clock, scope).allow_request(request(), None)
    assert not Throttle(clock, scope).allow_request(request(), None)  # the second still counts until t + 61
