"""Migration 0008 moves a signature recorded under 0007 (two ModelVersion columns) into its own table, unchanged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from registry.models import ModelVersion, VersionSignature

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
    assert (signed.signed_by, signed.signature) == ("release-team", SIGNATURE)
    assert VersionSignature.objects.count() == 1
