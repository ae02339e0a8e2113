"""Signing side of C2SP signed notes and transparency-log checkpoints (pure Python, no Django).

Formats (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint)::

    checkpoint text   <origin>\\n<decimal tree size>\\n<base64 root hash>\\n[<extension line>\\n]...
    signed note       <text>\\n<signature line>...
    signature line    \u2014 <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n
    key id            SHA-256(<key name> || 0x0A || 0x01 || <32-byte public key>)[:4]
    verifier key      <key name>+<8 hex digits key id>+<base64(0x01 || public key)>
    signer key        PRIVATE+KEY+<key name>+<8 hex digits key id>+<base64(0x01 || 32-byte seed)>

(The em dash is U+2014 followed by a space; the signed message is the note text, UTF-8.)

All parsing is done by :mod:`governance.trail.verifier`, the file regulators run: every note
produced here is parsed and verified by it before being returned, so the server cannot emit
a note that the regulators' verifier would read differently or refuse.

Input mistakes raise :class:`ValueError`; they are programming or configuration errors on
the signing side, not verification failures.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.trail.verifier import (
    ED25519_ALGORITHM,
    HASH_SIZE,
    VerificationError,
    VerifierKey,
    ed25519_key_id,
    key_name_problem,
    note_text_problem,
    parse_checkpoint_body,
    parse_verifier_key,
    verify_note,
)

__all__ = [
    "checkpoint_body",
    "ed25519_key_id",
    "parse_signer_key",
    "sign_checkpoint",
    "sign_note",
    "signer_key_text",
    "verifier_key",
    "verifier_key_text",
]

_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"


def _check_key_name(name: str) -> None:
    problem = key_name_problem(name) if isinstance(name, str) else "key name must be a string"
    if problem:
        raise ValueError(problem)


def _raw_public_key(public_key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(public_key, (bytes, bytearray)) and len(public_key) == 32:
        return bytes(public_key)
    raise ValueError("public key must be an Ed25519PublicKey or its 32 raw bytes")


def verifier_key_text(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """Return the verifier-key text ``<name>+<hex key id>+<base64(0x01 || public key)>``.

    This is the line to publish (and to put in an export's ``keys.txt``) so that others can
    verify notes signed by the matching private key.
    """
    _check_key_name(name)
    raw = _raw_public_key(public_key)
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + raw).decode("ascii")
    text = f"{name}+{ed25519_key_id(name, raw).hex()}+{encoded}"
    parse_verifier_key(text)  # the verifier's parser is the authority on the format
    return text


def verifier_key(name: str, public_key: Ed25519PublicKey | bytes) -> VerifierKey:
    """Return the :class:`VerifierKey` for ``public_key`` under ``name``."""
    return parse_verifier_key(verifier_key_text(name, public_key))


def checkpoint_body(*, origin: str, tree_size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """Return checkpoint note text: origin, decimal tree size, base64 root, extension lines.

    ``origin`` must be non-empty and a single line; extension lines must be non-empty single
    lines (C2SP discourages them, since log monitors cannot audit them).
    """
    if not isinstance(origin, str) or not origin:
        raise ValueError("checkpoint origin must be a non-empty string")
    if "\n" in origin:
        raise ValueError(f"checkpoint origin {origin!r} contains a newline")
    if type(tree_size) is not int or tree_size < 0:
        raise ValueError(f"tree size must be a non-negative integer, got {tree_size!r}")
    if not isinstance(root, (bytes, bytearray)) or len(root) != HASH_SIZE:
        raise ValueError(f"root must be a {HASH_SIZE}-byte hash")
    if isinstance(extensions, str):
        raise ValueError("extensions must be a sequence of lines, not a string")
    for extension in extensions:
        if not extension or "\n" in extension:
            raise ValueError(f"extension line {extension!r} must be non-empty and contain no newline")
    lines = [origin, str(tree_size), base64.b64encode(bytes(root)).decode("ascii"), *extensions]
    body = "".join(line + "\n" for line in lines)
    try:
        parsed = parse_checkpoint_body(body)
    except VerificationError as error:  # e.g. a control character in the origin
        raise ValueError(f"invalid checkpoint: {error}") from None
    if parsed != (origin, tree_size, bytes(root), tuple(extensions)):
        raise ValueError("checkpoint text does not parse back to the given values")
    return body


def sign_note(body: str, *, signers: Sequence[tuple[str, Ed25519PrivateKey]]) -> str:
    """Sign note text with one or more named Ed25519 keys and return the signed note.

    ``body`` is the text to sign, ending in a newline. Each signer adds one signature line,
    in the given order. Several signers are how keys are rotated: sign with the old and the
    new key for a while, and verifiers holding either key accept the note.
    """
    if not isinstance(body, str) or not body:
        raise ValueError("note text must be a non-empty string")
    problem = note_text_problem(body)
    if problem:
        raise ValueError(problem)
    if not body.endswith("\n"):
        raise ValueError("note text must end with a newline")
    if not signers:
        raise ValueError("at least one signer is required")
    message = body.encode("utf-8")
    lines: list[str] = []
    keys: list[VerifierKey] = []
    for name, private_key in signers:
        _check_key_name(name)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"signer {name!r} is not an Ed25519 private key")
        key = verifier_key(name, private_key.public_key())
        if any((key.name, key.key_id) == (other.name, other.key_id) for other in keys):
            raise ValueError(f"signer {key.describe()} is listed twice")
        keys.append(key)
        signature = private_key.sign(message)
        encoded = base64.b64encode(key.key_id + signature).decode("ascii")
        lines.append(f"\u2014 {name} {encoded}\n")
    note = body + "\n" + "".join(lines)
    # Self-check with the regulators' verifier: same body back, every signature verifies.
    try:
        verified = verify_note(note, keys=keys)
    except VerificationError as error:
        raise ValueError(f"signed note does not verify: {error}") from None
    if verified.body != body or len(verified.verified_by) != len(keys):
        raise ValueError("signed note does not parse back to the given text and signers")
    return note


def sign_checkpoint(
    *,
    origin: str,
    tree_size: int,
    root: bytes,
    signers: Sequence[tuple[str, Ed25519PrivateKey]],
    extensions: Sequence[str] = (),
) -> str:
    """Return a signed checkpoint note (``checkpoint_body`` then ``sign_note``)."""
    body = checkpoint_body(origin=origin, tree_size=tree_size, root=root, extensions=extensions)
    return sign_note(body, signers=signers)


def signer_key_text(name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`` for secret storage.

    The same format as Go's golang.org/x/mod/sumdb/note, so keys can move between tools. This
    text is a secret: store it like a password (e.g. an environment variable).
    """
    _check_key_name(name)
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    key = verifier_key(name, private_key.public_key())
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + seed).decode("ascii")
    return f"{_SIGNER_KEY_PREFIX}{name}+{key.key_id.hex()}+{encoded}"


def parse_signer_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse :func:`signer_key_text` output into ``(name, private key)``, checking the key id.

    Error messages never include the key material.
    """
    if not text.startswith(_SIGNER_KEY_PREFIX):
        raise ValueError("signer key must start with 'PRIVATE+KEY+'")
    name, separator, rest = text[len(_SIGNER_KEY_PREFIX) :].partition("+")
    key_id_hex, separator2, encoded = rest.partition("+")
    if not separator or not separator2:
        raise ValueError("signer key must have the form PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
    _check_key_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError(f"signer key {name!r}: key material is not valid base64") from None
    if len(raw) != 33 or raw[0] != ED25519_ALGORITHM or base64.b64encode(raw).decode("ascii") != encoded:
        raise ValueError(f"signer key {name!r}: expected canonical base64 of 0x01 and a 32-byte Ed25519 seed")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    key = verifier_key(name, private_key.public_key())
    if key_id_hex.lower() != key.key_id.hex() or len(key_id_hex) != 8:
        raise ValueError(f"signer key {name!r}: key id {key_id_hex!r} does not match the key")
    return name, private_key
