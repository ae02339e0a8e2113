"""Importing evidence over the API: who may, what is stored and recorded, and refusals that change nothing."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from audits.evidence.models import EvidenceImport, EvidenceMeasurement
from governance.storage import open_stream
from registry.models import ModelVersion
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.evidence import files
from tests.evidence.conftest import evidence_url, upload

ALL_FILES = [
    files.INSPECT_SMALL_EVAL,
    files.INSPECT_SMALL_JSON,
    files.GARAK_REPEAT,
    files.PROMPTFOO,
    files.LM_EVAL,
    files.LM_EVAL_SAMPLES,
    files.EVIDENTLY,
    files.GISKARD_SCAN,
    files.GISKARD_JUNIT,
]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_each_tools_real_file_imports_and_is_stored_by_its_hash(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path, path: Path
) -> None:
    raw = files.unpacked(path, tmp_path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    seq = last_seq()
    response = upload(cast.owner, llm_version, path, tmp_path)
    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["sha256"] == digest
    assert body["measurements"]
    item = EvidenceImport.objects.get(pk=body["id"])
    with open_stream(item.path) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == digest
    (event,) = events_since(seq, "evidence.imported")
    assert event.payload["sha256"] == digest
    assert event.payload["tool"] == body["tool"]
    assert event.payload["measurements"] == len(body["measurements"])
    assert cast.owner.user.username not in str(event.payload)  # no personal data: the actor is the event's own field


def test_detail_lists_the_normalised_measurements(cast: Cast, llm_version: ModelVersion, tmp_path: Path) -> None:
    created = upload(cast.ci, llm_version, files.INSPECT_LARGE_EVAL, tmp_path, tool="inspect").json()
    detail = cast.reviewer.client().get(evidence_url(llm_version, created["id"]))
    assert detail.status_code == 200
    accuracy = next(m for m in detail.json()["measurements"] if m["metric"] == "accuracy")
    assert accuracy | {"details": None} == {
        "task": "arithmetic_large",
        "metric": "accuracy",
        "value": 0.85,
        "sample_size": 600,
        "successes": 510,
        "higher_is_better": True,
        "has_outcomes": True,
        "details": None,
    }
    listed = cast.regulator.client().get(evidence_url(llm_version))
    assert listed.status_code in (200, 404)  # a regulator sees only what a share grants


def _refused(response_of, status: int, code: str | None = None) -> dict:
    before, seq = db_state(), last_seq()
    error = assert_error(response_of(), status, code)
    assert db_state() == before
    assert [e.action for e in events_since(seq) if e.action != "access.denied"] == []
    return error


def test_permission_ladder(cast: Cast, llm_version: ModelVersion, tmp_path: Path) -> None:
    real = files.PROMPTFOO
    with real.open("rb") as handle:
        _refused(lambda: APIClient().post(evidence_url(llm_version), {"file": handle}, format="multipart"), 401)
    _refused(lambda: upload(cast.outsider, llm_version, real, tmp_path), 404)
    _refused(lambda: upload(cast.read_only, llm_version, real, tmp_path), 403)
    _refused(lambda: upload(cast.reviewer, llm_version, real, tmp_path), 403)
    assert cast.outsider.client().get(evidence_url(llm_version)).status_code == 404
    assert upload(cast.owner, llm_version, real, tmp_path).status_code == 201


def test_the_same_file_twice_is_a_conflict(cast: Cast, llm_version: ModelVersion, tmp_path: Path) -> None:
    assert upload(cast.owner, llm_version, files.PROMPTFOO, tmp_path).status_code == 201
    error = _refused(lambda: upload(cast.owner, llm_version, files.PROMPTFOO, tmp_path), 409, "duplicate")
    assert "already imported" in error["message"]


def test_hostile_and_wrong_files_are_refused_and_change_nothing(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path, settings
) -> None:
    error = _refused(lambda: upload(cast.owner, llm_version, files.PROMPTFOO, tmp_path, tool="garak"), 422)
    assert "not garak's" in error["message"]
    bomb = tmp_path / "bomb.eval"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", b"{" + b" " * (20 * 1024 * 1024) + b"}")
    error = _refused(lambda: upload(cast.owner, llm_version, bomb, tmp_path), 422)
    assert "zip bomb" in error["message"]
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert "not valid JSON" in _refused(lambda: upload(cast.owner, llm_version, junk, tmp_path), 422)["message"]
    settings.EVIDENCE_MAX_BYTES = 2048
    _refused(lambda: upload(cast.owner, llm_version, files.PROMPTFOO, tmp_path), 413)
    assert not EvidenceImport.objects.exists()
    assert not EvidenceMeasurement.objects.exists()


def test_a_missing_file_field_is_refused(cast: Cast, llm_version: ModelVersion) -> None:
    _refused(lambda: cast.owner.client().post(evidence_url(llm_version), {}, format="multipart"), 422)
