"""The witness program (governance/trail/witness.py) over real HTTP, as a separate process with its own key.

Each answer is the one C2SP tlog-witness prescribes: 200 and a cosignature that verifies against the witness key;
409 with ``text/x.tlog.size`` when the client's old size is not the witness's; 400 for a rollback; 409 or 422 for a
fork; 403 for a checkpoint not signed by the log's key; 404 for an unknown log. State survives a crash.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail import verifier
from governance.trail.witnesses import request_body
from tests.trail import witness_processes as wp

ORIGIN = "example.org/log"


@pytest.fixture
def log() -> wp.MemoryLog:
    return wp.MemoryLog(ORIGIN, "example-log").append(*(b"leaf %d" % i for i in range(8)))


@pytest.fixture
def witness(tmp_path: Path, log: wp.MemoryLog) -> Iterator[wp.RunningWitness]:
    wp.keygen(tmp_path / "w1", "witness.example/w1")
    running = wp.start(tmp_path / "w1", "witness.example/w1", [(ORIGIN, log.key)])
    yield running
    running.stop()


def submit(witness: wp.RunningWitness, log: wp.MemoryLog, old: int, size: int | None = None) -> tuple[int, str, str]:
    size = len(log.hashes) if size is None else size
    return wp.post(witness.url, request_body(old, log.proof(old, size), log.checkpoint(size)))


def cosigned_by(witness: wp.RunningWitness, note: str, answer: str) -> list[verifier.Cosignature]:
    return verifier.verify_cosignatures(note + answer, witnesses=[verifier.parse_witness_key(witness.key)])


def test_a_first_checkpoint_and_a_consistent_successor_are_cosigned(
    witness: wp.RunningWitness, log: wp.MemoryLog
) -> None:
    status, _, answer = submit(witness, log, 0, 5)
    assert status == 200, answer
    assert [c.witness.name for c in cosigned_by(witness, log.checkpoint(5), answer)] == ["witness.example/w1"]

    log.append(b"leaf 8", b"leaf 9")
    status, _, answer = submit(witness, log, 5)
    assert status == 200, answer
    assert len(cosigned_by(witness, log.checkpoint(), answer)) == 1

    status, _, answer = submit(witness, log, 10)  # the same checkpoint again: cosigned again (fresh time)
    assert status == 200, answer


def test_a_stale_old_size_gets_409_with_the_witness_size(witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    assert submit(witness, log, 0, 6)[0] == 200
    assert submit(witness, log, 0, 8) == (409, "text/x.tlog.size", "6\n")
    assert submit(witness, log, 4, 8) == (409, "text/x.tlog.size", "6\n")
    assert submit(witness, log, 6, 8)[0] == 200


def test_a_rolled_back_checkpoint_is_refused(witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    assert submit(witness, log, 0, 8)[0] == 200
    rollback = request_body(8, [], log.checkpoint(5))  # old 8 is the witness's size, but the checkpoint is smaller
    assert wp.post(witness.url, rollback)[0] == 400
    assert submit(witness, log, 5, 5) == (409, "text/x.tlog.size", "8\n")


def test_a_fork_is_refused_and_kept_as_evidence(witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    assert submit(witness, log, 0, 6)[0] == 200
    other = log.fork(4).append(b"another leaf 4", b"another leaf 5")  # same key, same origin, another history
    status, _, answer = submit(witness, other, 6, 6)
    assert status == 409, answer  # same size, another root
    assert "forked" in answer

    other.append(b"another leaf 6", b"another leaf 7")
    status, _, answer = submit(witness, other, 6, 8)  # a proof from 6 to 8 in the other history
    assert status == 422, answer
    evidence = sorted((witness.folder / "state" / "evidence").iterdir())
    assert len(evidence) == 2
    assert any(other.checkpoint(8) in path.read_text() for path in evidence)

    assert submit(witness, log, 6, 8)[0] == 200  # the history it saw still goes on


def test_a_bad_proof_is_422(witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    assert submit(witness, log, 0, 3)[0] == 200
    proof = log.proof(3, 8)
    proof[0] = bytes(32)
    assert wp.post(witness.url, request_body(3, proof, log.checkpoint(8)))[0] == 422
    assert wp.post(witness.url, request_body(0, [bytes(32)], log.checkpoint(8)))[0] == 409  # old 0 is not its size


def test_unknown_logs_and_other_keys_are_refused(witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    stranger = wp.MemoryLog("example.org/other-log", "example-log").append(b"x")
    assert submit(witness, stranger, 0)[0] == 404
    impostor = wp.MemoryLog(ORIGIN, "example-log", Ed25519PrivateKey.generate(), list(log.hashes))
    assert submit(witness, impostor, 0)[0] == 403
    tampered = log.checkpoint(8).replace("\n8\n", "\n9\n", 1)
    assert wp.post(witness.url, request_body(0, [], tampered))[0] == 403


@pytest.mark.parametrize(
    "body",
    [b"", b"old 01\n\n", b"new 0\n\n", b"old 0\nnot base64!\n\n", b"old 0\n" + base64.b64encode(b"short") + b"\n\n"],
)
def test_malformed_requests_are_400(witness: wp.RunningWitness, log: wp.MemoryLog, body: bytes) -> None:
    assert wp.post(witness.url, body + log.checkpoint(8).encode())[0] == 400


def test_a_restarted_witness_remembers_what_it_cosigned(
    tmp_path: Path, witness: wp.RunningWitness, log: wp.MemoryLog
) -> None:
    assert submit(witness, log, 0, 7)[0] == 200
    witness.stop()  # SIGKILL: no chance to save anything now
    again = wp.start(tmp_path / "w1", "witness.example/w1", [(ORIGIN, log.key)])
    try:
        assert again.key == witness.key
        assert submit(again, log, 0, 8) == (409, "text/x.tlog.size", "7\n")
        fork = log.fork(5).append(b"x", b"y", b"z")
        assert submit(again, fork, 7, 8)[0] == 422
        assert submit(again, log, 7, 8)[0] == 200
    finally:
        again.stop()


def test_a_second_process_cannot_share_the_state(tmp_path: Path, witness: wp.RunningWitness, log: wp.MemoryLog) -> None:
    with pytest.raises(RuntimeError, match="another witness process"):
        wp.start(tmp_path / "w1", "witness.example/w1", [(ORIGIN, log.key)])


def test_manage_py_witness_runs_the_same_program(tmp_path: Path) -> None:
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    result = subprocess.run(
        [sys.executable, str(manage), "witness", "keygen", "--name", "witness.example/m", "--out", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "DEBUG": "1"},
    )
    assert result.returncode == 0, result.stderr
    key = verifier.parse_witness_key(result.stdout.strip())
    assert key.name == "witness.example/m"
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
