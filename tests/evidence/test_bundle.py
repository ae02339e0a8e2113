"""The regulator's evidence bundle holds a version's imported files as uploaded, listed with their measurements and
in the signed manifest, and the offline verifier accepts it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import Cast
from tests.data.conftest import media_root  # noqa: F401 - a fixture (the evidence fixture's)
from tests.evidence import files as produced
from tests.evidence.conftest import upload
from tests.exports.conftest import Evidence, evidence, members  # noqa: F401 - evidence: a fixture
from tests.exports.test_bundle import body_of, download, export, verify


def test_the_bundle_holds_the_imported_files_the_trail_names(
    cast: Cast,
    evidence: Evidence,  # noqa: F811 - the imported fixture, requested
    tmp_path: Path,
) -> None:
    raw = produced.unpacked(produced.GARAK_BLANK, tmp_path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    assert upload(cast.owner, evidence.version, produced.GARAK_BLANK, tmp_path).status_code == 201

    bundle = body_of(download(cast, export(cast, {"model": evidence.model_name, "recipient": "regina"})["id"]))
    files = members(bundle)
    member = f"model/versions/v1/evidence/{digest}.jsonl"
    assert hashlib.sha256(files[member]).hexdigest() == digest
    manifest = {entry["path"]: entry for entry in json.loads(files["manifest.json"])["files"]}
    assert manifest[member]["sha256"] == digest
    (listed,) = json.loads(files["model/versions/v1/evidence.json"])["imported"]
    assert (listed["tool"], listed["sha256"], len(listed["measurements"])) == ("garak", digest, 3)
    events = [json.loads(line) for line in files["trail/events.jsonl"].splitlines()]
    imported = [e for e in events if e.get("action") == "evidence.imported"]
    assert [e["payload"]["sha256"] for e in imported] == [digest]
    accepted = verify(bundle)
    assert (accepted.code, accepted.out.startswith("OK")) == (0, True), accepted.out + accepted.err
