"""A real OpenID Connect provider for the SSO tests: panva's oidc-provider (OpenID Certified), from the npm registry,
pinned by tests/sso/provider/package-lock.json and installed by `make test` (`npm ci`), run with Node on 127.0.0.1.

Nothing of the protocol is mocked: discovery, JWKS, the authorization endpoint, PKCE, the token and userinfo
endpoints and RP-initiated logout are the provider's own. The tests know the provider's private signing key (they
give it to the provider), so they can also sign tokens the provider would never issue (another issuer, an expired
one) and check that Assay refuses them with the key it fetched from the provider's JWKS.

The tests skip, saying why, only when Node or the npm package is missing (`make test` installs both where it can).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from governance.access.oidc import config as oidc_config

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
NODE = shutil.which("node")
CLIENT_ID = "assay"
CLIENT_SECRET = "assay-test-client-secret-0123456789"
OTHER_CLIENT_ID = "another-app"
PASSWORD = "provider password 42"
ROLE_MAP = [("assay-officers", "officer"), ("assay-reviewers", "reviewer"), ("assay-owners", "owner")]
TEAM_MAP = [("team-credit-risk", "credit-risk"), ("team-hiring", "hiring")]
# The provider's people: their groups decide their role and teams in Assay.
ACCOUNTS = {
    "sofia": {"groups": ["staff", "assay-officers"], "email": "sofia@example.org"},
    "ravi": {"groups": ["assay-reviewers", "team-credit-risk"], "email": "ravi@example.org"},
    "nora": {"groups": ["staff", "marketing"], "email": "nora@example.org"},
    "olivia": {"groups": ["assay-owners"], "email": "olivia@elsewhere.example"},  # a local user's name
}


def _why_not_runnable() -> str | None:
    if NODE is None:
        return "node is not installed: run `make test` (it installs Debian's nodejs and npm where apt is usable)"
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    if (major, minor) < (20, 19):
        return f"node {version} is too old for oidc-provider 9 (it needs 20.19 or later)"
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return "the test provider's npm package is not installed: run `make test` (or `npm ci` in tests/sso/provider)"
    return None


WHY_NOT = _why_not_runnable()
requires_provider = pytest.mark.skipif(WHY_NOT is not None, reason=f"no OpenID provider for the SSO tests: {WHY_NOT}")


@dataclass
class Key:
    """An RSA signing key: the private half for the provider (and for tests that forge tokens)."""

    kid: str
    private: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def new(cls, kid: str) -> Key:
        return cls(kid=kid, private=rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private))
        jwk.pop("key_ops", None)  # PyJWT marks a private JWK "sign" only; the provider verifies its hints too
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return jwk

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": kid or self.kid})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Provider:
    issuer: str
    keys: list[Key]
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the provider stops when its standard input closes
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_provider(tmp: Path, *, redirect_bases: list[str], keys: list[Key], port: int | None = None) -> Provider:
    """Start the provider on 127.0.0.1 with clients that redirect to ``<base>/sso/callback/``; wait until it serves."""
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    clients = [
        {
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{base}/sso/callback/" for base in redirect_bases],
            "post_logout_redirect_uris": [f"{base}/login/" for base in redirect_bases],
            "token_endpoint_auth_method": "client_secret_post",
        }
        for client_id in (CLIENT_ID, OTHER_CLIENT_ID)
    ]
    accounts = {
        login: {"password": PASSWORD, "claims": {"preferred_username": login, "email_verified": True, **claims}}
        for login, claims in ACCOUNTS.items()
    }
    config = {"port": port, "issuer": issuer, "jwks": {"keys": [k.jwk() for k in keys]}, "clients": clients}
    path = tmp / f"provider-{port}-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps({**config, "accounts": accounts}))
    process = subprocess.Popen(
        [str(NODE), str(PROVIDER_DIR / "provider.mjs"), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROVIDER_DIR,
    )
    provider = Provider(issuer=issuer, keys=keys, process=process)
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until "ready ..." or the process ends
    if not line.startswith("ready "):
        provider.stop()
        raise RuntimeError(f"the test OpenID provider did not start (exit {process.poll()}): {line!r}")
    return provider


@pytest.fixture(scope="session")
def signing_key() -> Key:
    return Key.new("k1")


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory, signing_key: Key) -> Iterator[Provider]:
    """One provider per test session (per xdist worker), for clients of Django's test client (testserver)."""
    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    running = start_provider(tmp_path_factory.mktemp("oidc"), redirect_bases=["http://testserver"], keys=[signing_key])
    yield running
    running.stop()


def configure(settings: Any, issuer: str, **changes: Any) -> None:
    """Point Assay at ``issuer`` as the environment would (docs/sso.md), with an empty cache."""
    settings.OIDC_ISSUER = issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SCOPES = "openid profile email groups"
    settings.OIDC_PROVIDER_NAME = "Test provider"
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.OIDC_TEAM_MAP = TEAM_MAP
    settings.SSO_ONLY = False
    settings.AUTHENTICATION_BACKENDS = oidc_config.authentication_backends(sso=True, sso_only=False)
    for name, value in changes.items():
        setattr(settings, name, value)
    cache.clear()


@pytest.fixture
def sso(settings: Any, provider: Provider) -> Provider:
    """Assay configured for the session's provider."""
    configure(settings, provider.issuer)
    return provider


def provider_leg(authorize_url: str, login: str, password: str = PASSWORD) -> str:
    """What a person's browser does at the provider: follow its redirects, fill in its sign-in form, and stop at the
    redirect back to the client. Returns that URL (with ``code`` and ``state``)."""
    browser = requests.Session()
    url, method, data = authorize_url, "GET", None
    for _ in range(10):
        response = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            target = urljoin(url, response.headers["Location"])
            if urlsplit(target).path == "/sso/callback/":
                return target
            url, method, data = target, "GET", None
        elif response.status_code == 200 and 'name="login"' in response.text:
            if "Unknown user name" in response.text:
                raise AssertionError(f"the provider refused {login}'s password")
            method, data = "POST", {"login": login, "password": password}
        else:
            raise AssertionError(f"unexpected answer from the provider at {url}: {response.status_code}")
    raise AssertionError("too many redirects at the provider")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
