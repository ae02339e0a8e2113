"""Evidence bundles end to end: an officer exports, a regulator verifies offline with only Python and
``cryptography``, and every way of tampering with the bundle fails with its own message."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.exports.bundle import BundleWriter, signature_line
from governance.exports.models import Export
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import load_signing_key
from governance.trail.log import prove_inclusion
from governance.trail.models import Event
from governance.trail.note import checkpoint_body, ed25519_key_id, sign_note
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.exports.conftest import (
    _BARE,
    API,
    Evidence,
    arrange_evidence,
    members,
    post_export,
    rewrite,
    run_verify,
    trusted_keys_text,
)


def export(cast: Cast, body: dict[str, Any]) -> dict[str, Any]:
    return post_export(cast.officer.client(), body)


def download(cast: Cast, export_id: int) -> Any:
    response = cast.officer.client().get(f"{API}/exports/{export_id}/download")
    assert response.status_code == 200, response.content[:300]
    return response


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def keys_file() -> dict[str, bytes]:
    return {"keys.txt": trusted_keys_text().encode()}


def verify(bundle: bytes, *args: str, files: dict[str, bytes] | None = None) -> Any:
    return run_verify(bundle, "--trusted-keys", "keys.txt", *args, files={**keys_file(), **(files or {})})


@pytest.fixture
def exported(cast: Cast, evidence: Evidence) -> tuple[dict[str, Any], bytes]:
    """One bundle of the evidence model, exported by the officer for the regulator."""
    made = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    return made, body_of(download(cast, made["id"]))


# --- the round trip --------------------------------------------------------------------------------------------


def test_an_officer_exports_and_a_regulator_verifies_offline(cast: Cast, evidence: Evidence) -> None:
    seq = last_seq()
    made = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    bundle = body_of(download(cast, made["id"]))
    assert hashlib.sha256(bundle).hexdigest() == made["sha256"]
    files = members(bundle)
    run = evidence.run_id
    for name in (
        "README.txt",
        "verify.py",
        "keys/trail-keys.txt",
        "keys/report-signing-cert.pem",
        "model/model.json",
        "model/versions/v1/version.json",
        "model/versions/v1/model-card.json",
        "model/versions/v1/lineage.prov.json",
        "model/versions/v1/report.pdf",
        f"audits/run-{run}/results.json",
        f"audits/run-{run}/report.pdf",
        "consent/coverage.json",
        "trail/checkpoint.note",
        "trail/events.jsonl",
        "trail/proofs.jsonl",
        "manifest.json",
        "manifest.sig",
    ):
        assert name in files, name
    assert list(files)[-2:] == ["manifest.json", "manifest.sig"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "assay-bundle/1"
    assert manifest["exporter"] == {"user": cast.officer.user.pk}
    assert manifest["recipient"] == {"user": cast.regulator.user.pk}
    assert manifest["scope"] == {"model": evidence.model_name, "version": None, "from": None, "to": None}
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "manifest.sig"}
    for name, entry in listed.items():
        assert entry == {"path": name, "sha256": hashlib.sha256(files[name]).hexdigest(), "size": len(files[name])}
    assert files["trail/proofs.jsonl"].count(b"\n") == files["trail/events.jsonl"].count(b"\n") > 0
    assert files["verify.py"].startswith(b"#!/usr/bin/env python3")
    assert files["model/versions/v1/report.pdf"].startswith(b"%PDF")
    results = json.loads(files[f"audits/run-{run}/results.json"])
    assert results["run"] == run
    assert results["verdict"] == "pass"
    assert {c["check"] for c in results["checks"]} >= {"disparate_impact"}
    assert json.loads(files["model/versions/v1/lineage.prov.json"])["prefix"]

    # The export is an event with the bundle's hash, its manifest's hash, its scope and the checkpoint's size.
    [event] = events_since(seq, "export.created")
    row = Export.objects.get(pk=made["id"])
    assert event.payload["sha256"] == made["sha256"] == row.sha256
    assert event.payload["manifest_sha256"] == hashlib.sha256(files["manifest.json"]).hexdigest()
    assert event.payload["model"] == evidence.model_name
    assert event.payload["recipient"] == cast.regulator.user.pk
    assert event.payload["checkpoint_size"] == manifest["trail"]["checkpoint"]["tree_size"] == row.checkpoint.tree_size
    assert event.object_type == "governance.export"
    assert event.object_id == str(row.pk)

    verdict = verify(bundle)
    assert verdict.code == 0, verdict.text
    assert verdict.out.startswith("OK: manifest signed by assay-trail"), verdict.text
    # Without keys of their own the bundle's keys prove nothing: not verified (exit 2), unless explicitly accepted.
    verdict = run_verify(bundle)
    assert verdict.code == 2, verdict.text
    assert "WARNING: no --trusted-keys given" in verdict.err
    assert "NOT VERIFIED against keys you trust" in verdict.err
    verdict = run_verify(bundle, "--trust-bundle-keys")
    assert verdict.code == 0, verdict.text


def test_the_verifier_runs_without_assay_or_django(exported: tuple[dict[str, Any], bytes]) -> None:
    """The bare interpreter used by run_verify really cannot import Django: the round trip proves independence."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import cryptography; import django"],
        env={"PYTHONPATH": _BARE},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "No module named 'django'" in result.stderr


def test_every_event_in_the_bundle_is_the_exact_leaf_and_the_model_s(
    cast: Cast, evidence: Evidence, exported: tuple[dict[str, Any], bytes]
) -> None:
    _, bundle = exported
    files = members(bundle)
    lines = files["trail/events.jsonl"].splitlines()
    leaves = {json.loads(line)["seq"]: line for line in lines}
    stored = {e.seq: bytes(e.leaf) for e in Event.objects.filter(seq__in=list(leaves))}
    assert stored == leaves
    actions = {json.loads(line)["action"] for line in lines}
    assert {"model.registered", "model_version.registered", "audit.started", "audit.completed"} <= actions
    assert any(a.startswith("report.") for a in actions), actions
    # Events about other things (the consent records, the datasets) are not the model's, so not in its bundle.
    assert not actions & {"consent.recorded", "dataset.registered", "user.created"}


def test_the_bundle_holds_no_subject_level_data(cast: Cast, evidence: Evidence) -> None:
    made = export(cast, {"model": evidence.model_name})
    bundle = body_of(download(cast, made["id"]))
    files = members(bundle)
    everything = b"".join(files.values())
    for external_id, pseudonym in zip(evidence.external_ids, evidence.pseudonyms, strict=True):
        assert external_id.encode() not in everything
        assert pseudonym.encode() not in everything
    for name, data in files.items():
        if name.endswith((".json", ".jsonl", ".txt")):
            text = data.decode()
            for external_id, pseudonym in zip(evidence.external_ids, evidence.pseudonyms, strict=True):
                assert external_id not in text, name
                assert pseudonym not in text, name
    # The finding the withdrawal opened names its subject in the trail: the bundle proves that event by hash only.
    withheld = [json.loads(line) for line in files["trail/withheld.jsonl"].splitlines()]
    assert len(withheld) == 1
    event = Event.objects.get(seq=withheld[0]["seq"])
    assert event.action == "finding.opened"
    assert withheld[0]["leaf_hash"] == bytes(event.leaf_hash).hex()
    # Coverage is counts (12 subjects: above the floor), never who.
    coverage = json.loads(files["consent/coverage.json"])
    [training] = [d for d in coverage["datasets"] if d.get("subjects")]
    assert training["subjects"] == 12
    [purpose] = training["purposes"]
    assert (purpose["consenting"], purpose["withdrawn"]) == (11, 1)
    assert verify(bundle).code == 0


def test_small_datasets_give_no_counts(cast: Cast, media_root: Any, settings: Any) -> None:
    settings.COVERAGE_MIN_SUBJECTS = 50
    evidence = arrange_evidence(cast, name="tiny-model")
    made = export(cast, {"model": evidence.model_name})
    coverage = json.loads(members(body_of(download(cast, made["id"])))["consent/coverage.json"])
    [training] = [d for d in coverage["datasets"] if "applicants" in d["dataset"]]
    assert "purposes" not in training
    assert "subjects" not in training
    assert "fewer than 50 subjects" in training["note"]


def test_a_download_is_byte_identical_every_time(cast: Cast, exported: tuple[dict[str, Any], bytes]) -> None:
    made, bundle = exported
    again = download(cast, made["id"])
    assert body_of(again) == bundle
    assert again["ETag"] == f'"{made["sha256"]}"'
    assert again["Content-Type"] == "application/zip"
    cached = cast.officer.client().get(f"{API}/exports/{made['id']}/download", HTTP_IF_NONE_MATCH=f'"{made["sha256"]}"')
    assert cached.status_code == 304


def test_the_zip_is_deterministic(cast: Cast, evidence: Evidence, tmp_path: Any) -> None:
    """Same members, same bytes: fixed order, timestamps, permissions and compression."""

    def write() -> bytes:
        out = io.BytesIO()
        writer = BundleWriter(out)
        writer.add("b.txt", b"two")
        writer.add("a.txt", b"one")
        writer.finish({"exported_at": "2026-01-01T00:00:00Z"}, lambda data: b"sig\n")
        return out.getvalue()

    first = write()
    assert first == write()
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert [i.filename for i in archive.infolist()] == ["b.txt", "a.txt", "manifest.json", "manifest.sig"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- consistency with the previous export to the same recipient --------------------------------------------------


def test_each_bundle_proves_consistency_with_the_previous_export_to_the_same_recipient(
    cast: Cast, evidence: Evidence
) -> None:
    first = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    first_files = members(body_of(download(cast, first["id"])))
    assert "trail/consistency.json" not in first_files
    other = export(cast, {"model": evidence.model_name})  # for nobody in particular: not in regina's chain
    second = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    assert second["previous"] == first["id"]
    assert other["previous"] is None
    bundle = body_of(download(cast, second["id"]))
    files = members(bundle)
    assert files["trail/previous-checkpoint.note"] == first_files["trail/checkpoint.note"]
    proof = json.loads(files["trail/consistency.json"])
    assert proof["first_size"] == first["checkpoint"]["tree_size"]
    assert proof["second_size"] == second["checkpoint"]["tree_size"] > proof["first_size"]
    # The regulator kept the first bundle's checkpoint; the second bundle proves the trail only grew since.
    verdict = verify(
        bundle, "--previous-checkpoint", "held.note", files={"held.note": first_files["trail/checkpoint.note"]}
    )
    assert verdict.code == 0, verdict.text
    assert f"previous export's checkpoint (size {proof['first_size']})" in verdict.out


# --- tamper cases: each fails with its own message ---------------------------------------------------------------


def _flip(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _assert_fails(verdict: Any, message: str) -> None:
    assert verdict.code == 1, verdict.text
    assert message in verdict.err, verdict.text
    assert "verification FAILED" in verdict.err


def test_a_changed_file_fails(exported: tuple[dict[str, Any], bytes]) -> None:
    _, bundle = exported
    model_json = members(bundle)["model/model.json"]
    changed = rewrite(bundle, change={"model/model.json": _flip(model_json, b"minimal")})
    _assert_fails(verify(changed), "file changed: the SHA-256 of model/model.json is")
    pdf = members(bundle)["model/versions/v1/report.pdf"]
    changed = rewrite(bundle, change={"model/versions/v1/report.pdf": _flip(pdf, b"%PDF")})
    _assert_fails(verify(changed), "file changed: the SHA-256 of model/versions/v1/report.pdf")


def test_a_removed_file_fails(exported: tuple[dict[str, Any], bytes]) -> None:
    _, bundle = exported
    _assert_fails(
        verify(rewrite(bundle, change={"consent/coverage.json": None})),
        "file removed: consent/coverage.json is listed in the signed manifest but missing from the bundle",
    )
    _assert_fails(verify(rewrite(bundle, change={"manifest.sig": None})), "file removed: manifest.sig")


def test_an_extra_file_fails(exported: tuple[dict[str, Any], bytes]) -> None:
    _, bundle = exported
    _assert_fails(
        verify(rewrite(bundle, change={"audits/run-999/results.json": b"{}"})),
        "extra file: audits/run-999/results.json is in the bundle but not in the signed manifest",
    )


def test_a_manifest_re_signed_with_another_key_fails(exported: tuple[dict[str, Any], bytes]) -> None:
    _, bundle = exported
    forger = Ed25519PrivateKey.generate()

    public = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    name = load_signing_key().name  # the same name, so only the key id tells them apart

    def sign(data: bytes) -> bytes:
        return signature_line(key_name=name, key_id=ed25519_key_id(name, public), signature=forger.sign(data))

    model_json = members(bundle)["model/model.json"]
    forged = rewrite(bundle, change={"model/model.json": _flip(model_json, b"minimal")}, signer=sign)
    _assert_fails(verify(forged), "manifest re-signed with another key: manifest.sig is signed by assay-trail")
    # Replacing the bundle's own keys too does not help against keys the regulator holds.
    encoded = base64.b64encode(bytes([1]) + public).decode()
    forged_key = f"{name}+{ed25519_key_id(name, public).hex()}+{encoded}\n"
    forged = rewrite(
        bundle,
        change={"model/model.json": _flip(model_json, b"minimal"), "keys/trail-keys.txt": forged_key.encode()},
        signer=sign,
    )
    _assert_fails(verify(forged), "manifest re-signed with another key")
    # The signature covers the manifest's exact bytes: one changed byte in it, and it no longer verifies.
    files = members(bundle)
    manifest = files["manifest.json"].replace(b'"size": ', b'"size":  ', 1)
    _assert_fails(
        verify(rewrite(bundle, change={"manifest.json": manifest})),
        "manifest.sig does not verify with assay-trail",
    )


def test_a_proof_from_another_tree_fails_even_when_an_insider_re_signs(
    cast: Cast, exported: tuple[dict[str, Any], bytes]
) -> None:
    made, bundle = exported
    files = members(bundle)
    lines = files["trail/proofs.jsonl"].splitlines(keepends=True)
    record = json.loads(lines[0])
    size = made["checkpoint"]["tree_size"]
    issue_checkpoint(reason="test")  # the trail grows on; a proof in a larger tree leads to another root
    other = prove_inclusion(seq=record["seq"], size=size + 1)
    record["proof"] = [h.hex() for h in other]
    lines[0] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    forged = rewrite(bundle, change={"trail/proofs.jsonl": b"".join(lines)}, resign=True)
    _assert_fails(
        verify(forged),
        f"trail event {record['seq']} (line 1): its inclusion proof does not lead to the signed checkpoint's root",
    )


def test_a_truncated_trail_fails(cast: Cast, exported: tuple[dict[str, Any], bytes]) -> None:
    made, bundle = exported
    files = members(bundle)
    events = files["trail/events.jsonl"].splitlines(keepends=True)
    proofs = files["trail/proofs.jsonl"].splitlines(keepends=True)
    # Cut short in transit: the manifest's sizes say so.
    cut = rewrite(bundle, change={"trail/events.jsonl": b"".join(events[:-1])})
    _assert_fails(verify(cut), "file truncated: trail/events.jsonl has")
    # Cut short by an insider who signs the manifest again: the signed event count says so.
    cut = rewrite(
        bundle,
        change={"trail/events.jsonl": b"".join(events[:-1]), "trail/proofs.jsonl": b"".join(proofs[:-1])},
        resign=True,
    )
    _assert_fails(
        verify(cut),
        f"truncated trail: trail/events.jsonl holds {len(events) - 1} events, the signed manifest says {len(events)}",
    )
    # Rolled back: the regulator holds a checkpoint newer than the bundle's.
    later = issue_checkpoint(reason="test")
    assert later is not None
    assert later.tree_size > made["checkpoint"]["tree_size"]
    _assert_fails(
        verify(bundle, "--previous-checkpoint", "held.note", files={"held.note": later.note.encode()}),
        f"truncated: this bundle's trail ends at size {made['checkpoint']['tree_size']}",
    )


def test_a_previous_checkpoint_that_is_not_consistent_fails(cast: Cast, evidence: Evidence) -> None:
    first = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    second = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    bundle = body_of(download(cast, second["id"]))
    # A fork: a checkpoint validly signed (by whoever holds the key) for the first size, with another root.
    key = load_signing_key()
    body = checkpoint_body(
        origin=settings.TRAIL_ORIGIN,
        tree_size=first["checkpoint"]["tree_size"],
        root=hashlib.sha256(b"another history").digest(),
        extensions=(),
    )
    forked = sign_note(body, signers=[(key.name, key.private_key)])
    _assert_fails(
        verify(bundle, "--previous-checkpoint", "held.note", files={"held.note": forked.encode()}),
        "not consistent: the checkpoint you hold (held.note",
    )
    # The bundle's own consistency proof, altered (and re-signed): the previous checkpoint no longer links.
    files = members(bundle)
    proof = json.loads(files["trail/consistency.json"])
    proof["proof"][0] = hashlib.sha256(b"not a node").hexdigest()
    forged = rewrite(bundle, change={"trail/consistency.json": json.dumps(proof).encode()}, resign=True)
    _assert_fails(verify(forged), "not consistent: the previous export's checkpoint")


# --- the command -----------------------------------------------------------------------------------------------


def test_the_export_bundle_command(cast: Cast, evidence: Evidence, tmp_path: Any) -> None:
    out = tmp_path / "bundle.zip"
    stdout = io.StringIO()
    call_command(
        "export_bundle",
        "--model",
        evidence.model_name,
        "--version",
        "1",
        "--recipient",
        "regina",
        "--out",
        str(out),
        stdout=stdout,
    )
    export_row = Export.objects.get()
    assert out.read_bytes() == body_of(download(cast, export_row.pk))
    assert f"sha256 {export_row.sha256}" in stdout.getvalue()
    manifest = json.loads(members(out.read_bytes())["manifest.json"])
    assert manifest["scope"]["version"] == 1
    assert verify(out.read_bytes()).code == 0

    with pytest.raises(CommandError, match="There is no model named 'nope'"):
        call_command("export_bundle", "--model", "nope", "--out", str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="exists"):
        call_command("export_bundle", "--model", evidence.model_name, "--out", str(out))
    with pytest.raises(CommandError, match="Only admin, officer may export"):
        call_command("export_bundle", "--model", evidence.model_name, "--as", "omar", "--out", str(tmp_path / "y.zip"))
    assert Export.objects.count() == 1
