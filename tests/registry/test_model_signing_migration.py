"""Migration 0008 moves a signature recorded under 0007 (two ModelVersion columns) into its own table, unchanged;
0009 writes each recorded signer with its method (``key:``, or ``cert:`` and the kind of name read again from the
stored signature bundle's certificate)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import model_signing
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from governance.storage import store_by_hash
from registry.models import ModelVersion, VersionSignature
from tests.registry.test_model_signing import CERTIFIED, write_certificates

BEFORE = ("registry", "0007_version_signature")
SIGNATURE = {
    "method": "key",
    "signer": "release-team",
    "digest_algorithm": "sha256",
    "digest": "ab" * 32,
    "signature_sha256": "cd" * 32,
    "file": f"signatures/cd/{'cd' * 32}.sig.json",
}


@pytest.mark.django_db(transaction=True)
def test_0008_copies_a_signature_recorded_under_0007(unprotected_trail: None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    owner = old.get_model("governance", "User").objects.create(username="signing-owner", role="owner")
    team = old.get_model("governance", "Team").objects.create(slug="signers", name="Signers")
    model = old.get_model("registry", "RegisteredModel").objects.create(
        name="signed-scorer", team=team, purpose="Scores.", risk_tier="minimal", risk_rationale="-", created_by=owner
    )
    versions = old.get_model("registry", "ModelVersion")
    versions.objects.create(model=model, number=1, framework="onnx", created_by=owner)  # unsigned
    versions.objects.create(
        model=model, number=2, framework="onnx", created_by=owner, signed_by="release-team", signature=SIGNATURE
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    unsigned, signed = ModelVersion.objects.filter(model__name="signed-scorer").order_by("number")
    assert (unsigned.signed_by, unsigned.signature) == ("", {})
    assert (signed.signed_by, signed.signature) == ("key:release-team", {**SIGNATURE, "signer": "key:release-team"})
    assert VersionSignature.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_0009_names_each_recorded_signers_method(unprotected_trail: None, tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    artifact = tmp_path / "scorer.bin"
    artifact.write_bytes(b"a model's bytes")
    key, leaf, ca = write_certificates(tmp_path, "bank")  # e-mail CERTIFIED, common name "Release team"
    bundle = tmp_path / "scorer.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=key, signing_certificate=leaf, certificate_chain=[ca]
    ).sign(artifact, bundle)
    sha256 = hashlib.sha256(bundle.read_bytes()).hexdigest()
    stored = store_by_hash(bundle, folder="signatures", sha256=sha256, suffix=".sig.json")

    before = ("registry", "0008_version_signature_table")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    owner = old.get_model("governance", "User").objects.create(username="signing-owner", role="owner")
    team = old.get_model("governance", "Team").objects.create(slug="signers", name="Signers")
    model = old.get_model("registry", "RegisteredModel").objects.create(
        name="signed-scorer", team=team, purpose="Scores.", risk_tier="minimal", risk_rationale="-", created_by=owner
    )
    versions = old.get_model("registry", "ModelVersion")
    records = old.get_model("registry", "VersionSignature")
    recorded = {  # number: (method, bare signer as 0008 recorded it, stored bundle)
        1: ("key", "release-team", SIGNATURE["file"]),
        2: ("certificate", CERTIFIED, stored),
        3: ("certificate", "Release team", "signatures/ef/missing.sig.json"),  # the store lost it
    }
    for number, (method, signer, file) in recorded.items():
        version = versions.objects.create(model=model, number=number, framework="onnx", created_by=owner)
        fields = {**SIGNATURE, "method": method, "signer": signer, "file": file}
        records.objects.create(version=version, **fields)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    signers = [v.signed_by for v in ModelVersion.objects.filter(model__name="signed-scorer").order_by("number")]
    assert signers == ["key:release-team", f"cert:email:{CERTIFIED}", "cert:unknown:Release team"]

    executor = MigrationExecutor(connection)
    executor.migrate([before])  # and back: the bare names again
    back = executor.loader.project_state([before]).apps.get_model("registry", "VersionSignature")
    assert sorted(back.objects.values_list("signer", flat=True)) == sorted(s for _, s, _ in recorded.values())
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
