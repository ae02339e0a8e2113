"""A tool version stated by the uploader: recorded, as the uploader's word, for a file that records none (Evidently,
Giskard); a file's own version is never overridden, and a stated version that contradicts it is refused."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from audits.evidence.models import EvidenceImport
from registry.models import ModelVersion
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.evidence import files
from tests.evidence.conftest import evidence_url, upload
from tests.portal.conftest import signed_in


def test_a_stated_version_is_recorded_as_the_uploaders_for_a_file_without_one(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    seq = last_seq()
    created = upload(cast.owner, llm_version, files.EVIDENTLY, tmp_path, tool_version="0.7.23")
    assert created.status_code == 201, created.content[:500]
    body = created.json()
    assert (body["tool"], body["tool_version"], body["tool_version_source"]) == ("evidently", "0.7.23", "uploader")
    assert EvidenceImport.objects.get(pk=body["id"]).tool_version_stated is True
    (event,) = events_since(seq, "evidence.imported")
    assert (event.payload["tool_version"], event.payload["tool_version_stated"]) == ("0.7.23", True)
    listed = cast.reviewer.client().get(evidence_url(llm_version)).json()
    assert [(f["tool_version"], f["tool_version_source"]) for f in listed["results"]] == [("0.7.23", "uploader")]


def test_without_a_stated_version_a_file_that_records_none_is_unknown(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    seq = last_seq()
    body = upload(cast.owner, llm_version, files.GISKARD_SCAN, tmp_path).json()
    assert (body["tool_version"], body["tool_version_source"]) == ("unknown", "unknown")
    (event,) = events_since(seq, "evidence.imported")
    assert (event.payload["tool_version"], event.payload["tool_version_stated"]) == ("unknown", False)


def test_the_files_own_version_stands_and_the_same_version_stated_is_not_the_uploaders_word(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    body = upload(cast.owner, llm_version, files.PROMPTFOO, tmp_path, tool_version="0.121.20").json()
    assert (body["tool_version"], body["tool_version_source"]) == ("0.121.20", "file")
    assert EvidenceImport.objects.get(pk=body["id"]).tool_version_stated is False


def test_a_stated_version_that_contradicts_the_file_or_is_not_a_version_is_refused_and_changes_nothing(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    cases = [
        (files.PROMPTFOO, "0.121.19", "The file records promptfoo 0.121.20; the stated tool version 0.121.19"),
        (files.EVIDENTLY, "0.7.23; rm -rf /", "A tool version is a version number"),
        (files.EVIDENTLY, "unknown", "leave it out when it is not known"),
        (files.EVIDENTLY, "1" * 101, "Ensure this field has no more than 100 characters."),
    ]
    for path, stated, said in cases:
        before, seq = db_state(), last_seq()
        error = assert_error(upload(cast.owner, llm_version, path, tmp_path, tool_version=stated), 422)
        assert said in str(error), error
        assert db_state() == before
        assert [e.action for e in events_since(seq)] == []


def test_the_portal_form_records_a_stated_version_and_says_so(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    client = signed_in(cast.owner)
    url = reverse("registry-portal:version-evidence-upload", args=[llm_version.model.name, llm_version.number])
    with files.GISKARD_JUNIT.open("rb") as handle:
        response = client.post(url, {"file": handle, "tool_version": "2.19.2"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Imported Giskard 2.19.2 evidence" in page
    assert 'data-testid="evidence-version-stated">(version stated by the uploader)' in page
    item = EvidenceImport.objects.get(version=llm_version)
    assert (item.tool_version, item.tool_version_stated) == ("2.19.2", True)

    before = db_state()
    with files.INSPECT_SMALL_EVAL.open("rb") as handle:
        refused = client.post(url, {"file": handle, "tool_version": "9.9.9"})
    assert refused.status_code == 422
    assert "the stated tool version 9.9.9 contradicts it" in refused.content.decode()
    assert db_state() == before


def test_an_audit_s_criterion_and_report_say_the_version_is_the_uploaders_word(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    from audits.checks.base import CheckContext  # noqa: PLC0415 - only this test judges
    from audits.checks.external import judge_criterion  # noqa: PLC0415
    from audits.evidence.actions import evidence_of  # noqa: PLC0415
    from audits.evidence.report import _version  # noqa: PLC0415

    assert upload(cast.owner, llm_version, files.EVIDENTLY, tmp_path, tool_version="0.7.23").status_code == 201
    rows = evidence_of(llm_version)
    row = rows[0]
    criterion = {
        "tool": "evidently",
        "task": row["task"],
        "metric": row["metric"],
        "threshold": {"value": 0, "operator": ">=", "basis": {"text": "Any.", "citation": "Example"}},
        "min_samples": 1,
    }
    evidence = judge_criterion(criterion, rows, context=CheckContext(confidence_level=0.95))["evidence"]
    assert (evidence["tool_version"], evidence["tool_version_source"]) == ("0.7.23", "uploader")
    assert _version(evidence) == "0.7.23 (stated by the uploader)"
    assert _version({"tool_version": "0.17.1"}) == "0.17.1"  # a version the file records is printed bare
