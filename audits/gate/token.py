"""Signed decision tokens of the approval gate: a ``pass`` for one model version in one environment, for a while.

A token is a C2SP signed note signed with the trail's checkpoint key (so ``/.well-known/assay-keys`` publishes its
verifier key), in a compact form for HTTP headers and command lines::

    assay-gate.v1.<base64url, no padding, of the signed note>

The note's text is the origin ``<TRAIL_ORIGIN>/gate`` and then one ``key value`` line per claim, in a fixed order
(the format is documented, and parsed, in :mod:`governance.trail.verifier`, the file deploy steps and regulators
run: ``python verifier.py gate-token TOKEN --trusted-keys FILE``). Every token made here is verified by that parser
before it is returned, so the service cannot issue a token the offline verifier would read differently or refuse.

Signing and verifying are pure (keys and times are arguments); ``issue_gate_token`` and ``verify_gate_token`` are
the thin wrappers that take the key, the published keys and the origin from the service's configuration.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection, transaction

from governance.trail import verifier
from governance.trail.keys import LoadedKey, ensure_key_registered, load_signing_key, published_verifier_keys
from governance.trail.log import lock_trail
from governance.trail.note import sign_note, verifier_key
from governance.trail.verifier import GATE_NONE, GateClaims, GateTokenError

__all__ = [
    "GATE_NONE",
    "GateClaims",
    "GateTokenError",
    "check_claims",
    "encode_claims",
    "gate_origin",
    "issue_gate_token",
    "sign_token",
    "signing_key",
    "verify_gate_token",
    "verify_token",
]

PASS = "pass"  # noqa: S105 - a decision, not a password
NONCE_BYTES = 16
DEFAULT_TTL_SECONDS = 3600

_TEXT_CLAIMS = ("decision", "model", "artifact_sha256", "dataset", "policy", "audit", "environment", "nonce")


def _checked(claims: GateClaims) -> GateClaims:
    """The claims with their types checked and approvers as a tuple; ValueError naming the first bad claim."""
    for name in _TEXT_CLAIMS:
        value = getattr(claims, name)
        if not isinstance(value, str):
            raise ValueError(f"gate claim {name} must be a string, got {type(value).__name__}")
        if "\n" in value or "\r" in value:
            raise ValueError(f"gate claim {name} contains a line break: {value!r}")
    if type(claims.version) is not int:
        raise ValueError(f"gate claim version must be an integer, got {type(claims.version).__name__}")
    if isinstance(claims.approvers, str) or not all(isinstance(a, str) for a in claims.approvers):
        raise ValueError("gate claim approvers must be a sequence of user ids (strings)")
    for approver in claims.approvers:
        if "\n" in approver or "\r" in approver:
            raise ValueError(f"gate claim approvers contains a line break: {approver!r}")
        if approver == GATE_NONE or "," in approver or not approver:
            raise ValueError(f"gate claim approvers: {approver!r} is not a user id")
    for name in ("issued_at", "expires_at"):
        moment = getattr(claims, name)
        if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"gate claim {name} must be a timezone-aware datetime, got {moment!r}")
        if moment.microsecond:
            raise ValueError(f"gate claim {name} must be in whole seconds, got {moment.isoformat()}")
    return dataclasses.replace(claims, approvers=tuple(claims.approvers))


def encode_claims(claims: GateClaims, *, origin: str) -> str:
    """Return the note text of ``claims``: the origin line, then the claim lines, each ending in a newline.

    Raises ValueError for a claim the verifier would refuse (a line break anywhere, a malformed hash, a version
    that is not a positive integer, an expiry not after the issue time, ...) or an origin not ending in ``/gate``.
    """
    if not isinstance(origin, str) or not origin:
        raise ValueError("the gate token origin must be a non-empty string")
    if "\n" in origin or "\r" in origin:
        raise ValueError(f"the gate token origin contains a line break: {origin!r}")
    if not origin.endswith(verifier.GATE_ORIGIN_SUFFIX):
        raise ValueError(f"the gate token origin {origin!r} must end in {verifier.GATE_ORIGIN_SUFFIX!r}")
    claims = _checked(claims)
    body = "".join(f"{line}\n" for line in [origin, *verifier.gate_claims_lines(claims)])
    try:
        parsed_origin, parsed = verifier.parse_gate_body(body)  # the verifier's parser is the authority
    except GateTokenError as error:
        raise ValueError(f"invalid gate claims: {error}") from None
    if (parsed_origin, parsed) != (origin, claims):
        raise ValueError("gate token text does not parse back to the given claims")
    return body


def sign_token(claims: GateClaims, *, origin: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``claims`` for ``origin`` with the named Ed25519 key and return the compact token."""
    body = encode_claims(claims, origin=origin)
    token = verifier.encode_gate_token(sign_note(body, signers=[(key_name, private_key)]))
    # Self-check with the deploy steps' verifier, at the issue time: same claims back from the compact form.
    key = verifier_key(key_name, private_key.public_key())
    try:
        verified = verifier.verify_gate_token(token, keys=[key], origin=origin, now=claims.issued_at)
    except GateTokenError as error:
        raise ValueError(f"signed gate token does not verify: {error}") from None
    if verified.claims != _checked(claims):
        raise ValueError("signed gate token does not parse back to the given claims")
    return token


def verify_token(
    token: str, *, verifier_keys: Sequence[str], origin: str | None = None, now: datetime | None = None
) -> GateClaims:
    """Verify a compact token against verifier-key texts and return its claims; raises :class:`GateTokenError`.

    ``origin``: the exact origin expected (else any origin ending in ``/gate``); ``now``: default the current time.
    """
    keys = []
    for text in verifier_keys:
        try:
            keys.append(verifier.parse_verifier_key(text))
        except verifier.VerificationError as error:
            raise GateTokenError(f"trusted keys: {error}") from None
    return verifier.verify_gate_token(token, keys=keys, origin=origin, now=now).claims


def check_claims(
    claims: GateClaims,
    *,
    model: str | None = None,
    version: int | None = None,
    environment: str | None = None,
    artifact_sha256: str | None = None,
) -> None:
    """Raise :class:`GateTokenError` naming every field where ``claims`` differ from a given expectation."""
    mismatches = verifier.gate_claims_mismatches(
        claims, model=model, version=version, environment=environment, artifact_sha256=artifact_sha256
    )
    if mismatches:
        raise GateTokenError("the token does not match: " + "; ".join(mismatches))


# --- the service's wrappers ------------------------------------------------------------------------------------


def gate_origin() -> str:
    """The origin of this service's gate tokens: the trail's origin and ``/gate``."""
    return settings.TRAIL_ORIGIN + verifier.GATE_ORIGIN_SUFFIX


def issue_gate_token(
    *,
    model: str,
    version: int,
    artifact_sha256: str,
    dataset: str,
    policy: str,
    audit: str,
    environment: str,
    approvers: Sequence[str],
    decision: str = PASS,
    ttl_seconds: int | None = None,
    now: datetime | None = None,
    key: LoadedKey | None = None,
    key_published: bool = False,
) -> str:
    """Sign a gate token with the service's key, valid for ``GATE_TOKEN_TTL_SECONDS`` (default one hour).

    ``-`` stands for an absent artifact, dataset, policy or audit. The key is published (and its addition recorded
    in the trail) the first time it signs, as a checkpoint would, so the token verifies with the published keys.
    ``key`` (default ``signing_key()``) and ``key_published`` (the caller has just read that it is published) let
    the gate pass what its one read already found.
    """
    ttl = getattr(settings, "GATE_TOKEN_TTL_SECONDS", DEFAULT_TTL_SECONDS) if ttl_seconds is None else ttl_seconds
    if type(ttl) is not int or ttl <= 0:
        raise ValueError(f"the gate token lifetime must be a positive number of seconds, got {ttl!r}")
    issued_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    claims = GateClaims(
        decision=decision,
        model=model,
        version=version,
        artifact_sha256=artifact_sha256,
        dataset=dataset,
        policy=policy,
        audit=audit,
        environment=environment,
        approvers=tuple(approvers),
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=ttl),
        nonce=secrets.token_hex(NONCE_BYTES),
    )
    origin = gate_origin()
    key = key or signing_key()
    if not key_published:
        encode_claims(claims, origin=origin)  # bad claims are refused before anything is written
        _publish(key)
    # sign_token encodes (and so checks) the claims first of all: a published key needs no check of its own here.
    return sign_token(claims, origin=origin, key_name=key.name, private_key=key.private_key)


_PARSED_KEYS: dict[tuple[str, str], LoadedKey] = {}


def signing_key() -> LoadedKey:
    """The service's signing key, as ``load_signing_key`` gives it; a key configured in ``TRAIL_SIGNING_KEY`` is
    parsed once per process (the same text always gives the same key), the development key file is read each time."""
    if not settings.TRAIL_SIGNING_KEY:
        return load_signing_key()
    configured = (settings.TRAIL_SIGNING_KEY, settings.TRAIL_SIGNING_KEY_NAME)
    key = _PARSED_KEYS.get(configured)
    if key is None:
        if len(_PARSED_KEYS) > 8:  # only tests change the configured key; never grow without bound
            _PARSED_KEYS.clear()
        key = _PARSED_KEYS[configured] = load_signing_key()
    return key


def _publish(key: LoadedKey) -> None:
    """Register ``key`` among the published verifier keys unless it is there already."""
    # Raw SQL: every pass runs this, and the ORM's query compilation cost more than the lookup itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM governance_signingkey WHERE key_id = %s", [key.key_id.hex()])
        if cursor.fetchone() is not None:
            return
    with transaction.atomic():
        lock_trail()  # ensure_key_registered appends a trail event: take the trail's lock first, as checkpoints do
        ensure_key_registered(key)


def verify_gate_token(token: str, *, now: datetime | None = None) -> GateClaims:
    """Verify a token with the published verifier keys and this service's gate origin; returns its claims."""
    return verify_token(token, verifier_keys=published_verifier_keys(), origin=gate_origin(), now=now)
