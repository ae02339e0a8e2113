"""The provider's metadata (OpenID Connect Discovery) and signing keys (its JWKS), fetched and cached.

Only ``OIDC_ISSUER`` is configured: the endpoints come from ``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must equal the configured one exactly (Discovery 1.0, section 4.3), so a document served for another
issuer is refused. Keys rotate at the provider: the JWKS is cached for a while, and fetched again at once when a
token names a key id the cached set does not hold (a new key), at most once per ``OIDC_JWKS_MIN_REFRESH_SECONDS``
so that tokens naming made-up key ids cannot make Assay hammer the provider.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache


class DiscoveryError(Exception):
    """The provider's metadata or keys could not be had, or contradict the configuration."""


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT_SECONDS, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"{url} could not be read: {exc}") from None
    if not isinstance(document, dict):
        raise DiscoveryError(f"{url} did not answer a JSON object.")
    return document


def _cache_key(kind: str) -> str:
    return f"oidc:{kind}:{settings.OIDC_ISSUER}"


def metadata() -> dict[str, Any]:
    """The provider's discovery document (cached for ``OIDC_METADATA_CACHE_SECONDS``)."""
    key = _cache_key("metadata")
    document = cache.get(key)
    if document is None:
        issuer = settings.OIDC_ISSUER
        document = _get_json(f"{issuer}/.well-known/openid-configuration")
        if document.get("issuer") != issuer:
            raise DiscoveryError(f"The discovery document names issuer {document.get('issuer')!r}, not {issuer!r}.")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise DiscoveryError(f"The discovery document has no {field}.")
        cache.set(key, document, settings.OIDC_METADATA_CACHE_SECONDS)
    return document


def endpoint(name: str) -> str | None:
    """One endpoint of the provider (``token_endpoint``, ``end_session_endpoint``...), None when it offers none."""
    value = metadata().get(name)
    return value if isinstance(value, str) and value else None


def _fetch_keys() -> list[dict[str, Any]]:
    keys = _get_json(metadata()["jwks_uri"]).get("keys")
    if not isinstance(keys, list):
        raise DiscoveryError("The provider's JWKS has no key list.")
    found = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    cache.set(_cache_key("jwks"), {"keys": found, "at": time.time()}, settings.OIDC_JWKS_CACHE_SECONDS)
    return found


def signing_key(kid: str | None, alg: str) -> dict[str, Any] | None:
    """The JWK that signed a token with header ``kid`` and ``alg``, or None when the provider publishes no such key.

    A key id missing from the cached set is looked up again at the provider (it may have rotated its keys)."""
    cached = cache.get(_cache_key("jwks"))
    keys = cached["keys"] if cached else _fetch_keys()
    match = _match(keys, kid, alg)
    fresh_enough = cached and time.time() - cached["at"] < settings.OIDC_JWKS_MIN_REFRESH_SECONDS
    if match is None and cached and not fresh_enough:
        match = _match(_fetch_keys(), kid, alg)
    return match


def _match(keys: list[dict[str, Any]], kid: str | None, alg: str) -> dict[str, Any] | None:
    candidates = [k for k in keys if k.get("alg", alg) == alg]
    if kid is None:
        # A token without a key id is acceptable only when the provider publishes exactly one key for it.
        return candidates[0] if len(candidates) == 1 else None
    return next((k for k in candidates if k.get("kid") == kid), None)
