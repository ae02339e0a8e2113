"""The cosignature format (C2SP tlog-cosignature, Ed25519 cosignature/v1) against answers from outside the project.

The known answers below were produced by an independent implementation, aics-tlog 0.2.1 from PyPI
(``aics_tlog.cosign.sign_cosignature`` and ``cosignature_vkey``), with the Ed25519 seed
SHA-256("assay witness known answer"), the witness name ``witness.example/w1``, time 1679315147 and the checkpoint
of the specification's own example (c2sp.org/tlog-cosignature) plus one extension line. Ed25519 is deterministic,
so our signer must produce the very same line, and our verifier must accept theirs.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail import verifier
from governance.trail.note import sign_note
from governance.trail.witness import WitnessIdentity

SEED = hashlib.sha256(b"assay witness known answer").digest()
NAME = "witness.example/w1"
THEIR_KEY = "witness.example/w1+e43a1796+BOfcnEpMe6fAaIPHIWHWJGssjNuwq+ymEPnYgF+QKr/y"
BODY = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2026-12-06T12:00:00Z\n"
)
THEIR_LINE = (
    "\u2014 witness.example/w1 "
    "5DoXlgAAAABkGFDLNGwkXTV+AC7mIQxCRfVTCsyheXcBFE9tca2uUqfoDr+jf+nPKdEBOCq4zF3C6ef3/X7okA1XlMNlAvWIgAfVCw==\n"
)
TIME = 1679315147


def log_signed_note() -> str:
    """The example checkpoint signed by some log key (its line is ignored by cosignature checks)."""
    return sign_note(BODY, signers=[("example.com/behind-the-sofa", Ed25519PrivateKey.generate())])


def test_our_witness_key_text_is_the_independent_implementations() -> None:
    identity = WitnessIdentity(NAME, Ed25519PrivateKey.from_private_bytes(SEED))
    assert identity.key.text() == THEIR_KEY
    assert verifier.parse_witness_key(THEIR_KEY) == identity.key


def test_our_cosignature_is_byte_for_byte_the_independent_implementations() -> None:
    identity = WitnessIdentity(NAME, Ed25519PrivateKey.from_private_bytes(SEED))
    assert identity.cosign(BODY, TIME) == THEIR_LINE


def test_we_accept_their_cosignature_and_read_its_time() -> None:
    found = verifier.verify_cosignatures(
        log_signed_note() + THEIR_LINE, witnesses=[verifier.parse_witness_key(THEIR_KEY)]
    )
    assert [(c.witness.name, c.timestamp) for c in found] == [(NAME, TIME)]
    assert found[0].describe() == "witness.example/w1 (key id e43a1796) at 2023-03-20T12:25:47Z"


def test_the_key_id_uses_type_0x04_so_a_log_key_is_never_a_witness_key() -> None:
    raw = base64.b64decode(THEIR_KEY.split("+", 2)[2])[1:]
    assert verifier.cosignature_key_id(NAME, raw) == bytes.fromhex("e43a1796")
    assert verifier.ed25519_key_id(NAME, raw) != bytes.fromhex("e43a1796")
    log_key_text = f"{NAME}+{verifier.ed25519_key_id(NAME, raw).hex()}+{base64.b64encode(bytes([1]) + raw).decode()}"
    with pytest.raises(verifier.VerificationError, match="type 0x04"):
        verifier.parse_witness_key(log_key_text)


def test_the_signed_message_is_the_header_the_time_and_the_whole_note_text() -> None:
    assert verifier.cosignature_message(BODY, TIME) == b"cosignature/v1\ntime 1679315147\n" + BODY.encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda note: note.replace("20852163", "20852164"),  # another size
        lambda note: note.replace("T12:00:00Z", "T12:00:01Z"),  # an extension line is signed too
    ],
)
def test_a_cosignature_on_an_altered_checkpoint_is_refused(change: object) -> None:
    altered = change(BODY)  # type: ignore[operator]
    note = sign_note(altered, signers=[("example.com/behind-the-sofa", Ed25519PrivateKey.generate())]) + THEIR_LINE
    with pytest.raises(verifier.VerificationError, match="does not verify"):
        verifier.verify_cosignatures(note, witnesses=[verifier.parse_witness_key(THEIR_KEY)])


def test_an_altered_time_is_refused() -> None:
    raw = bytearray(base64.b64decode(THEIR_LINE.split(" ")[2]))
    raw[4 + 7] ^= 1  # the last byte of the timestamp
    line = f"\u2014 {NAME} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(verifier.VerificationError, match="does not verify"):
        verifier.verify_cosignatures(log_signed_note() + line, witnesses=[verifier.parse_witness_key(THEIR_KEY)])


def test_unknown_witnesses_are_ignored_and_the_minimum_names_who_is_missing() -> None:
    other = WitnessIdentity("witness.example/w2", Ed25519PrivateKey.generate())
    found = verifier.verify_cosignatures(log_signed_note() + THEIR_LINE, witnesses=[other.key])
    assert found == []
    problem = verifier.witness_problem(found, witnesses=[other.key], minimum=1)
    assert problem is not None
    assert "witness.example/w2" in problem
    assert "split view" in problem


def test_the_specifications_example_has_our_layout() -> None:
    """c2sp.org/tlog-cosignature's example checkpoint: its witness line is a 4-byte key id, an 8-byte big-endian time
    and a 64-byte signature, and that time is the one in the specification's example of the signed message. (The
    example's witness public key is not published, so its signature itself cannot be checked.)"""
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo"
        "+zyWE+xeMcTOAYQ8=\n"
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    note = verifier.parse_note(example)
    log_line, witness_line = note.signatures
    assert len(log_line.signature) == 64  # a plain Ed25519 note signature
    assert len(witness_line.signature) == 8 + 64
    assert int.from_bytes(witness_line.signature[:8], "big") == 1679315147
    assert verifier.cosignature_message(note.body, 1679315147).startswith(b"cosignature/v1\ntime 1679315147\n")
