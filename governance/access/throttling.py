"""Throttling for callers without valid credentials.

DRF checks permissions before throttles, so a request without a token (401) or with a wrong one never reaches
the throttles: token guessing would be unlimited. These helpers count such requests per client address at the
``anon`` rate before refusing them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle


class UnauthenticatedThrottle(SimpleRateThrottle):
    """Per-address rate for requests that present no valid credential (never looks at request.user)."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": "unauthenticated", "ident": self.get_ident(request)}


def refuse_if_throttled(request: Any, view: Any = None) -> None:
    """Raise 429 when this address has sent too many unauthenticated requests."""
    throttle = UnauthenticatedThrottle()
    if not throttle.allow_request(request, view):
        raise exceptions.Throttled(wait=throttle.wait())


class PerTokenThrottle(SimpleRateThrottle):
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
