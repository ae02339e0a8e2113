"""Rate limits whose counting is atomic, and throttling for callers without valid credentials.

DRF's throttles read a key's request history from the cache, append to it and write it back: two processes
reading the same history both allow their request, so a limit of 120 a minute let 130 through under load (1,476
against 1,200 for ``/me``). Here, with a Redis cache, the sliding-window log is kept in a sorted set that one Lua
script trims, counts and appends to, which Redis runs atomically. With the local-memory cache (one process, as in
development; ``check --deploy`` warns, assay.W010) DRF's own history is used under a lock.

DRF checks permissions before throttles, so a request without a token (401) or with a wrong one never reaches
the throttles: token guessing would be unlimited. ``refuse_if_throttled`` counts such requests per client address
at the ``anon`` rate before refusing them.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import exceptions
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

# KEYS[1]: the log; ARGV: now, window (s), limit, a unique member. Returns {1, 0} when allowed, else {0, oldest}.
_SLIDING_WINDOW = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, math.ceil(window) + 1)
return {1, '0'}
"""
_local_lock = threading.Lock()


class AtomicRateMixin:
    """Makes a ``SimpleRateThrottle``'s check-and-count one atomic step (see the module docstring)."""

    rate: str | None
    num_requests: int
    duration: int
    key: str | None
    history: list[float]

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)  # type: ignore[attr-defined]
        if self.key is None:
            return True
        now = self.timer()  # type: ignore[attr-defined]
        client = _redis_client(self.cache, self.key)  # type: ignore[attr-defined]
        if client is None:
            with _local_lock:
                return super().allow_request(request, view)  # type: ignore[misc]
        allowed, oldest = client.eval(
            _SLIDING_WINDOW,
            1,
            self.cache.make_key(self.key),  # type: ignore[attr-defined]
            repr(now),
            self.duration,
            self.num_requests,
            f"{now!r}:{secrets.token_hex(8)}",
        )
        self.now = now
        # wait() reads the history: its oldest entry is all it needs to say when the window frees a place.
        self.history = [] if int(allowed) else [float(oldest)] * self.num_requests
        return bool(int(allowed))


def _redis_client(cache: Any, key: str) -> Any:
    """The Redis client behind Django's Redis cache, or None for another backend."""
    if cache is default_cache:  # DRF's default: a proxy, resolved to this thread's current backend
        cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(key, write=True)


class AnonThrottle(AtomicRateMixin, AnonRateThrottle):
    """DRF's per-address rate for anonymous requests (``API_ANON_RATE``), counted atomically."""


class UserThrottle(AtomicRateMixin, UserRateThrottle):
    """DRF's per-user rate (``API_USER_RATE``), counted atomically."""


class UnauthenticatedThrottle(AtomicRateMixin, SimpleRateThrottle):
    """Per-address rate for requests that present no valid credential (never looks at request.user)."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": "unauthenticated", "ident": self.get_ident(request)}


def refuse_if_throttled(request: Any, view: Any = None) -> None:
    """Raise 429 when this address has sent too many unauthenticated requests."""
    throttle = UnauthenticatedThrottle()
    if not throttle.allow_request(request, view):
        raise exceptions.Throttled(wait=throttle.wait())


class PerTokenThrottle(AtomicRateMixin, SimpleRateThrottle):
    """A view's own rate per API token (per user for a portal session); the view names its ``throttle_scope``."""

    def __init__(self, scope: str = "gate") -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        token_id = getattr(getattr(request, "auth", None), "pk", None)
        ident = f"token-{token_id}" if token_id else f"user-{getattr(request.user, 'pk', None)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class GateThrottle(PerTokenThrottle):
    """The approval gate's rate per token (``GATE_RATE``)."""

    def __init__(self) -> None:
        super().__init__(scope="gate")
