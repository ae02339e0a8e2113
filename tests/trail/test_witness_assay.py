"""Assay with witnesses running as separate processes: each checkpoint gathers their cosignatures, the API and the
exports carry them, and a split view (a second history signed with Assay's real key) gathers none and fails every
verifier that requires a witness."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from governance.exports.models import Export
from governance.trail import verifier
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import load_signing_key
from governance.trail.models import Cosignature, Event
from governance.trail.witnesses import cosigned_note, request_body
from tests.conftest import Cast
from tests.exports.conftest import API, Evidence, arrange_evidence, run_verify, trusted_keys_text
from tests.trail import witness_processes as wp
from tests.trail.helpers import append, run_offline_verifier, run_verify_trail


@pytest.fixture
def cosigning(unprotected_trail: None) -> Iterator[None]:
    """Committed transactions, as in production (cosignatures are gathered once the checkpoint commits); what
    refers to checkpoints is removed before the trail is emptied."""
    yield
    for export in Export.objects.order_by("-id"):
        export.delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_cosignature")


@pytest.fixture
def evidence(cast: Cast, settings: Any, tmp_path: Path) -> Evidence:
    """A model version with an audit, to export (as in tests/exports)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return arrange_evidence(cast)


def export_bundle(cast: Cast, evidence: Evidence) -> tuple[Export, bytes]:
    """An officer exports the evidence model for the regulator (built at once: this test's transactions commit)."""
    client = cast.officer.client()
    made = client.post(f"{API}/exports/", {"model": evidence.model_name, "recipient": "regina"}, format="json")
    assert made.status_code == 201, made.content
    response = client.get(f"{API}/exports/{made.json()['id']}/download")
    assert response.status_code == 200
    bundle = b"".join(response.streaming_content) if response.streaming else response.content
    return Export.objects.get(pk=made.json()["id"]), bundle


def start_witnesses(tmp_path: Path, *names: str) -> list[wp.RunningWitness]:
    log = (settings.TRAIL_ORIGIN, load_signing_key().verifier_key)
    running = []
    for name in names:
        folder = tmp_path / name.rsplit("/", 1)[1]
        wp.keygen(folder, name)
        running.append(wp.start(folder, name, [log]))
    return running


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[wp.RunningWitness]]:
    running = start_witnesses(tmp_path, "witness.example/w1", "witness.example/w2", "witness.example/w3")
    yield running
    for witness in running:
        witness.stop()


def use(settings: Any, *chosen: wp.RunningWitness) -> None:
    settings.TRAIL_WITNESSES = [f"{witness.url} {witness.key}" for witness in chosen]


def keys(*chosen: wp.RunningWitness) -> list[verifier.WitnessKey]:
    return [verifier.parse_witness_key(witness.key) for witness in chosen]


def test_each_checkpoint_is_cosigned_and_served_with_the_cosignatures(
    cast: Cast, cosigning: None, witnesses: list[wp.RunningWitness], settings: Any
) -> None:
    w1, w2, _ = witnesses
    use(settings, w1, w2)
    append(5)
    first = issue_checkpoint()
    assert first is not None
    assert [c.witness_name for c in first.cosignatures.all()] == ["witness.example/w1", "witness.example/w2"]
    append(3, start=5)
    second = issue_checkpoint()  # this time with a consistency proof from the size they cosigned
    assert second is not None
    assert second.cosignatures.count() == 2

    response = cast.officer.client().get("/api/v1/trail/checkpoints/latest?format=note")
    assert response.status_code == 200
    note = response.content.decode()
    assert note == cosigned_note(second)
    found = verifier.verify_cosignatures(note, witnesses=keys(w1, w2))
    assert [c.witness.name for c in found] == ["witness.example/w1", "witness.example/w2"]
    log_key = verifier.parse_verifier_key(load_signing_key().verifier_key)
    assert verifier.verify_checkpoint(note, keys=[log_key]).tree_size == second.tree_size  # lines of others ignored
    body = cast.officer.client().get("/api/v1/trail/checkpoints/latest").json()
    assert [c["witness"] for c in body["cosignatures"]] == ["witness.example/w1", "witness.example/w2"]

    code, output = run_verify_trail("--witness", w1.key, "--witness", w2.key, "--min-witnesses", "2")
    assert code == 0, output
    assert "cosigned by witness.example/w1" in output
    code, output = run_verify_trail("--witness", witnesses[2].key)
    assert code == 1, output
    assert "not cosigned by: witness.example/w3" in output


def test_an_export_folder_carries_the_cosignatures_to_the_offline_verifier(
    cosigning: None, witnesses: list[wp.RunningWitness], settings: Any, tmp_path: Path
) -> None:
    w1, w2, w3 = witnesses
    use(settings, w1, w2)
    append(4)
    out = tmp_path / "export"
    call_command("export_trail", "--out", str(out), stdout=StringIO())  # issues a checkpoint: cosigned by both
    trusted = ("--trusted-keys", out / "keys.txt")
    result = run_offline_verifier(
        "verify", out, *trusted, "--witness", w1.key, "--witness", w2.key, "--min-witnesses", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "cosigned by witness.example/w1" in result.stdout
    assert "witness.example/w2" in result.stdout
    (out / "witnesses.txt").write_text(f"# the witnesses we require\n{w3.key}\n{w1.key}\n")
    result = run_offline_verifier("verify", out, *trusted, "--witness", out / "witnesses.txt", "--min-witnesses", "2")
    assert result.returncode == 1
    assert (
        "cosigned by 1 of the given witnesses, at least 2 required (not cosigned by: witness.example/w3"
        in result.stderr
    )
    result = run_offline_verifier("verify", out, *trusted, "--witness", w1.key, "--min-witnesses", "2")
    assert result.returncode == 2  # asking for more witnesses than named is a usage error
    assert "needs at least that many --witness keys" in result.stderr


def test_a_witness_that_lost_track_tells_its_size_and_the_checkpoint_is_still_cosigned(
    cosigning: None, witnesses: list[wp.RunningWitness], settings: Any
) -> None:
    w1 = witnesses[0]
    append(6)
    earlier = issue_checkpoint()  # no witness configured yet: nobody cosigned it
    assert earlier is not None
    status, _, _ = wp.post(w1.url, request_body(0, [], earlier.note))  # someone else showed it to w1
    assert status == 200
    use(settings, w1)
    append(2, start=6)
    later = issue_checkpoint()  # we think w1 saw nothing (old 0); it answers 409 "6", and we prove from 6
    assert later is not None
    assert later.cosignatures.count() == 1


def test_a_witness_that_is_down_never_stops_a_checkpoint(cosigning: None, settings: Any, tmp_path: Path) -> None:
    (down,) = start_witnesses(tmp_path, "witness.example/down")
    down.stop()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TRAIL_WITNESSES = [f"http://127.0.0.1:{port} {down.key}"]
    append(3)
    checkpoint = issue_checkpoint()
    assert checkpoint is not None
    assert not Cosignature.objects.exists()
    code, output = run_verify_trail("--witness", down.key)
    assert code == 1
    assert "split view" in output


def test_a_split_view_gathers_no_cosignature_and_its_bundle_fails_with_min_witnesses(
    cast: Cast, cosigning: None, evidence: Evidence, witnesses: list[wp.RunningWitness], settings: Any
) -> None:
    w1, w2, w3 = witnesses
    use(settings, w1, w2)
    shared = issue_checkpoint()  # the history everyone saw so far
    assert shared is not None
    assert shared.cosignatures.count() == 2

    # The operator forks: the same key and origin sign a second history after the shared prefix, and the witnesses
    # are shown that one (the view the public gets)...
    key = load_signing_key()
    hashes = [bytes(h) for h in Event.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    public = wp.MemoryLog(settings.TRAIL_ORIGIN, key.name, key.private_key, hashes[: shared.tree_size])
    public.append(b'{"another":"history"}', b'{"another":"event"}', b'{"and":"more"}')
    for witness in (w1, w2):
        status, _, answer = wp.post(
            witness.url, request_body(shared.tree_size, public.proof(shared.tree_size), public.checkpoint())
        )
        assert status == 200, answer

    # ...while the regulator gets a bundle of the stored history, which grew differently.
    export, bundle = export_bundle(cast, evidence)
    assert export.checkpoint.tree_size > shared.tree_size
    assert export.checkpoint.cosignatures.count() == 0  # both witnesses refused it

    files = {"keys.txt": trusted_keys_text().encode()}
    plain = run_verify(bundle, "--trusted-keys", "keys.txt", files=files)
    assert plain.code == 0, plain.text  # signed by the real key: without witnesses nothing looks wrong
    split = run_verify(bundle, "--trusted-keys", "keys.txt", "--witness", w1.key, "--witness", w2.key, files=files)
    assert split.code == 1, split.text
    assert "cosigned by 0 of the given witnesses, at least 1 required" in split.text
    assert "split view" in split.text

    # Each witness kept the refused checkpoint, signed with the operator's key: proof of the fork.
    for witness in (w1, w2):
        evidence_files = list((witness.folder / "state" / "evidence").iterdir())
        assert any(export.checkpoint.note in path.read_text() for path in evidence_files)

    # A witness that never saw the other history cosigns the next checkpoint, and a bundle can show it.
    use(settings, w3)
    _, bundle = export_bundle(cast, evidence)
    witnessed = run_verify(bundle, "--trusted-keys", "keys.txt", "--witness", w3.key, files=files)
    assert witnessed.code == 0, witnessed.text
    assert "cosigned by witness.example/w3" in witnessed.text
