"""Sign-in through the organisation's OpenID Connect provider: mozilla-django-oidc's code flow, made strict.

mozilla-django-oidc runs the Authorization Code flow: it sends ``state``, ``nonce`` and a PKCE challenge, keeps them
in the session under the state, and takes each state once (a second use of a callback is refused). On top of it
this backend:

- takes the endpoints from the provider's discovery document (``discovery``), not from one setting each;
- verifies the ID token fully: an asymmetric algorithm from ``OIDC_SIGN_ALGORITHMS``, a key from the provider's
  JWKS (fetched again when a key rotates in), the exact issuer, this client in the audience (and as ``azp`` when the
  audience holds several), ``exp`` and ``iat`` present and current, the nonce of this sign-in, and that nonce not
  seen before (the library itself checks the signature only, with neither issuer nor audience);
- links the provider's subject (``iss`` + ``sub``) to one user, never by e-mail or name;
- gives the role and teams that ``OIDC_ROLE_MAP`` and ``OIDC_TEAM_MAP`` read from the group claim, through the
  same actions (and so the same trail events) an administrator's change uses; a person whose groups map to no role
  is refused and gets nothing.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from governance.access.actions import ActionError, do_change_role, do_create_user, do_record_access_denied
from governance.access.models import User
from governance.access.oidc import discovery
from governance.access.oidc.events import USER_SIGNED_IN
from governance.access.oidc.models import ExternalIdentity
from governance.trail.log import Actor, record_event


class SignInRefused(Exception):
    """A sign-in refused, with a message for the person and a stable code (the page and the tests read it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# What mozilla-django-oidc reads through ``get_settings``: fixed here (PKCE and nonce are not optional), from the
# discovery document (endpoints), or from Assay's settings (docs/sso.md).
_FIXED: dict[str, Any] = {
    "OIDC_USE_PKCE": True,
    "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
    "OIDC_USE_NONCE": True,
    "OIDC_STORE_ID_TOKEN": True,  # the id_token_hint of RP-initiated logout
    "OIDC_STORE_ACCESS_TOKEN": False,
    "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc:callback",
    "OIDC_ALLOW_UNSECURED_JWT": False,
}
_ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(attr: str, *args: Any) -> Any:
    """A setting as mozilla-django-oidc asks for it (its views and backend call this instead of Django's)."""
    if attr in _FIXED:
        return _FIXED[attr]
    if attr in _ENDPOINTS:
        return discovery.endpoint(_ENDPOINTS[attr])
    if attr == "OIDC_TOKEN_USE_BASIC_AUTH":
        return settings.OIDC_TOKEN_AUTH == "client_secret_basic"  # noqa: S105 - a method name, not a secret
    if attr == "OIDC_TIMEOUT":
        return settings.OIDC_TIMEOUT_SECONDS
    if attr == "LOGIN_REDIRECT_URL_FAILURE":
        return reverse("portal:login")
    return import_from_settings(attr, *args)


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (Keycloak's realm roles are ``realm_access.roles``); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def groups_of(claims: dict[str, Any]) -> set[str]:
    """The group (or role) names in ``OIDC_GROUPS_CLAIM``: a list of strings, or one space-separated string."""
    value = claim(claims, settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def map_claims(claims: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(role, teams) the claims give: the first ``OIDC_ROLE_MAP`` group the person is in, every mapped team."""
    groups = groups_of(claims)
    role = next((role for group, role in settings.OIDC_ROLE_MAP if group in groups), None)
    teams = sorted({team for group, team in settings.OIDC_TEAM_MAP if group in groups})
    return role, teams


class OIDCBackend(OIDCAuthenticationBackend):
    """Answers only the sign-in callback (it is asked, and declines, on every password sign-in too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the library's __init__: it reads every endpoint, and Django builds each backend for every password
        # sign-in as well; a provider that is down must not stop the break-glass password sign-in.
        self.UserModel = get_user_model()

    get_settings = staticmethod(oidc_setting)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str | None:
        return oidc_setting("OIDC_OP_TOKEN_ENDPOINT")

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str | None:
        return oidc_setting("OIDC_OP_USER_ENDPOINT")

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_RP_CLIENT_SECRET)

    def get_user(self, user_id: Any) -> Any:
        """The session's user, while active (the library's own would keep a deactivated person signed in)."""
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(self, request: Any, **kwargs: Any) -> Any:
        if request is None or "nonce" not in kwargs or not settings.OIDC_ISSUER:
            return None  # a password sign-in, or SSO not configured
        try:
            return super().authenticate(request, **kwargs)
        except SignInRefused as exc:
            request.oidc_refusal = exc
        except (SuspiciousOperation, discovery.DiscoveryError, requests.RequestException) as exc:
            request.oidc_refusal = SignInRefused("failed", f"The sign-in could not be completed: {exc}")
        return None

    # --- the ID token -------------------------------------------------------------------------------------------

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims, once every check of OpenID Connect Core 3.1.3.7 passed (else SignInRefused)."""
        nonce = kwargs.get("nonce")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInRefused("token", "The provider's ID token is not a signed token.") from None
        alg = header.get("alg")
        if alg not in settings.OIDC_SIGN_ALGORITHMS:
            raise SignInRefused("token", f"The ID token is signed with {alg!r}, which Assay does not accept.")
        jwk = discovery.signing_key(header.get("kid"), alg)
        if jwk is None:
            raise SignInRefused("token", "The ID token is signed with a key the provider does not publish.")
        client_id = self.OIDC_RP_CLIENT_ID
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                jwt.PyJWK(jwk, algorithm=alg),
                algorithms=[alg],
                audience=client_id,
                issuer=settings.OIDC_ISSUER,
                leeway=settings.OIDC_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            raise SignInRefused("token", "The ID token's signature does not verify.") from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused("token", "The ID token has expired.") from None
        except jwt.InvalidIssuerError:
            raise SignInRefused("token", "The ID token was issued by another provider.") from None
        except jwt.InvalidAudienceError:
            raise SignInRefused("token", "The ID token was issued to another client.") from None
        except jwt.PyJWTError as exc:
            raise SignInRefused("token", f"The ID token is not valid: {exc}.") from None
        audience = payload["aud"]
        if isinstance(audience, list) and len(audience) > 1 and payload.get("azp") != client_id:
            raise SignInRefused("token", "The ID token was issued to another client (azp).")
        if not nonce or payload.get("nonce") != nonce:
            raise SignInRefused("nonce", "The ID token does not carry this sign-in's nonce.")
        # A nonce is good once. The session already forgets the state it was stored under; this also refuses a
        # token replayed into a sign-in that was somehow given the same nonce again.
        lifetime = max(int(payload["exp"] - time.time()) + settings.OIDC_LEEWAY_SECONDS, 1)
        digest = hashlib.sha256(f"{settings.OIDC_ISSUER} {nonce}".encode()).hexdigest()
        if not cache.add(f"oidc:nonce:{digest}", 1, timeout=lifetime):
            raise SignInRefused("nonce", "This sign-in's nonce was already used: the ID token is a replay.")
        return payload

    # --- the person ---------------------------------------------------------------------------------------------

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Claims of the userinfo endpoint, when the provider has one; its ``sub`` must be the ID token's."""
        url = self.OIDC_OP_USER_ENDPOINT
        if not url or not access_token:
            return {}
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.OIDC_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        if not response.headers.get("content-type", "").lower().startswith("application/json"):
            raise SignInRefused("failed", "The provider's userinfo answer is not JSON (signed userinfo is not used).")
        info = response.json()
        if not isinstance(info, dict) or info.get("sub") != payload["sub"]:
            raise SignInRefused("token", "The provider's userinfo is about another subject than the ID token.")
        return info

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        # The ID token's claims win; userinfo adds what the token leaves out (often the groups).
        claims = {**self.get_userinfo(access_token, id_token, payload), **payload}
        return sign_in(self.request, claims)


def _username(claims: dict[str, Any]) -> str:
    for name in (settings.OIDC_USERNAME_CLAIM, "email"):
        value = claim(claims, name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise SignInRefused("username", f"The provider sent neither {settings.OIDC_USERNAME_CLAIM} nor email.")


def sign_in(request: Any, claims: dict[str, Any]) -> User:
    """The user these verified claims are: created on the first sign-in, their role and teams kept as the claims
    say, each change and the sign-in itself recorded in the trail."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    role, teams = map_claims(claims)
    if role is None:
        do_record_access_denied(request, reason="sso_no_role", scope="")
        raise SignInRefused("no_role", "None of your groups at the identity provider gives a role in Assay.")
    # The provider, through the configured mapping, decides: the system is the actor of the changes, never the
    # person (who cannot edit their claims in Assay, and cannot change their own role there either).
    system = Actor.system()
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
        if identity is None:
            username = _username(claims)
            if User.objects.filter(username=username).exists():
                raise SignInRefused(
                    "name_taken",
                    f"An Assay account named {username!r} exists and is not linked to your sign-in, so it was "
                    "not opened; ask an administrator (docs/sso.md, 'Local accounts').",
                )
            email = claim(claims, "email") if claims.get("email_verified", True) is not False else ""
            try:
                user = do_create_user(
                    username=username, role=role, teams=teams, email=email or "", password=None, actor=system
                )
            except ActionError as exc:
                raise SignInRefused("username", str(exc)) from None
            identity = ExternalIdentity.objects.create(issuer=issuer, subject=subject, user=user)
        else:
            user = identity.user
            if not user.is_active:
                raise SignInRefused("inactive", "Your Assay account is deactivated.")
            current = sorted(user.teams.values_list("slug", flat=True))
            if user.role != role or current != teams:
                user = do_change_role(user=user, actor=system, role=role, teams=teams)
        identity.last_sign_in_at = timezone.now()
        identity.save(update_fields=["last_sign_in_at"])
        record_event(
            USER_SIGNED_IN,
            actor=Actor.for_user(user),
            obj=user,
            payload={"method": "oidc", "role": role, "teams": teams},
        )
    return user
