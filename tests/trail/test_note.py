"""Tests for governance/trail/note.py (signing) and the note/checkpoint parsing in verifier.py.

Includes byte-exact interoperability vectors from Go's golang.org/x/mod/sumdb/note tests (an
independent implementation of the same C2SP format): Ed25519 signatures are deterministic, so
signing the same text with the same key must reproduce Go's note exactly. Plain pytest.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail.note import (
    checkpoint_body,
    ed25519_key_id,
    parse_signer_key,
    sign_checkpoint,
    sign_note,
    signer_key_text,
    verifier_key,
    verifier_key_text,
)
from governance.trail.verifier import (
    MAX_NOTE_SIGNATURES,
    VerificationError,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    verify_checkpoint,
    verify_note,
)

EM_DASH = "\u2014"

# --- Vectors from golang.org/x/mod/sumdb/note/note_test.go -----------------------------------
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_PETER_SIG = (
    f"{EM_DASH} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIG = (
    f"{EM_DASH} EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

ORIGIN = "assay.example/audit-trail"
ROOT = bytes(range(32))
ROOT_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def signing_key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


LOG_KEY = signing_key("log key")
NEW_KEY = signing_key("next log key")
STRANGER = signing_key("stranger")
LOG = verifier_key(ORIGIN, LOG_KEY.public_key())
NEW = verifier_key(ORIGIN, NEW_KEY.public_key())


def signed(size: int = 42, root: bytes = ROOT, signers: list | None = None) -> str:  # type: ignore[type-arg]
    return sign_checkpoint(
        origin=ORIGIN, tree_size=size, root=root, signers=signers if signers is not None else [(ORIGIN, LOG_KEY)]
    )


# ---------------------------------------------------------------------------------------------
# Interoperability and exact format
# ---------------------------------------------------------------------------------------------


def test_go_signer_and_verifier_keys_round_trip() -> None:
    name, private_key = parse_signer_key(GO_SIGNER_KEY)
    assert name == "PeterNeumann"
    assert verifier_key_text(name, private_key.public_key()) == GO_VERIFIER_KEY
    assert signer_key_text(name, private_key) == GO_SIGNER_KEY
    key = parse_verifier_key(GO_VERIFIER_KEY)
    assert (key.name, key.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    assert key.text() == GO_VERIFIER_KEY


def test_signing_reproduces_go_byte_for_byte() -> None:
    name, private_key = parse_signer_key(GO_SIGNER_KEY)
    assert sign_note(GO_TEXT, signers=[(name, private_key)]) == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_note_signed_by_two_keys() -> None:
    note = GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG
    peter, enoch = parse_verifier_key(GO_VERIFIER_KEY), parse_verifier_key(GO_ENOCH_KEY)
    assert verify_note(note, keys=[peter]).verified_by == (peter,)
    assert verify_note(note, keys=[enoch]).verified_by == (enoch,)
    assert verify_note(note, keys=[peter, enoch]).verified_by == (peter, enoch)
    assert verify_note(note, keys=[peter]).body == GO_TEXT


def test_signature_line_is_byte_exact() -> None:
    public_key = LOG_KEY.public_key().public_bytes_raw()
    # Key id computed here by hand from the C2SP formula, not by the code under test.
    key_id = hashlib.sha256(ORIGIN.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]
    body = f"{ORIGIN}\n42\n{ROOT_B64}\n"
    signature = LOG_KEY.sign(body.encode("utf-8"))
    expected = body + "\n" + EM_DASH + " " + ORIGIN + " " + base64.b64encode(key_id + signature).decode() + "\n"

    assert ed25519_key_id(ORIGIN, public_key) == key_id
    assert checkpoint_body(origin=ORIGIN, tree_size=42, root=ROOT) == body
    assert signed() == expected
    assert verifier_key_text(ORIGIN, public_key) == (
        f"{ORIGIN}+{key_id.hex()}+" + base64.b64encode(b"\x01" + public_key).decode()
    )


def test_checkpoint_round_trip() -> None:
    note = sign_checkpoint(
        origin=ORIGIN, tree_size=7, root=ROOT, extensions=["ext one", "ext two"], signers=[(ORIGIN, LOG_KEY)]
    )
    checkpoint = verify_checkpoint(note, keys=[LOG], origin=ORIGIN)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root) == (ORIGIN, 7, ROOT)
    assert checkpoint.extensions == ("ext one", "ext two")
    assert checkpoint.body == f"{ORIGIN}\n7\n{ROOT_B64}\next one\next two\n"
    assert checkpoint.verified_by == (LOG,)
    assert [(s.name, s.key_id) for s in checkpoint.signatures] == [(ORIGIN, LOG.key_id)]
    assert parse_checkpoint(note).verified_by == ()  # parsing alone verifies nothing
    assert verify_checkpoint(note.encode("utf-8"), keys=[LOG]).tree_size == 7  # bytes work too


def test_empty_tree_checkpoint() -> None:
    empty_root = hashlib.sha256(b"").digest()
    assert verify_checkpoint(signed(size=0, root=empty_root), keys=[LOG]).tree_size == 0


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda note: note.replace("\n42\n", "\n43\n"), "does not verify: the note text was altered"),
        (lambda note: note.replace(ROOT_B64, base64.b64encode(bytes(32)).decode()), "does not verify"),
        (lambda note: note.replace(ORIGIN + "\n42", "assay.example/other\n42"), "does not verify"),
        (lambda note: note.replace("\n42\n", "\n042\n"), "tree size '042' has leading zeros"),
        (lambda note: note.replace("\n42\n", "\n4x2\n"), "tree size '4x2' is not a decimal number"),
        (lambda note: note.replace("\n42\n", "\n\u0664\u0662\n"), "is not a decimal number"),  # Arabic-Indic digits
        (lambda note: note.replace("\n42\n", "\n+42\n"), "is not a decimal number"),
        (lambda note: note.replace(ROOT_B64, ROOT_B64[:-4]), "root hash is 30 bytes, expected 32"),
        (lambda note: note.replace(ROOT_B64, ROOT_B64[:-1]), "root hash is not valid base64"),
        (lambda note: note.replace(ROOT_B64, ROOT_B64[:-2] + "9="), "root hash is not canonical base64"),
        (lambda note: note.replace("\n\n", "\n", 1), "no blank line separating the text from the signatures"),
        (lambda note: note.replace("\n", "\r\n"), r"control character U\+000D on line 1 \(CRLF"),
        (lambda note: note.replace(ORIGIN + "\n", ORIGIN + "\t\n", 1), r"control character U\+0009 on line 1"),
        (lambda note: note[:-1], "note does not end with a newline"),
        (lambda note: note.replace(f"{EM_DASH} ", f"{EM_DASH}  "), "signature line 1: key name is empty"),
        (lambda note: note.replace(f"{ORIGIN} ", f"{ORIGIN}  "), "signature line 1 is not valid base64"),
        (lambda note: note.replace(f"{EM_DASH} ", "-- "), "does not start with an em dash"),
        (lambda note: note + "trailing text\n", "signature line 2 does not start with an em dash"),
        (lambda note: note.split("\n\n")[0] + "\n\n", "no signature lines after the blank line"),
        (lambda note: f"{ORIGIN}\n42\n\n" + note.split("\n\n")[1], "checkpoint text has 2 line"),
        (lambda note: note.replace(f"{ROOT_B64}\n", f"{ROOT_B64}\n\n"), "line 4 .* is empty"),
    ],
)
def test_malformed_or_tampered_checkpoints_are_refused(tamper, message: str) -> None:  # type: ignore[no-untyped-def]
    note = tamper(signed())
    with pytest.raises(VerificationError, match=message):
        verify_checkpoint(note, keys=[LOG])


def test_truncated_signature_is_refused() -> None:
    note = signed()
    _, signature_line = note.split("\n\n")
    encoded = signature_line.split(" ")[-1].strip()
    raw = base64.b64decode(encoded)
    truncated = base64.b64encode(raw[:-8]).decode()
    with pytest.raises(VerificationError, match="is 56 bytes; Ed25519 signatures are 64 bytes"):
        verify_checkpoint(note.replace(encoded, truncated), keys=[LOG])
    with pytest.raises(VerificationError, match="signature line 1 is too short: 3 bytes"):
        verify_checkpoint(note.replace(encoded, "AAAA"), keys=[LOG])


def test_signature_by_an_unknown_key_is_refused_and_named() -> None:
    note = signed(signers=[("stranger.example/key", STRANGER)])
    stranger_id = verifier_key("stranger.example/key", STRANGER.public_key()).key_id.hex()
    with pytest.raises(VerificationError) as refused:
        verify_checkpoint(note, keys=[LOG])
    assert str(refused.value) == (
        f"no signature by a trusted key: the note is signed only by stranger.example/key (key id {stranger_id}); "
        f"trusted keys are {ORIGIN} (key id {LOG.key_id.hex()})"
    )


def test_same_name_different_key_is_unknown_not_trusted() -> None:
    note = signed(signers=[(ORIGIN, STRANGER)])
    with pytest.raises(VerificationError, match="a key with this name is trusted, but not this key id"):
        verify_checkpoint(note, keys=[LOG])


def test_unknown_signatures_are_ignored_when_a_trusted_one_verifies() -> None:
    note = signed(signers=[("stranger.example/key", STRANGER), (ORIGIN, LOG_KEY)])
    assert verify_checkpoint(note, keys=[LOG]).verified_by == (LOG,)


def test_a_bad_signature_by_a_trusted_key_rejects_the_whole_note() -> None:
    good = signed(signers=[(ORIGIN, LOG_KEY), (ORIGIN, NEW_KEY)])
    lines = good.split("\n")
    encoded = lines[-2].split(" ")[-1]
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    bad = good.replace(encoded, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(VerificationError, match=f"signature by {ORIGIN} \\(key id {NEW.key_id.hex()}\\) does not"):
        verify_checkpoint(bad, keys=[LOG, NEW])  # LOG's signature is fine, NEW's is not


def test_key_rotation_note_signed_by_both_keys_verifies_with_either() -> None:
    note = signed(signers=[(ORIGIN, LOG_KEY), (ORIGIN, NEW_KEY)])
    assert verify_checkpoint(note, keys=[LOG]).verified_by == (LOG,)
    assert verify_checkpoint(note, keys=[NEW]).verified_by == (NEW,)
    assert verify_checkpoint(note, keys=[LOG, NEW]).verified_by == (LOG, NEW)
    assert LOG.key_id != NEW.key_id  # same name, different keys: told apart by key id
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        verify_checkpoint(signed(signers=[(ORIGIN, NEW_KEY)]), keys=[LOG])


def test_origin_is_enforced_when_given() -> None:
    with pytest.raises(VerificationError, match=r"for origin 'assay\.example/audit-trail', expected 'x\.example/log'"):
        verify_checkpoint(signed(), keys=[LOG], origin="x.example/log")


def test_no_keys_and_ambiguous_keys_are_refused() -> None:
    with pytest.raises(VerificationError, match="no trusted verifier keys were given"):
        verify_checkpoint(signed(), keys=[])
    impostor = type(LOG)(name=LOG.name, key_id=LOG.key_id, public_key=NEW.public_key)
    with pytest.raises(VerificationError, match="ambiguous trusted keys"):
        verify_checkpoint(signed(), keys=[LOG, impostor])


def test_invalid_utf8_and_oversized_notes_are_refused() -> None:
    with pytest.raises(VerificationError, match="not valid UTF-8"):
        parse_note(b"\xff" + signed().encode())
    too_many = GO_TEXT + "\n" + GO_PETER_SIG * (MAX_NOTE_SIGNATURES + 1)
    with pytest.raises(VerificationError, match="more than 100 signature lines"):
        parse_note(too_many)
    parse_note(GO_TEXT + "\n" + GO_PETER_SIG * 16)  # the spec's minimum must be accepted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PeterNeumann+c74f20a3", "is not of the form"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match the name"),
        ("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match the name"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "contains a space"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name is empty"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "is not 8 hex digits"),
        # Go's own vectors: wrong key length and unknown algorithm, each with a matching key id.
        ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "not canonical base64"),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "signature type 0x65 is not supported"),
    ],
)
def test_bad_verifier_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        parse_verifier_key(text)


def test_verifier_key_of_the_wrong_length_is_refused() -> None:
    short_key = bytes(range(31))
    key_id = hashlib.sha256(b"short\n\x01" + short_key).digest()[:4]  # a matching id, by hand
    text = f"short+{key_id.hex()}+" + base64.b64encode(b"\x01" + short_key).decode()
    with pytest.raises(VerificationError, match="Ed25519 public key must be 32 bytes, got 31"):
        parse_verifier_key(text)


def test_every_truncation_of_a_verifier_key_is_refused() -> None:
    # Go's TestNewVerifier does the same: no proper substring may parse as a key.
    for begin in range(len(GO_VERIFIER_KEY)):
        for end in range(begin + 1, len(GO_VERIFIER_KEY) + 1):
            if (begin, end) != (0, len(GO_VERIFIER_KEY)):
                with pytest.raises(VerificationError):
                    parse_verifier_key(GO_VERIFIER_KEY[begin:end])


# ---------------------------------------------------------------------------------------------
# Signing-side validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "key name is empty"),
        ("has space", "contains a space character"),
        ("has\u00a0nbsp", "contains a space character"),
        ("a+b", "contains '\\+'"),
        ("tab\there", "contains a space character"),
    ],
)
def test_bad_key_names_are_refused_when_signing(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sign_note(GO_TEXT, signers=[(name, LOG_KEY)])
    with pytest.raises(ValueError, match=message):
        verifier_key_text(name, LOG_KEY.public_key())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"origin": ""}, "origin must be a non-empty string"),
        ({"origin": "a\nb"}, "contains a newline"),
        ({"origin": "a\rb"}, r"control character U\+000D"),
        ({"tree_size": -1}, "non-negative integer"),
        ({"tree_size": True}, "non-negative integer"),
        ({"root": ROOT[:31]}, "32-byte hash"),
        ({"extensions": [""]}, "must be non-empty"),
        ({"extensions": ["two\nlines"]}, "contain no newline"),
        ({"extensions": "oops"}, "not a string"),
    ],
)
def test_checkpoint_body_validation(arguments: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        checkpoint_body(**{"origin": ORIGIN, "tree_size": 1, "root": ROOT, **arguments})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "non-empty string"),
        ("no newline", "must end with a newline"),
        ("crlf\r\n", r"control character U\+000D"),
        ("\udc80\n", "unpaired surrogate"),
    ],
)
def test_sign_note_validates_the_text(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sign_note(body, signers=[(ORIGIN, LOG_KEY)])


def test_sign_note_validates_signers() -> None:
    with pytest.raises(ValueError, match="at least one signer"):
        sign_note(GO_TEXT, signers=[])
    with pytest.raises(ValueError, match="listed twice"):
        sign_note(GO_TEXT, signers=[(ORIGIN, LOG_KEY), (ORIGIN, LOG_KEY)])
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        sign_note(GO_TEXT, signers=[(ORIGIN, b"secret")])  # type: ignore[list-item]


def test_note_text_may_contain_empty_lines() -> None:
    # Generic notes (not checkpoints) may; the last empty line separates the signatures.
    body = "first\n\nthird\n"
    note = sign_note(body, signers=[(ORIGIN, LOG_KEY)])
    assert verify_note(note, keys=[LOG]).body == body


def test_bad_signer_keys_are_refused_without_echoing_the_secret() -> None:
    bad_id = GO_SIGNER_KEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(ValueError, match="does not match the key") as refused:
        parse_signer_key(bad_id)
    assert "AYEKFALV" not in str(refused.value)
    with pytest.raises(ValueError, match="must start with"):
        parse_signer_key(GO_VERIFIER_KEY)
    with pytest.raises(ValueError, match="canonical base64 of 0x01"):
        parse_signer_key(GO_SIGNER_KEY[:-4])
