"""Signed gate tokens: ``audits/gate/token.py``, ``manage.py verify_gate_token`` and ``verifier.py gate-token``.

Signing and verifying are pure, so most tests need no database: deterministic keys, fixed times. The service's
wrappers and the management command use the service's own key and published keys; the command runs as the command
line runs it (``run_from_argv``: real exit codes, real stderr). The standalone verifier runs as deploy steps and
regulators run it: a copy of verifier.py alone in a temporary directory, in a subprocess, with a trusted-keys file
written from the published keys.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audits.gate.token import (
    GateClaims,
    GateTokenError,
    check_claims,
    encode_claims,
    issue_gate_token,
    sign_token,
    verify_gate_token,
    verify_token,
)
from audits.management.commands.verify_gate_token import Command
from governance.trail import events
from governance.trail.keys import load_signing_key, published_verifier_keys
from governance.trail.note import sign_checkpoint, sign_note, verifier_key_text
from governance.trail.verifier import GATE_TOKEN_PREFIX, encode_gate_token
from tests.api import events_since, last_seq

REPO = Path(__file__).resolve().parents[2]
VERIFIER_SOURCE = REPO / "governance" / "trail" / "verifier.py"


def signing_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key, so failures reproduce exactly."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


KEY_NAME = "assay-trail"
KEY = signing_key("gate key")
STRANGER = signing_key("stranger")
TRUSTED = [verifier_key_text(KEY_NAME, KEY.public_key())]
ORIGIN = "assay.example/trail/gate"
ISSUED = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
NOW = ISSUED + timedelta(minutes=5)
ARTIFACT = hashlib.sha256(b"model.onnx").hexdigest()
DATASET_SHA = hashlib.sha256(b"german-credit.csv").hexdigest()
POLICY_SHA = hashlib.sha256(b"eu-ai-act-high-risk").hexdigest()
RESULTS_SHA = hashlib.sha256(b"results").hexdigest()
NONCE = "0123456789abcdef" * 2

CLAIMS = GateClaims(
    decision="pass",
    model="credit-scoring",
    version=7,
    artifact_sha256=ARTIFACT,
    dataset=f"german-credit/v3 {DATASET_SHA}",
    policy=f"eu-ai-act-high-risk/v2 {POLICY_SHA}",
    audit=f"42 {RESULTS_SHA}",
    environment="production",
    approvers=("3", "5"),
    issued_at=ISSUED,
    expires_at=ISSUED + timedelta(hours=1),
    nonce=NONCE,
)
BODY = f"""{ORIGIN}
decision pass
model credit-scoring
version 7
artifact-sha256 {ARTIFACT}
dataset german-credit/v3 {DATASET_SHA}
policy eu-ai-act-high-risk/v2 {POLICY_SHA}
audit 42 {RESULTS_SHA}
environment production
approvers 3,5
issued 2025-01-31T12:00:00Z
expires 2025-01-31T13:00:00Z
nonce {NONCE}
"""
TOKEN = sign_token(CLAIMS, origin=ORIGIN, key_name=KEY_NAME, private_key=KEY)

# Every refusal's message starts with one of these (GateTokenError's documented reasons).
REASONS = (
    "not a gate token",
    "bad base64",
    "malformed note",
    "unknown key",
    "bad signature",
    "malformed line",
    "wrong origin",
    "expired",
    "not yet valid",
)


def verify(token: str, **options: Any) -> GateClaims:
    return verify_token(token, verifier_keys=options.pop("keys", TRUSTED), now=options.pop("now", NOW), **options)


def refusal(token: str, **options: Any) -> str:
    """The reason ``token`` is refused (it must be)."""
    with pytest.raises(GateTokenError) as caught:
        verify(token, **options)
    message = str(caught.value)
    assert message.startswith(REASONS), message
    return message


def note_of(token: str) -> bytes:
    encoded = token.removeprefix(GATE_TOKEN_PREFIX)
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def token_of(note: bytes) -> str:
    return GATE_TOKEN_PREFIX + base64.urlsafe_b64encode(note).decode("ascii").rstrip("=")


def signed_body(body: str, key: Ed25519PrivateKey = KEY) -> str:
    """A token of any text at all, signed with a trusted key (to reach the checks after the signature)."""
    return encode_gate_token(sign_note(body, signers=[(KEY_NAME, key)]))


# --- format and round trip -----------------------------------------------------------------------------------


def test_a_token_is_the_prefix_and_base64url_of_a_signed_note_with_the_claims_in_order() -> None:
    assert TOKEN.startswith("assay-gate.v1.")
    assert "=" not in TOKEN
    note = note_of(TOKEN).decode("utf-8")
    body, signature = note.split("\n\n")
    assert body + "\n" == BODY == encode_claims(CLAIMS, origin=ORIGIN)
    assert signature.startswith(f"\u2014 {KEY_NAME} ")
    assert verify(TOKEN) == CLAIMS
    assert verify(TOKEN, origin=ORIGIN) == CLAIMS


def test_absent_values_are_written_as_a_dash_and_round_trip() -> None:
    claims = dataclasses.replace(CLAIMS, artifact_sha256="-", dataset="-", policy="-", audit="-", approvers=())
    token = sign_token(claims, origin=ORIGIN, key_name=KEY_NAME, private_key=KEY)
    text = note_of(token).decode()
    for line in ("artifact-sha256 -", "dataset -", "policy -", "audit -", "approvers -"):
        assert f"\n{line}\n" in text
    assert verify(token) == claims


def test_times_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    elsewhere = dataclasses.replace(
        CLAIMS, issued_at=ISSUED.astimezone(plus_two), expires_at=CLAIMS.expires_at.astimezone(plus_two)
    )
    assert encode_claims(elsewhere, origin=ORIGIN) == BODY
    assert verify(sign_token(elsewhere, origin=ORIGIN, key_name=KEY_NAME, private_key=KEY)) == CLAIMS


# --- tampering -------------------------------------------------------------------------------------------------


def test_changing_any_single_character_of_the_token_is_refused() -> None:
    reasons = set()
    for position, character in enumerate(TOKEN):
        for replacement in {"A" if character != "A" else "B", chr(ord(character) ^ 0x01)}:
            tampered = TOKEN[:position] + replacement + TOKEN[position + 1 :]
            reasons.add(refusal(tampered).split(":")[0].split(" (")[0])
    assert reasons >= {"not a gate token", "bad base64", "bad signature", "malformed note", "unknown key"}, reasons


def test_changing_any_single_byte_of_the_note_is_refused() -> None:
    note = note_of(TOKEN)
    for position in range(len(note)):
        for flip in (0x01, 0x20):
            tampered = note[:position] + bytes([note[position] ^ flip]) + note[position + 1 :]
            refusal(token_of(tampered))


def test_truncated_or_extended_tokens_are_refused() -> None:
    for tampered in (TOKEN[:-1], TOKEN[:-2], TOKEN[:-4], TOKEN + "A", TOKEN + "AA", TOKEN + "=", GATE_TOKEN_PREFIX):
        refusal(tampered)
    assert refusal("").startswith("not a gate token")
    assert refusal("eyJhbGciOiJFZERTQSJ9.e30.c2ln").startswith("not a gate token")  # a JWS is not one
    # "YWI" and "YWJ" differ only in the last character's unused bits: both decode to b"ab", one is canonical.
    assert refusal(GATE_TOKEN_PREFIX + "YWJ") == "bad base64: not canonical (the last character has unused bits set)"
    assert refusal(GATE_TOKEN_PREFIX + "YWI").startswith("malformed note")


def test_a_changed_claim_with_the_original_signature_is_a_bad_signature() -> None:
    note = note_of(TOKEN).replace(b"environment production", b"environment staging!!!")
    message = refusal(token_of(note))
    assert message.startswith("bad signature (tampered)"), message
    assert f"{KEY_NAME} (key id" in message


def test_a_token_signed_by_another_key_names_the_unknown_key() -> None:
    forged = sign_token(CLAIMS, origin=ORIGIN, key_name=KEY_NAME, private_key=STRANGER)
    message = refusal(forged)
    assert message.startswith("unknown key: the token is signed only by assay-trail (key id"), message
    assert "trusted keys are assay-trail (key id" in message
    # Trusting the stranger's key (too) is what makes it verify: the keys decide.
    assert verify(forged, keys=[*TRUSTED, verifier_key_text(KEY_NAME, STRANGER.public_key())]) == CLAIMS
    assert refusal(TOKEN, keys=[]).startswith("unknown key")


def test_the_trusted_keys_must_be_verifier_keys() -> None:
    with pytest.raises(GateTokenError, match="trusted keys: verifier key 'not-a-key'"):
        verify(TOKEN, keys=["not-a-key"])


# --- time and origin -------------------------------------------------------------------------------------------


def test_an_expired_token_is_refused_with_its_expiry() -> None:
    assert verify(TOKEN, now=CLAIMS.expires_at - timedelta(seconds=1)) == CLAIMS
    message = refusal(TOKEN, now=CLAIMS.expires_at)
    assert message == "expired: the token expired at 2025-01-31T13:00:00Z (it is now 2025-01-31T13:00:00Z)"
    # Without ``now`` the clock decides, and 2025-01-31 13:00 has passed.
    with pytest.raises(GateTokenError, match=r"^expired: the token expired at 2025-01-31T13:00:00Z"):
        verify_token(TOKEN, verifier_keys=TRUSTED)


def test_a_token_issued_in_the_future_is_refused() -> None:
    assert verify(TOKEN, now=ISSUED - timedelta(minutes=4)) == CLAIMS  # within the allowed clock skew
    message = refusal(TOKEN, now=ISSUED - timedelta(minutes=6))
    assert message.startswith("not yet valid: issued at 2025-01-31T12:00:00Z"), message


def test_a_token_for_another_origin_is_refused() -> None:
    message = refusal(TOKEN, origin="other.example/trail/gate")
    assert message == "wrong origin: the token is for 'assay.example/trail/gate', expected 'other.example/trail/gate'"
    with pytest.raises(ValueError, match="must end in '/gate'"):
        encode_claims(CLAIMS, origin="assay.example/trail")
    not_a_gate = signed_body(BODY.replace(ORIGIN, "assay.example/trail", 1))
    assert refusal(not_a_gate).startswith("wrong origin: 'assay.example/trail' does not end in '/gate'")


def test_a_checkpoint_signed_with_the_same_key_is_not_a_gate_token() -> None:
    checkpoint = sign_checkpoint(origin="assay.example/trail", tree_size=3, root=bytes(32), signers=[(KEY_NAME, KEY)])
    message = refusal(encode_gate_token(checkpoint))
    assert message == "malformed line 2: expected the 'decision' line, found '3'"


# --- malformed text, refused when signing and when verifying ---------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("decision", "pass\n"),
        ("model", "credit-scoring\nversion 8"),
        ("artifact_sha256", ARTIFACT + "\n"),
        ("dataset", "german-credit/v3\nx"),
        ("policy", "p/v1\r\n"),
        ("audit", "42\n"),
        ("environment", "production\nenvironment staging"),
        ("nonce", NONCE + "\n"),
        ("approvers", ("3", "5\n6")),
    ],
)
def test_a_line_break_in_any_claim_is_refused_at_signing(field: str, value: Any) -> None:
    claims = dataclasses.replace(CLAIMS, **{field: value})
    with pytest.raises(ValueError, match=rf"gate claim {field} contains a line break"):
        sign_token(claims, origin=ORIGIN, key_name=KEY_NAME, private_key=KEY)


def test_a_line_break_in_the_origin_is_refused_at_signing() -> None:
    with pytest.raises(ValueError, match="origin contains a line break"):
        encode_claims(CLAIMS, origin="assay.example/trail\nmodel x/gate")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"decision": "fail"}, "decision 'fail' is not 'pass'"),
        ({"model": "credit scoring"}, "model 'credit scoring' is not a name"),
        ({"version": 0}, "version '0' is not a positive decimal number"),
        ({"version": True}, "version must be an integer"),
        ({"artifact_sha256": ARTIFACT.upper()}, "artifact-sha256 .* is not 64 lowercase hex digits"),
        ({"dataset": "german-credit 3"}, "dataset 'german-credit 3' is not"),
        ({"policy": "eu-ai-act-high-risk"}, "policy 'eu-ai-act-high-risk' is not"),
        ({"audit": "42"}, "audit '42' is not"),
        ({"environment": ""}, "environment '' is not"),
        ({"approvers": ("3", "3")}, "an approver is listed twice"),
        ({"approvers": ("3,5",)}, "'3,5' is not a user id"),
        ({"approvers": "35"}, "approvers must be a sequence"),
        ({"nonce": "abc"}, "nonce 'abc' is not 32 to 128 lowercase hex digits"),
        ({"issued_at": ISSUED.replace(tzinfo=None)}, "issued_at must be a timezone-aware datetime"),
        ({"expires_at": CLAIMS.expires_at.replace(microsecond=5)}, "expires_at must be in whole seconds"),
        ({"expires_at": ISSUED}, "expires 2025-01-31T12:00:00Z is not after issued"),
    ],
)
def test_claims_the_verifier_would_refuse_are_refused_at_signing(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sign_token(dataclasses.replace(CLAIMS, **change), origin=ORIGIN, key_name=KEY_NAME, private_key=KEY)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "malformed line 2: expected the 'decision' line"),
        (lambda lines: lines[:-1], "malformed line 13: the text ends where the 'nonce' line belongs"),
        (lambda lines: [*lines, "extra claim"], "malformed line 14: unexpected line after 'nonce'"),
        (lambda lines: [*lines[:3], "version 07", *lines[4:]], "malformed line 4: version '07' is not"),
        (lambda lines: [*lines[:11], "expires 2025-02-30T00:00:00Z", *lines[12:]], "malformed line 12: expires"),
        (lambda lines: ["", *lines[1:]], "malformed line 1: the origin is empty"),
    ],
)
def test_malformed_text_is_refused_naming_the_line(edit: Any, message: str) -> None:
    body = "".join(line + "\n" for line in edit(BODY[:-1].split("\n")))
    assert refusal(signed_body(body)).startswith(message)


# --- expectations ----------------------------------------------------------------------------------------------


def test_expectations_that_do_not_match_name_the_field() -> None:
    check_claims(CLAIMS, model="credit-scoring", version=7, environment="production", artifact_sha256=ARTIFACT)
    check_claims(CLAIMS)  # nothing expected, nothing to mismatch
    for expected, named in [
        ({"model": "hiring"}, "model is 'credit-scoring', expected 'hiring'"),
        ({"version": 8}, "version is 7, expected 8"),
        ({"environment": "staging"}, "environment is 'production', expected 'staging'"),
        ({"artifact_sha256": "0" * 64}, f"artifact-sha256 is '{ARTIFACT}', expected '{'0' * 64}'"),
    ]:
        with pytest.raises(GateTokenError) as caught:
            check_claims(CLAIMS, **expected)
        assert str(caught.value) == f"the token does not match: {named}"


# --- the service: its key, its published keys, its command -----------------------------------------------------


def issue(**changes: Any) -> str:
    arguments: dict[str, Any] = {
        "model": "credit-scoring",
        "version": 7,
        "artifact_sha256": ARTIFACT,
        "dataset": f"german-credit/v3 {DATASET_SHA}",
        "policy": f"eu-ai-act-high-risk/v2 {POLICY_SHA}",
        "audit": f"42 {RESULTS_SHA}",
        "environment": "production",
        "approvers": ("3", "5"),
    }
    return issue_gate_token(**(arguments | changes))


def test_the_service_signs_with_its_key_and_publishes_it(db: Any, settings: Any) -> None:
    settings.GATE_TOKEN_TTL_SECONDS = 600
    assert published_verifier_keys() == []
    seq = last_seq()
    token = issue()
    # The key is published (as a checkpoint would), with its trail event, once.
    assert published_verifier_keys() == [load_signing_key().verifier_key]
    assert len(events_since(seq, events.TRAIL_KEY_ADDED.name)) == 1
    second = issue()
    assert len(events_since(seq)) == 1
    assert second != token  # a fresh nonce

    claims = verify_gate_token(token)
    text = note_of(token).decode()
    assert text.startswith(f"{settings.TRAIL_ORIGIN}/gate\ndecision pass\nmodel credit-scoring\n")
    assert f"\n\u2014 {settings.TRAIL_SIGNING_KEY_NAME} " in text
    assert (claims.model, claims.version, claims.environment, claims.approvers) == (
        "credit-scoring",
        7,
        "production",
        ("3", "5"),
    )
    assert claims.expires_at - claims.issued_at == timedelta(seconds=600)
    assert abs((datetime.now(UTC) - claims.issued_at).total_seconds()) < 60
    assert len(claims.nonce) == 32
    assert claims.nonce != verify_gate_token(second).nonce
    with pytest.raises(GateTokenError, match=r"^expired"):
        verify_gate_token(token, now=claims.expires_at)


def test_bad_claims_are_refused_before_the_key_is_published(db: Any) -> None:
    with pytest.raises(ValueError, match="line break"):
        issue(environment="production\nstaging")
    assert published_verifier_keys() == []


def test_bad_claims_are_refused_when_the_caller_read_the_key_as_published_too(db: Any) -> None:
    # The gate passes key_published=True from its one read; the claims are checked all the same (by the signing).
    issue()  # publishes the key
    with pytest.raises(ValueError, match="line break"):
        issue(environment="production\nstaging", key_published=True)
    with pytest.raises(ValueError, match="approvers"):
        issue(approvers=("3", ""), key_published=True)


def test_the_service_refuses_tokens_of_another_origin_or_key(db: Any, settings: Any) -> None:
    token = issue()
    ours = f"{settings.TRAIL_ORIGIN}/gate"
    settings.TRAIL_ORIGIN = "other.example/trail"
    with pytest.raises(GateTokenError) as caught:
        verify_gate_token(token)
    assert str(caught.value) == f"wrong origin: the token is for {ours!r}, expected 'other.example/trail/gate'"
    with pytest.raises(GateTokenError, match=r"^unknown key"):
        verify_gate_token(TOKEN)


@dataclass
class Exit:
    code: int
    out: str
    err: str


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``command(*args, stdin=None)``: run ``manage.py verify_gate_token`` as the command line does."""
    # Django closes the connections when a command-line command ends; that would end the test's transaction.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run(*args: str, stdin: str | None = None) -> Exit:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            Command().run_from_argv(["manage.py", "verify_gate_token", "--skip-checks", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Exit(code=code, out=captured.out, err=captured.err)

    return run


def test_the_command_prints_the_claims_of_a_valid_token(db: Any, command: Any, settings: Any) -> None:
    token = issue()
    result = command(token)
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"OK: gate token for {settings.TRAIL_ORIGIN}/gate, signed by a published key\n")
    assert "  model credit-scoring\n  version 7\n" in result.out

    result = command(token, "--json", "--expect-model", "credit-scoring", "--expect-version", "7")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert document["origin"] == f"{settings.TRAIL_ORIGIN}/gate"
    assert (document["model"], document["version"], document["approvers"]) == ("credit-scoring", 7, ["3", "5"])

    result = command("-", "--expect-environment", "production", "--expect-artifact", ARTIFACT, stdin=f"{token}\n")
    assert result.code == 0, result


def test_the_command_exits_1_with_the_reason(db: Any, command: Any) -> None:
    token = issue()
    tampered = token_of(note_of(token).replace(b"environment production", b"environment staging!!!"))
    result = command(tampered)
    assert result.code == 1
    assert result.out == ""
    assert "gate token refused: bad signature (tampered)" in result.err

    result = command(token, "--expect-environment", "staging", "--expect-version", "8")
    assert result.code == 1
    assert "the token does not match: version is 7, expected 8; environment is 'production', expected" in result.err

    result = command("-", stdin="hello\n")
    assert result.code == 1
    assert "gate token refused: not a gate token" in result.err

    assert command().code == 2  # usage error: no token


# --- the standalone verifier -----------------------------------------------------------------------------------


def test_the_standalone_verifier_checks_tokens_offline(db: Any, tmp_path: Path, settings: Any) -> None:
    token = issue()
    expired = issue_gate_token(
        model="credit-scoring",
        version=7,
        artifact_sha256="-",
        dataset="-",
        policy="-",
        audit="-",
        environment="staging",
        approvers=(),
        ttl_seconds=3600,
        now=datetime(2024, 1, 1, tzinfo=UTC),
    )
    copy = tmp_path / "regulator" / "verifier.py"
    copy.parent.mkdir()
    shutil.copyfile(VERIFIER_SOURCE, copy)
    keys = tmp_path / "trusted-keys.txt"
    keys.write_text("# from /.well-known/assay-keys\n" + "".join(f"{key}\n" for key in published_verifier_keys()))

    def run(*arguments: str, stdin: str | None = None) -> Exit:
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        completed = subprocess.run(
            [sys.executable, str(copy), "gate-token", *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=copy.parent,
            env=environment,
            timeout=60,
            check=False,
        )
        return Exit(code=completed.returncode, out=completed.stdout, err=completed.stderr)

    expectations = ["--expect-model", "credit-scoring", "--expect-version", "7", "--expect-environment", "production"]
    result = run(token, "--trusted-keys", str(keys), "--origin", settings.TRAIL_ORIGIN, *expectations)
    assert result.code == 0, result
    key = load_signing_key()
    assert result.out.startswith(
        f"OK: gate token for {settings.TRAIL_ORIGIN}/gate, signed by {key.name} (key id {key.key_id.hex()})\n"
        "  decision pass\n  model credit-scoring\n  version 7\n"
    )

    result = run("-", "--trusted-keys", str(keys), "--json", "--expect-artifact", ARTIFACT, stdin=token + "\n")
    assert result.code == 0, result
    assert json.loads(result.out)["signed_by"] == [key.verifier_key]

    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for arguments, reason in [
        ((tampered,), "gate token refused: bad signature (tampered)"),
        ((expired,), "gate token refused: expired: the token expired at 2024-01-01T01:00:00Z"),
        ((token, "--origin", "other.example/trail/gate"), "gate token refused: wrong origin"),
        ((token, "--expect-artifact", "0" * 64), f"gate token does not match: artifact-sha256 is '{ARTIFACT}'"),
    ]:
        result = run(*arguments, "--trusted-keys", str(keys))
        assert result.code == 1, result
        assert f"FAIL: {reason}" in result.err, result
        assert "Traceback" not in result.err

    assert run(token, "--trusted-keys", str(tmp_path / "missing.txt")).code == 2
    assert run(token).code == 2  # --trusted-keys is required
