"""A gate decision verified against the trail and its witnesses: the service proves a decision once a checkpoint
covers it, and ``decision_proof.py`` (copied into an empty folder beside ``verifier.py``, run as an outside party
runs it) accepts a pass only when the token is the proved event's, the inclusion proof leads to the signed
checkpoint, and the required witnesses, running as separate processes, cosigned that checkpoint."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from audits.gate import client, decision_proof
from governance.trail import log, sequencer
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import published_verifier_keys
from governance.trail.models import Event
from governance.trail.queue_db import drop_queue_triggers, install_queue_triggers
from registry import actions as registry
from tests.api import assert_error
from tests.conftest import Cast
from tests.registry.conftest import acting, new_member, register_model
from tests.trail import witness_processes as wp
from tests.trail.helpers import append, as_attacker
from tests.trail.test_witness_assay import start_witnesses, use

GATE = "/api/v1/gates/check"
GATE_DIR = Path(__file__).resolve().parents[2] / "audits" / "gate"
MODEL = "fraud-alerts"


@pytest.fixture
def cosigning(unprotected_trail: None) -> Iterator[None]:
    """Committed transactions, as in production: cosignatures are gathered once a checkpoint commits. They refer to
    checkpoints, so they go before the trail is emptied."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_cosignature")


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[wp.RunningWitness]]:
    running = start_witnesses(tmp_path, "witness.example/w1", "witness.example/w2")
    yield running
    for witness in running:
        witness.stop()


@pytest.fixture
def approved(cast: Cast) -> str:
    """A minimal-risk model (no audit required) whose version 1 one reviewer approved: the gate passes it."""
    model = register_model(cast, "minimal", name=MODEL)
    version = registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_approve(version=version, user=cast.reviewer.user, actor=acting(cast.reviewer))
    return model.name


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An empty folder holding the two programs an outside party runs, and the trail's published keys."""
    folder = tmp_path / "outside"
    folder.mkdir()
    shutil.copyfile(GATE_DIR / "decision_proof.py", folder / "decision_proof.py")
    shutil.copyfile(wp.TRAIL / "verifier.py", folder / "verifier.py")
    return folder


@dataclass
class World:
    """The cast, the approved model, two witnesses (neither configured yet) and the outside party's folder."""

    cast: Cast
    w1: wp.RunningWitness
    w2: wp.RunningWitness
    outside: Path


@pytest.fixture
def world(cast: Cast, cosigning: None, witnesses: list[wp.RunningWitness], approved: str, outside: Path) -> World:
    return World(cast, *witnesses, outside)


def ask(cast: Cast) -> dict[str, Any]:
    response = cast.ci.client().post(GATE, {"model": MODEL, "version": 1, "environment": "production"}, format="json")
    body = response.json()
    assert (response.status_code, body["decision"]) == (200, "pass"), body
    return body


def proof_of(cast: Cast, body: dict[str, Any]) -> dict[str, Any]:
    response = cast.ci.client().get(body["proof_url"])
    assert response.status_code == 200, response.content
    return response.json()


def verify(folder: Path, token: str, proof: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    """``python decision_proof.py TOKEN --proof FILE --trusted-keys keys.txt ...`` with no Assay on the path."""
    (folder / "proof.json").write_text(json.dumps(proof), encoding="utf-8")
    (folder / "keys.txt").write_text("".join(f"{key}\n" for key in published_verifier_keys()), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "decision_proof.py", token, "--proof", "proof.json", "--trusted-keys", "keys.txt", *options],
        cwd=folder,
        env=wp.ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_pass_is_proved_once_a_checkpoint_covers_it_and_verifies_with_the_witness_that_cosigned(
    world: World, settings: Any
) -> None:
    cast, outside = world.cast, world.outside
    w1, w2 = world.w1, world.w2
    use(settings, w1)  # Assay asks w1 only
    issue_checkpoint()  # the trail so far: a decision made now is after it
    body = ask(cast)
    assert body["decision_id"] == Event.objects.get(action="gate.decided").seq
    assert body["proof_url"] == f"/api/v1/gates/decisions/{body['decision_id']}/proof"

    # No checkpoint covers the decision yet, and none is due: the service says so, and that it will come.
    early = cast.ci.client().get(body["proof_url"])
    error = assert_error(early, 409, "not_checkpointed")
    assert error["details"]["covered"] is False
    assert error["details"]["wait"] is True
    assert int(early["Retry-After"]) == error["details"]["retry_after_seconds"] > 0
    assert f"No checkpoint covers gate decision {body['decision_id']} yet" in error["message"]

    issue_checkpoint()
    proof = proof_of(cast, body)
    assert proof["format"] == "assay-gate-proof/1"
    assert [c["witness"] for c in proof["cosignatures"]] == ["witness.example/w1"]

    accepted = verify(outside, body["token"], proof, "--witness", w1.key, "--min-witnesses", "1")
    assert accepted.returncode == 0, accepted.stderr
    assert f"OK: gate decision {body['decision_id']} (pass for {MODEL} v1 in production)" in accepted.stdout
    assert "cosigned by witness.example/w1" in accepted.stdout
    as_json = verify(outside, body["token"], proof, "--witness", w1.key, "--json", "--expect-model", MODEL)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["cosigned_by"] == [w1.key]

    # The proof is also verifier.py's inclusion-proof format (docs/gate.md says so).
    (outside / "checkpoint.note").write_text(proof["checkpoint"], encoding="utf-8")
    held = ("--checkpoint", "checkpoint.note", "--trusted-keys", "keys.txt")
    inclusion = subprocess.run(
        [sys.executable, "verifier.py", "inclusion", "proof.json", *held],
        cwd=outside,
        env=wp.ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert inclusion.returncode == 0, inclusion.stderr
    assert f"leaf {body['decision_id']} is included" in inclusion.stdout

    # w2 was never asked: requiring it fails, and the failure names it.
    refused = verify(outside, body["token"], proof, "--witness", w2.key, "--min-witnesses", "1")
    assert refused.returncode == 1, refused.stdout
    assert "cosigned by 0 of the given witnesses, at least 1 required (not cosigned by: witness.example/w2" in (
        refused.stderr
    )


def test_without_witnesses_configured_a_required_witness_is_named_as_missing(world: World) -> None:
    cast, outside, w1 = world.cast, world.outside, world.w1
    body = ask(cast)
    issue_checkpoint()  # signed by Assay alone
    proof = proof_of(cast, body)
    assert proof["cosignatures"] == []
    assert verify(outside, body["token"], proof).returncode == 0  # without --witness: the trail's key suffices
    refused = verify(outside, body["token"], proof, "--witness", w1.key, "--min-witnesses", "1")
    assert refused.returncode == 1
    assert "not cosigned by: witness.example/w1 (key id" in refused.stderr


def test_a_token_whose_decision_is_not_the_proved_event_fails(world: World, settings: Any) -> None:
    cast, outside = world.cast, world.outside
    w1 = world.w1
    use(settings, w1)
    first, second = ask(cast), ask(cast)  # two passes: two tokens, two events
    issue_checkpoint()
    proof = proof_of(cast, second)
    assert verify(outside, second["token"], proof, "--witness", w1.key).returncode == 0
    swapped = verify(outside, first["token"], proof, "--witness", w1.key)
    assert swapped.returncode == 1
    assert "the proved event is not this token's decision: its payload token_sha256 is" in swapped.stderr


def test_a_tampered_inclusion_proof_or_event_fails(world: World, settings: Any) -> None:
    cast, outside = world.cast, world.outside
    w1 = world.w1
    use(settings, w1)
    issue_checkpoint()
    body = ask(cast)
    ask(cast)  # a later event, so that the decision's inclusion proof is not empty
    issue_checkpoint()
    proof = proof_of(cast, body)
    assert proof["proof"], proof
    first = proof["proof"][0]
    tampered = {**proof, "proof": ["0" + first[1:] if first[0] != "0" else "1" + first[1:], *proof["proof"][1:]]}
    refused = verify(outside, body["token"], tampered, "--witness", w1.key)
    assert refused.returncode == 1
    assert "inclusion proof does not verify against the checkpoint" in refused.stderr

    # Another event's leaf in place of the decision's: neither the token's nor on the proved path.
    other = Event.objects.exclude(seq=body["decision_id"]).order_by("-seq").first()
    assert other is not None
    swapped = {**proof, "leaf": bytes(other.leaf).decode(), "leaf_hash": bytes(other.leaf_hash).hex()}
    refused = verify(outside, body["token"], swapped, "--witness", w1.key)
    assert refused.returncode == 1
    assert "the proved event is not this token's decision" in refused.stderr
    assert "inclusion proof does not verify" in refused.stderr


def test_when_the_trail_no_longer_verifies_the_answer_says_not_to_wait(
    cast: Cast, cosigning: None, approved: str, settings: Any
) -> None:
    issue_checkpoint()
    body = ask(cast)
    append(1)  # an event after the checkpoint, which someone with database access then edits
    edited = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET object_id = 'x' WHERE seq = %s", [edited]))
    settings.TRAIL_CHECKPOINT_EVERY_EVENTS = 1  # a checkpoint is due: asking for the proof tries to issue it

    response = cast.ci.client().get(body["proof_url"])
    error = assert_error(response, 409, "not_checkpointed")
    assert error["details"]["wait"] is False
    assert error["details"]["retry_after_seconds"] is None
    assert "Retry-After" not in response
    assert (
        f"none can be issued: the trail does not verify since its last checkpoint (first bad event: {edited})"
        in (error["message"])
    )


def test_a_decision_is_proved_only_to_tokens_that_see_its_model(cast: Cast, cosigning: None, approved: str) -> None:
    body = ask(cast)
    issue_checkpoint()
    hiring_ci = new_member("hiring-ci", "ci", ["hiring"])
    for caller, url in [
        (hiring_ci.client(), body["proof_url"]),  # another team's pipeline
        (cast.ci.client(), "/api/v1/gates/decisions/99999/proof"),  # no such event
        (cast.ci.client(), f"/api/v1/gates/decisions/{body['decision_id'] - 1}/proof"),  # not a gate decision
    ]:
        assert_error(caller.get(url), 404, "not_found")
    assert Event.objects.filter(action="access.denied").count() == 1  # the reach out of scope is recorded
    assert proof_of(cast, body)["decision"] == body["decision_id"]


def run_client(folder: Path, url: str, token: str, *options: str) -> subprocess.CompletedProcess[str]:
    """The served client as a pipeline runs it: ``python gate.py ...`` in its own folder, the API token in
    ASSAY_TOKEN."""
    arguments = ["gate.py", "--url", url, "--model", MODEL, "--version", "1", "--environment", "production"]
    return subprocess.run(
        [sys.executable, *arguments, *options],
        cwd=folder,
        env={**wp.ENVIRONMENT, "ASSAY_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_client_deploys_on_a_pass_only_once_the_required_witness_vouches_for_it(
    live_server: Any, world: World, settings: Any, tmp_path: Path
) -> None:
    cast, w1, w2 = world.cast, world.w1, world.w2
    use(settings, w1)
    settings.TRAIL_CHECKPOINT_EVERY_SECONDS = 1  # the next checkpoint is due a second after the last
    settings.TRAIL_CHECKPOINT_EVERY_EVENTS = 1000
    issue_checkpoint()
    pipeline = tmp_path / "pipeline"
    pipeline.mkdir()
    for name, saved in (("client.py", "gate.py"), ("decision_proof.py", "decision_proof.py"), ("verifier.py", None)):
        response = cast.ci.client().get(f"/api/v1/gates/{name}")  # the programs as the server serves them
        assert response.status_code == 200
        (pipeline / (saved or name)).write_bytes(response.content)
    (pipeline / "keys.txt").write_text("".join(f"{key}\n" for key in published_verifier_keys()), encoding="utf-8")
    witnessed = ("--trusted-keys", "keys.txt", "--token-out", "token.txt", "--proof-out", "proof.json")

    passed = run_client(pipeline, live_server.url, cast.ci.token, *witnessed, "--witness", w1.key)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "OK: gate decision" in passed.stdout
    assert "cosigned by witness.example/w1" in passed.stdout
    token = (pipeline / "token.txt").read_text().strip()
    assert json.loads((pipeline / "proof.json").read_text())["format"] == "assay-gate-proof/1"

    (pipeline / "token.txt").unlink()
    unvouched = run_client(pipeline, live_server.url, cast.ci.token, *witnessed, "--witness", w2.key)
    assert unvouched.returncode == 4, unvouched.stdout + unvouched.stderr
    assert "not cosigned by: witness.example/w2" in unvouched.stderr
    assert not (pipeline / "token.txt").exists()  # nothing downstream can deploy on an unvouched pass

    (pipeline / "decision_proof.py").unlink()
    alone = run_client(pipeline, live_server.url, cast.ci.token, *witnessed, "--witness", w1.key)
    assert alone.returncode == 3
    assert "--witness needs decision_proof.py and verifier.py beside this client" in alone.stderr
    assert token.startswith("assay-gate.v1.")


def documented_commands() -> list[tuple[str, list[str]]]:
    """The ``python decision_proof.py`` and ``python gate.py`` commands of the docs' shell blocks, as arguments (an
    input redirection left out)."""
    found = []
    for page in ("gate.md", "witnesses.md"):
        text = (GATE_DIR.parents[1] / "docs" / page).read_text(encoding="utf-8")
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if not line.startswith(("python decision_proof.py ", "python gate.py ")):
                    continue
                words = shlex.split(line, comments=True)
                if "<" in words:
                    del words[words.index("<") : words.index("<") + 2]
                found.append((words[1], words[2:]))
    return found


def test_the_documented_commands_are_ones_the_programs_accept() -> None:
    commands = documented_commands()
    assert sorted(program for program, _ in commands) == [
        "decision_proof.py",
        "decision_proof.py",
        "gate.py",
        "gate.py",
    ]
    for program, arguments in commands:
        if program == "gate.py":
            parsed = client._arguments(arguments)
            assert parsed.witness, arguments
            assert parsed.trusted_keys == "keys.txt", arguments
        else:
            parsed = decision_proof._arguments().parse_args(arguments)
            assert (parsed.token, parsed.proof, parsed.min_witnesses) == ("-", "gate-proof.json", 1), arguments
            assert parsed.witness, arguments


@pytest.fixture
def emptied_queue() -> Iterator[None]:
    """Afterwards the trail's queue is emptied (its triggers dropped for that, then restored)."""
    yield
    drop_queue_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_queuedevent")
    install_queue_triggers(connection)


@pytest.mark.usefixtures("emptied_queue")
def test_in_batched_mode_the_client_waits_for_the_decision_s_place_in_the_trail_then_for_its_proof(
    live_server: Any, world: World, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast, w1 = world.cast, world.w1
    use(settings, w1)
    settings.TRAIL_CHECKPOINT_EVERY_SECONDS = 1
    settings.TRAIL_CHECKPOINT_EVERY_EVENTS = 1000
    ask(cast)  # the first pass publishes the signing key (a trail event of its own)
    issue_checkpoint()
    # Batched, and no writer sequences after its commit (as with a dedicated sequencer process): the decision stays
    # queued until the sequencer runs, here whenever the client pauses between two questions (the client, run in
    # this process, is given a clock whose sleep runs the sequencer first).
    settings.TRAIL_SEQUENCING = "batched"
    monkeypatch.setattr(log, "_queue_listeners", [])
    pauses: list[float] = []

    def sequencer_runs(seconds: float) -> None:
        pauses.append(seconds)
        sequencer.sequence_all()
        time.sleep(seconds)

    monkeypatch.setattr(client, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sequencer_runs))
    monkeypatch.setenv("ASSAY_TOKEN", cast.ci.token)
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"{key}\n" for key in published_verifier_keys()), encoding="utf-8")
    arguments = ["--url", live_server.url, "--model", MODEL, "--version", "1", "--environment", "production"]
    arguments += ["--trusted-keys", str(keys), "--witness", w1.key, "--token-out", str(tmp_path / "token.txt")]

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = client.main(arguments)
    printed = output.getvalue()
    assert status == 0, printed
    assert "recorded, queued in the trail as" in printed
    assert "waiting for the trail to sequence decision" in printed
    assert "OK: gate decision" in printed
    assert pauses  # it did wait for the sequencer
    token = (tmp_path / "token.txt").read_text().strip()
    (decided,) = Event.objects.filter(action="gate.decided").order_by("-seq")[:1]
    assert decided.payload["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
