"""``Authorization: Bearer <token>`` for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from governance.access.models import ApiToken, hash_token
from governance.access.throttling import refuse_if_throttled

# last_used_at is written at most this often per token, so reads do not turn into a write per request.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class BearerTokenAuthentication(BaseAuthentication):
    """Looks the token up by its hash; a revoked or expired token fails on the very next request."""

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            refuse_if_throttled(request)
            raise exceptions.AuthenticationFailed("The token contains characters that no Assay token has.") from None
        token = ApiToken.objects.select_related("user").filter(digest=hash_token(raw)).first()
        now = timezone.now()
        problem = None
        if token is None:
            problem = "The token is not valid."
        elif token.revoked_at is not None:
            problem = "The token has been revoked."
        elif token.expires_at is not None and token.expires_at <= now:
            problem = "The token has expired."
        elif not token.user.is_active:
            problem = "The token's user is deactivated."
        if problem is not None or token is None:
            # Failed attempts count against the address, so tokens cannot be guessed at full speed.
            refuse_if_throttled(request)
            raise exceptions.AuthenticationFailed(problem)
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated requests.
        return 'Bearer realm="assay"'
