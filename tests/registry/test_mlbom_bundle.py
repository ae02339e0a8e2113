"""The regulator's evidence bundle holds each version's ML-BOM, listed in the signed manifest, and the offline
verifier still accepts the bundle (and refuses it once the BOM is changed)."""

from __future__ import annotations

import json
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.conftest import Cast
from tests.data.conftest import media_root  # noqa: F401 - a fixture (the evidence fixture's)
from tests.exports.conftest import Evidence, evidence, members, rezip  # noqa: F401 - evidence: a fixture
from tests.exports.test_bundle import body_of, download, export, verify

BOM = "model/versions/v1/mlbom.cdx.json"


def test_the_bundle_holds_a_valid_bom_the_verifier_checks(
    cast: Cast,
    evidence: Evidence,  # noqa: F811 - the imported fixture, requested
) -> None:
    made = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    bundle = body_of(download(cast, made["id"]))
    files = members(bundle)
    manifest = json.loads(files["manifest.json"])
    assert BOM in {entry["path"] for entry in manifest["files"]}

    document = json.loads(files[BOM])
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(files[BOM].decode()) is None
    assert document["metadata"]["timestamp"].startswith(manifest["exported_at"][:19])
    model = document["metadata"]["component"]
    assert (model["name"], model["version"]) == (evidence.model_name, "1")
    audit = {p["name"]: p["value"] for p in model["modelCard"]["properties"]}
    assert audit[f"assay:audit:{evidence.run_id}:verdict"] == "pass"

    accepted = verify(bundle)
    assert (accepted.code, accepted.out.startswith("OK")) == (0, True), accepted.out + accepted.err

    document["metadata"]["component"]["modelCard"]["properties"][0]["value"] = "fail"
    tampered = rezip({**files, BOM: json.dumps(document).encode()})
    refused: Any = verify(tampered)
    assert refused.code == 1
    assert f"{BOM} has" in refused.err
