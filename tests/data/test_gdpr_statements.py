"""What the access answer (GDPR Art. 15) and the erasure answer (Art. 17) say, read as text.

Known answers from Regulation (EU) 2016/679:
- Art. 15(1) lists the information given with access: (a) purposes, (b) categories of data, (c) recipients,
  (d) storage period or its criteria, (e) the rights to rectification, erasure, restriction and objection, (f) the
  right to lodge a complaint with a supervisory authority, (g) the source, (h) automated decision-making; Art. 15(2)
  the safeguards of third-country transfers. Each must be in the answer, or named as a gap the controller must fill.
- Recital 26: pseudonymised data that could be attributed to a person with additional information is personal data.
  Destroying a subject's key leaves their rows in uploaded dataset files and their pseudonym in the records, so the
  answer may never claim a complete erasure.

The subject's rows are counted here with the csv module from the bytes uploaded, not with the app's reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

from governance.data.models import DatasetVersion
from tests.conftest import Cast
from tests.data.conftest import (
    API,
    applicant_id,
    german_csv,
    make_dataset,
    make_file_version,
    make_model,
    make_model_version,
    make_purpose,
    pseudonym,
    record_consent,
)
from tests.data.test_subjects_api import at
from tests.portal.conftest import signed_in

ANNA = applicant_id(3)
CONTENT = german_csv(20, subjects=7)  # applicants 1-7, each on several rows: Anna (3) is on rows 3, 10 and 17
POINTS = [f"Art. 15(1)({p})" for p in "abcdefgh"] + ["Art. 15(2)"]
SETTINGS = {
    "Art. 15(1)(a)": "GDPR_PURPOSES",
    "Art. 15(1)(b)": "GDPR_DATA_CATEGORIES",
    "Art. 15(1)(c)": "GDPR_RECIPIENTS",
    "Art. 15(1)(d)": "GDPR_RETENTION",
    "Art. 15(1)(e)": "GDPR_RIGHTS_CONTACT",
    "Art. 15(1)(f)": "GDPR_SUPERVISORY_AUTHORITY",
    "Art. 15(1)(g)": "GDPR_DATA_SOURCE",
    "Art. 15(1)(h)": "GDPR_AUTOMATED_DECISIONS",
    "Art. 15(2)": "GDPR_TRANSFER_SAFEGUARDS",
}
# Phrases that claim the subject is gone: never allowed while rows or the pseudonym remain.
CLAIMS = re.compile(
    r"complete(ly)? erase|fully erased|\b(is|was|were|been|are) (now )?erased\b|\berased:|everything (Assay )?holds",
    re.I,
)


def rows_of(external_id: str, content: bytes) -> list[int]:
    """Data-row numbers (from 1, the header not counted) whose applicant_id is ``external_id``."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8")))
    return [number for number, record in enumerate(reader, start=1) if record["applicant_id"] == external_id]


@pytest.fixture
def held(cast: Cast, media_root: Path) -> DatasetVersion:
    """Anna's rows in applicants v1 (a model is trained on it); she consented to model_training and marketing."""
    version = make_file_version(cast, make_dataset(cast, "applicants"), CONTENT, subject_id_column="applicant_id")
    make_model_version(cast, make_model(cast, "credit-scoring"), trained_on=[version])
    record_consent(cast, ANNA, "given", at("01-01"), purpose=make_purpose(cast, "model_training"))
    record_consent(
        cast, ANNA, "given", at("01-01"), purpose=make_purpose(cast, "marketing", legal_basis="legitimate_interests")
    )
    return version


def export(cast: Cast) -> dict[str, Any]:
    response = cast.officer.client().post(f"{API}/subjects/{pseudonym(ANNA)}/access")
    assert response.status_code == 200, response.content
    return response.json()


def erase(cast: Cast) -> dict[str, Any]:
    response = cast.officer.client().post(f"{API}/subjects/{pseudonym(ANNA)}/erasure")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_known_rows_are_where_the_fixture_says() -> None:
    assert rows_of(ANNA, CONTENT) == [3, 10, 17]


# --- access -------------------------------------------------------------------------------------------------------


def test_unconfigured_article_15_items_are_named_gaps_never_invented_text(cast: Cast, held: DatasetVersion) -> None:
    report = export(cast)

    items = {item["point"]: item for item in report["article_15"]["items"]}
    assert list(items) == POINTS
    for point, setting in SETTINGS.items():
        assert items[point]["from_controller"] is None
        assert items[point]["gap"].startswith("Not configured: the controller must add")
        assert f"(setting {setting})" in items[point]["gap"]
    assert report["article_15"]["gaps"] == POINTS
    assert "GDPR_CONTROLLER" in report["article_15"]["controller_gap"]


def test_configured_article_15_items_are_given_as_the_controller_wrote_them(
    cast: Cast, held: DatasetVersion, settings: Any
) -> None:
    for point, setting in SETTINGS.items():
        setattr(settings, setting, f"Answer for {point} from the controller.")
    settings.GDPR_CONTROLLER = "Example Bank AG, dpo@bank.example"

    report = export(cast)

    items = {item["point"]: item for item in report["article_15"]["items"]}
    for point in POINTS:
        assert items[point]["from_controller"] == f"Answer for {point} from the controller."
        assert items[point]["gap"] is None
    assert report["article_15"]["gaps"] == []
    assert report["article_15"]["controller"] == "Example Bank AG, dpo@bank.example"


def test_records_give_the_purposes_categories_and_rights_assay_knows(cast: Cast, held: DatasetVersion) -> None:
    items = {item["point"]: item for item in export(cast)["article_15"]["items"]}

    recorded = items["Art. 15(1)(a)"]["from_records"]["recorded_with_consent"]
    assert [(p["purpose"], p["description"], p["legal_basis"]) for p in recorded] == [
        ("marketing", "Processing for marketing.", "Legitimate interests (Art. 6(1)(f))"),
        ("model_training", "Processing for model training.", "Consent (Art. 6(1)(a))"),
    ]
    header = CONTENT.decode("utf-8").splitlines()[0].split(",")
    assert items["Art. 15(1)(b)"]["from_records"]["dataset_columns"] == {"dataset:applicants/v1": header}
    rights = items["Art. 15(1)(e)"]["from_records"]["under_the_regulation"]
    for article in ("Art. 16", "Art. 17", "Art. 18", "Art. 21"):
        assert article in rights
    assert "Art. 77" in items["Art. 15(1)(f)"]["from_records"]["under_the_regulation"]
    assert items["Art. 15(1)(h)"]["from_records"] == {
        "model_versions_trained_on_data_holding_the_subject": ["model:credit-scoring/v1"]
    }


def test_the_export_lists_the_rows_held_in_dataset_files(cast: Cast, held: DatasetVersion) -> None:
    report = export(cast)

    [listed] = report["dataset_rows"]
    assert (listed["node"], listed["dataset"], listed["version"]) == ("dataset:applicants/v1", "applicants", 1)
    assert (listed["file"], listed["subject_id_column"], listed["sha256"]) == (
        "applicants.csv",
        "applicant_id",
        held.sha256,
    )
    assert listed["rows"] == len(rows_of(ANNA, CONTENT)) == 3
    assert listed["row_numbers"] == rows_of(ANNA, CONTENT)


def test_the_export_says_what_it_does_not_hold_and_never_claims_everything(cast: Cast, held: DatasetVersion) -> None:
    report = export(cast)

    assert "does not copy the contents of those dataset rows" in report["scope"]
    assert "does not list the trail events and model findings" in report["scope"]
    assert not CLAIMS.search(json.dumps(report))


def test_a_file_that_cannot_be_read_is_listed_with_the_reason_not_a_count(cast: Cast, held: DatasetVersion) -> None:
    default_storage.delete(held.file.name)

    [listed] = export(cast)["dataset_rows"]

    assert listed["rows"] is None
    assert listed["row_numbers"] == []
    assert listed["rows_note"].startswith("The file could not be read")


# --- erasure ------------------------------------------------------------------------------------------------------


def test_the_erasure_answer_says_what_remains_and_never_claims_complete_erasure(
    cast: Cast, held: DatasetVersion
) -> None:
    body = erase(cast)

    erasure = body["erasure"]
    assert erasure["key_destroyed"] is True
    assert erasure["complete"] is False
    assert body["key_destroyed_at"] == body["erased_at"] is not None
    assert body["datasets_holding_rows"] == ["dataset:applicants/v1"]
    assert body["dataset_rows"][0]["row_numbers"] == rows_of(ANNA, CONTENT)
    assert "key is destroyed" in erasure["summary"]
    assert "dataset:applicants/v1 (applicants.csv: 3 row(s))" in erasure["summary"]
    assert "until a new version without them is registered" in erasure["summary"]
    assert "Recital 26" in erasure["summary"]
    assert not CLAIMS.search(json.dumps(body))
    # The claim pattern can fail: it catches the wordings the answer used before.
    assert CLAIMS.search("Erased: the subject's key is destroyed.")
    assert CLAIMS.search("This subject was erased.")


def test_after_erasure_the_export_keeps_the_remaining_rows_and_the_statement(cast: Cast, held: DatasetVersion) -> None:
    erase(cast)

    report = export(cast)

    assert report["erasure"]["complete"] is False
    assert report["dataset_rows"][0]["rows"] == 3
    assert not CLAIMS.search(json.dumps(report))


def test_the_portal_says_what_erasure_does_before_and_after(cast: Cast, held: DatasetVersion) -> None:
    officer = signed_in(cast.officer)
    url = f"/data/subjects/{pseudonym(ANNA)}/erase"

    before = officer.get(url).content.decode("utf-8")
    done = officer.post(url, {"confirm": pseudonym(ANNA)[:8]}, follow=True).content.decode("utf-8")

    assert "dataset:applicants/v1 (applicants.csv: 3 rows)" in before
    assert "this is not a complete erasure" in before
    assert "Destroy the key" in before
    assert "key is destroyed" in done
    assert "until a new version without them is registered" in done
    assert "key destroyed" in done  # the badge
    for page in (before, done):
        assert not CLAIMS.search(re.sub(r"<[^>]+>", " ", page))
