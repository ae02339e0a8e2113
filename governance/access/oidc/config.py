"""Reading the single sign-on settings from the environment (``governance/settings.py`` calls these).

Kept free of models and of the network: settings import it before Django is set up. The mappings are ordered
lists, read from ``group=value`` items, because the order is the rule: the first group of ``OIDC_ROLE_MAP`` a
person is in decides their one role (docs/sso.md).
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

# Roles a sign-in may give. "ci" is a service account: pipelines use API tokens, never a person's sign-in.
SSO_ROLES = ("admin", "officer", "owner", "reviewer", "regulator")
_TEAM_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _pairs(name: str, items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        group, sep, value = item.rpartition("=")
        if not sep or not group.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name}: {item!r} is not group=value.")
        pairs.append((group.strip(), value.strip()))
    return pairs


def parse_role_map(items: list[str]) -> list[tuple[str, str]]:
    """``OIDC_ROLE_MAP``: ordered ``group=role`` pairs; a group may map to one of ``SSO_ROLES``."""
    pairs = _pairs("OIDC_ROLE_MAP", items)
    for group, role in pairs:
        if role not in SSO_ROLES:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: group {group!r} maps to {role!r}; a sign-in may give one of {', '.join(SSO_ROLES)}."
            )
    return pairs


def parse_team_map(items: list[str]) -> list[tuple[str, str]]:
    """``OIDC_TEAM_MAP``: ``group=team`` pairs; a team slug is lower-case letters, digits and hyphens."""
    pairs = _pairs("OIDC_TEAM_MAP", items)
    for group, team in pairs:
        if not _TEAM_SLUG.fullmatch(team):
            raise ImproperlyConfigured(f"OIDC_TEAM_MAP: group {group!r} maps to {team!r}, which is not a team name.")
    return pairs


def parse_algorithms(items: list[str]) -> list[str]:
    """``OIDC_SIGN_ALGORITHMS``: asymmetric algorithms only (a shared-secret or unsigned ID token is refused)."""
    for alg in items:
        if alg not in _ALGORITHMS:
            raise ImproperlyConfigured(f"OIDC_SIGN_ALGORITHMS: {alg!r} is not one of {', '.join(_ALGORITHMS)}.")
    return items or ["RS256"]


def parse_token_auth(value: str) -> str:
    """``OIDC_TOKEN_AUTH``: how the client authenticates at the token endpoint."""
    method = value or "client_secret_post"
    if method not in ("client_secret_post", "client_secret_basic"):
        raise ImproperlyConfigured(f"OIDC_TOKEN_AUTH={value!r}: use client_secret_post or client_secret_basic.")
    return method


def check_sso(*, issuer: str, client_id: str, client_secret: str, sso_only: bool, debug: bool) -> None:
    """Refuse a half-configured provider, and ``SSO_ONLY`` without one (nobody could sign in)."""
    if sso_only and not issuer:
        raise ImproperlyConfigured("SSO_ONLY=1 needs OIDC_ISSUER (and its client): nobody could sign in otherwise.")
    if issuer and not (client_id and client_secret):
        raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or its _FILE).")
    if issuer and not debug and not issuer.startswith("https://"):
        raise ImproperlyConfigured(f"OIDC_ISSUER={issuer!r}: production needs an https:// issuer.")


def authentication_backends(*, sso: bool, sso_only: bool) -> list[str]:
    """Django's backends: passwords (behind django-axes' lockout) unless ``SSO_ONLY``, and the provider when set.

    With ``SSO_ONLY`` no password backend is left, so no password signs anyone in anywhere (portal or admin site);
    API tokens are DRF's, not a backend's, and keep working.
    """
    backends = [] if sso_only else ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
    if sso:
        backends.append("governance.access.oidc.backend.OIDCBackend")
    return backends
