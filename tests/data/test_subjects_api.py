"""Data subjects over HTTP: lookup by external id, consent state per purpose at an instant, personal data sealed
under the subject's key, access export (GDPR Art. 15), erasure by key destruction (Art. 17) with the findings it
opens, tampered ciphertexts reported as unreadable, and a trail that still verifies after erasure.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from governance.data.models import PersonalRecord, Subject, SubjectKey, SubjectRequest
from registry.models import Finding
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import (
    API,
    applicant_id,
    database_text,
    german_csv,
    make_dataset,
    make_external_version,
    make_file_version,
    make_model,
    make_model_version,
    make_purpose,
    make_run,
    pseudonym,
    record_consent,
    refused,
)
from tests.trail.helpers import run_verify_trail

SUBJECTS = f"{API}/subjects/"
ANNA = applicant_id(3)  # in applicants v1
BORIS = applicant_id(4)  # in applicants v1 too
EMAIL = "anna.kowalska@example.org"
CONTACT = {"name": "Anna Kowalska", "email": EMAIL, "phone": "+49 30 1234567"}


def subject_url(external_id_or_pseudonym: str, action: str = "") -> str:
    value = external_id_or_pseudonym
    key = value if len(value) == 64 else pseudonym(value)
    return f"{SUBJECTS}{key}/{action}"


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"2026-{day}T12:00:00+00:00")


def store(member: Member, external_id: str, data: dict[str, Any], category: str = "contact") -> Any:
    return member.client().post(
        subject_url(external_id, "personal-data"), {"category": category, "data": data}, format="json"
    )


def export(member: Member, external_id: str) -> Any:
    return member.client().post(subject_url(external_id, "access"))


def erase(member: Member, external_id: str) -> Any:
    return member.client().post(subject_url(external_id, "erasure"))


@pytest.fixture
def story(cast: Cast, media_root: Path) -> dict[str, Any]:
    """Anna and Boris are applicants 3 and 4 in applicants v1 (20 applicants), which credit-scoring v1 is trained
    on directly and credit-limit v1 through credit-features v1; document-router v1 is trained on other data.

    Anna: model_training given 01-01, withdrawn 03-01; marketing given 01-01, expiring 02-01; analytics never.
    Boris: model_training given 01-01.
    """
    applicants = make_file_version(
        cast, make_dataset(cast, "applicants"), german_csv(20), subject_id_column="applicant_id"
    )
    other = make_file_version(
        cast, make_dataset(cast, "bureau"), german_csv(10, first_id=101), subject_id_column="applicant_id"
    )
    make_model_version(cast, make_model(cast, "credit-scoring"), trained_on=[applicants])
    features = make_external_version(cast, make_dataset(cast, "credit-features"))
    make_run(cast, "build_features", inputs=[applicants], outputs=[features])
    make_model_version(cast, make_model(cast, "credit-limit"), trained_on=[features])
    make_model_version(cast, make_model(cast, "document-router"), trained_on=[other])
    training, marketing = make_purpose(cast, "model_training"), make_purpose(cast, "marketing")
    make_purpose(cast, "analytics", legal_basis="legitimate_interests")
    record_consent(cast, ANNA, "given", at("01-01"), purpose=training)
    record_consent(cast, ANNA, "given", at("01-01"), purpose=marketing, expires_at=at("02-01"))
    record_consent(cast, ANNA, "withdrawn", at("03-01"), purpose=training)
    record_consent(cast, BORIS, "given", at("01-01"), purpose=training)
    Finding.objects.all().delete()  # the withdrawal's own findings; erasure is what these tests look at
    return {"applicants": applicants}


@pytest.fixture
def anna(cast: Cast) -> str:
    """Only Anna, consenting to model_training since 01-01 (for tests that need a subject and nothing more)."""
    record_consent(cast, ANNA, "given", at("01-01"), purpose=make_purpose(cast, "model_training"))
    return pseudonym(ANNA)


# --- lookup and detail -----------------------------------------------------------------------------------------


def test_a_lookup_answers_the_pseudonym_of_an_external_id(cast: Cast, story: dict[str, Any]) -> None:
    seq = last_seq()

    known = cast.officer.client().post(f"{SUBJECTS}lookup", {"external_id": ANNA}, format="json")
    unknown = cast.officer.client().post(f"{SUBJECTS}lookup", {"external_id": "CRM-NOBODY-0000"}, format="json")

    assert known.status_code == 200, known.content
    assert known.json() == {"pseudonym": pseudonym(ANNA), "known": True}
    assert unknown.json() == {"pseudonym": pseudonym("CRM-NOBODY-0000"), "known": False}
    assert events_since(seq) == []
    assert b"CRM-NOBODY" not in database_text()


@pytest.mark.parametrize(
    ("instant", "states"),
    [
        ("2025-12-31T12:00:00Z", {"model_training": "never_asked", "marketing": "never_asked"}),
        ("2026-01-15T12:00:00Z", {"model_training": "consenting", "marketing": "consenting"}),
        ("2026-02-15T12:00:00Z", {"model_training": "consenting", "marketing": "expired"}),
        ("2026-03-01T13:00:00+01:00", {"model_training": "withdrawn", "marketing": "expired"}),
    ],
)
def test_the_subject_detail_gives_each_purposes_state_at_an_instant(
    cast: Cast, story: dict[str, Any], instant: str, states: dict[str, str]
) -> None:
    response = cast.officer.client().get(subject_url(ANNA), {"at": instant})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["pseudonym"] == pseudonym(ANNA)
    assert {row["purpose"]: row["state"] for row in body["consent"]} == {**states, "analytics": "never_asked"}
    legal_bases = {row["purpose"]: row["legal_basis"] for row in body["consent"]}
    assert legal_bases["analytics"] == "legitimate_interests"
    assert body["datasets"] == ["dataset:applicants/v1"]
    assert body["model_versions"] == ["model:credit-limit/v1", "model:credit-scoring/v1"]
    assert (body["personal_records"], body["erased_at"]) == (0, None)


def test_the_subject_detail_at_a_naive_instant_is_422(cast: Cast, story: dict[str, Any]) -> None:
    error = refused(lambda: cast.officer.client().get(subject_url(ANNA), {"at": "2026-02-15T12:00:00"}), 422)

    assert "at" in error["details"]


@pytest.mark.parametrize(
    "value",
    ["abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "0" * 64],  # the last has the right shape but is nobody
    ids=["short", "upper-case", "not-hex", "63-digits", "65-digits", "nobody"],
)
@pytest.mark.parametrize("action", ["", "access", "erasure", "personal-data"])
def test_anything_but_a_known_pseudonym_is_404(cast: Cast, anna: str, value: str, action: str) -> None:
    client = cast.officer.client()
    url = f"{SUBJECTS}{value}/{action}"

    refused(
        lambda: client.get(url) if not action else client.post(url, {"category": "x", "data": {}}, format="json"),
        404,
        "not_found",
    )


@pytest.mark.parametrize("who", ["owner", "reviewer", "regulator", "ci", "outsider"])
@pytest.mark.parametrize(
    ("method", "action"),
    [("get", ""), ("post", "access"), ("post", "erasure"), ("post", "personal-data"), ("post", "lookup")],
)
def test_subject_endpoints_are_for_consent_keepers_only(
    cast: Cast, anna: str, who: str, method: str, action: str
) -> None:
    url = f"{SUBJECTS}lookup" if action == "lookup" else subject_url(ANNA, action)
    client = getattr(cast, who).client()
    body = {"external_id": ANNA} if action == "lookup" else {"category": "contact", "data": CONTACT}

    refused(lambda: getattr(client, method)(url, body, format="json"), 403, "permission_denied")


# --- personal data, sealed -------------------------------------------------------------------------------------


def test_personal_data_is_stored_sealed_under_the_subjects_key(cast: Cast, story: dict[str, Any]) -> None:
    seq = last_seq()

    response = store(cast.officer, ANNA, CONTACT)

    assert response.status_code == 201, response.content
    record = PersonalRecord.objects.get()
    assert response.json()["id"] == record.pk
    assert (record.subject_id, record.category, record.created_by) == (pseudonym(ANNA), "contact", cast.officer.user)
    ciphertext = bytes(record.ciphertext)
    assert len(ciphertext) >= 12 + 16 + len(json.dumps(CONTACT))  # nonce, tag and the sealed text
    for plaintext in (EMAIL, "Kowalska", "1234567"):
        assert plaintext.encode() not in ciphertext
        assert plaintext.encode() not in database_text()
    assert SubjectKey.objects.filter(subject_id=pseudonym(ANNA)).exists()
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        ("subject.data_stored", {"subject": pseudonym(ANNA), "category": "contact", "record": record.pk})
    ]


def test_two_records_of_one_subject_share_its_key_but_not_a_nonce(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert store(cast.officer, ANNA, CONTACT).status_code == 201

    first, second = (bytes(r.ciphertext) for r in PersonalRecord.objects.all())

    assert first[:12] != second[:12]
    assert first != second
    assert SubjectKey.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "contact", "data": "anna@example.org"}, "data"),
        ({"category": "Contact Details", "data": CONTACT}, "category"),
        ({"category": "contact", "data": {"notes": "x" * 20_000}}, "data"),
        ({"category": "contact", "data": CONTACT, "purpose": "x"}, "purpose"),
    ],
    ids=["data-not-an-object", "category-not-a-slug", "data-too-large", "unknown-field"],
)
def test_bad_personal_data_names_its_field_and_stores_nothing(
    cast: Cast, story: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    error = refused(lambda: cast.officer.client().post(subject_url(ANNA, "personal-data"), body, format="json"), 422)

    assert field in error["details"]


# --- access export ---------------------------------------------------------------------------------------------


def test_an_access_export_holds_everything_about_the_subject(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    seq = last_seq()

    response = export(cast.officer, ANNA)

    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["pseudonym"], report["erased_at"]) == (pseudonym(ANNA), None)
    assert [(e["purpose"], e["kind"]) for e in report["consent_events"]] == [
        ("model_training", "given"),
        ("marketing", "given"),
        ("model_training", "withdrawn"),
    ]
    assert report["consent_events"][0]["notice_version"] == "2026-01"
    assert {row["purpose"]: row["state"] for row in report["consent"]} == {
        "analytics": "never_asked",
        "marketing": "expired",
        "model_training": "withdrawn",
    }
    assert [(p["category"], p["data"], p["status"]) for p in report["personal_data"]] == [
        ("contact", CONTACT, "readable")
    ]
    assert report["datasets"] == ["dataset:applicants/v1"]
    assert report["requests"] == []  # this request is recorded after the report is made
    assert list(SubjectRequest.objects.values_list("kind", "handled_by")) == [("access", cast.officer.user.pk)]
    # The trail commits to exactly what was handed over, by hash, and holds no personal data.
    digest = hashlib.sha256(json.dumps(report, sort_keys=True).encode("utf-8")).hexdigest()
    recorded = events_since(seq)
    assert [(e.action, e.payload) for e in recorded] == [
        ("subject.access_exported", {"subject": pseudonym(ANNA), "sha256": digest})
    ]
    assert EMAIL.encode() not in bytes(recorded[0].leaf)


# --- erasure ---------------------------------------------------------------------------------------------------


def test_erasure_destroys_the_key_and_opens_findings_downstream(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    seq = last_seq()

    response = erase(cast.officer, ANNA)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["pseudonym"], body["erased_now"]) == (pseudonym(ANNA), True)
    subject = Subject.objects.get(pk=pseudonym(ANNA))
    assert subject.erased_at is not None
    assert datetime.fromisoformat(body["erased_at"]) == subject.erased_at
    assert not SubjectKey.objects.filter(subject=subject).exists()
    assert PersonalRecord.objects.filter(subject=subject).count() == 1  # the ciphertext stays, as noise
    assert SubjectKey.objects.filter(subject_id=pseudonym(BORIS)).count() == 0  # Boris never had data stored
    findings = {f.version.model.name: f for f in Finding.objects.select_related("version__model")}
    assert set(findings) == {"credit-scoring", "credit-limit"}
    assert {(f.kind, f.cause) for f in findings.values()} == {("subject_erased", f"subject_erased::{pseudonym(ANNA)}")}
    recorded = [(e.action, e.payload) for e in events_since(seq)]
    assert recorded[0] == ("subject.erased", {"subject": pseudonym(ANNA), "records": 1})
    assert sorted((action, payload["model"], payload["kind"]) for action, payload in recorded[1:]) == [
        ("finding.opened", "credit-limit", "subject_erased"),
        ("finding.opened", "credit-scoring", "subject_erased"),
    ]
    assert list(SubjectRequest.objects.values_list("kind", flat=True)) == ["erasure"]


def test_erasing_twice_changes_nothing_the_second_time(cast: Cast, story: dict[str, Any]) -> None:
    first = erase(cast.officer, ANNA)
    before, seq = db_state(), last_seq()

    second = erase(cast.officer, ANNA)

    assert second.status_code == 200, second.content
    assert second.json()["erased_now"] is False
    assert second.json()["erased_at"] == first.json()["erased_at"]
    assert (db_state(), events_since(seq)) == (before, [])


def test_after_erasure_the_export_keeps_consent_history_but_not_personal_data(
    cast: Cast, story: dict[str, Any]
) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert erase(cast.officer, ANNA).status_code == 200

    response = export(cast.officer, ANNA)

    assert response.status_code == 200, response.content
    report = response.json()
    assert report["erased_at"] is not None
    assert len(report["consent_events"]) == 3
    [record] = report["personal_data"]
    assert record["data"] is None
    assert record["status"].startswith("erased")
    assert EMAIL not in response.content.decode()
    assert [r["kind"] for r in report["requests"]] == ["erasure"]


def test_nothing_more_is_stored_about_an_erased_subject(cast: Cast, story: dict[str, Any]) -> None:
    assert erase(cast.officer, ANNA).status_code == 200

    error = refused(lambda: store(cast.officer, ANNA, CONTACT), 409, "erased")

    assert not SubjectKey.objects.filter(subject_id=pseudonym(ANNA)).exists()
    assert "erasure request" in error["message"]


def test_an_erased_subject_cannot_consent_again_under_the_same_identity(cast: Cast, story: dict[str, Any]) -> None:
    assert erase(cast.officer, ANNA).status_code == 200
    body = {"external_id": ANNA, "purpose": "analytics", "kind": "given", "occurred_at": "2026-04-01T00:00:00Z"}

    refused(lambda: cast.officer.client().post(f"{API}/consent/events/", body, format="json"), 409, "erased")


def test_the_trail_still_verifies_after_erasure(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert erase(cast.officer, ANNA).status_code == 200

    code, output = run_verify_trail("--json")

    assert code == 0, output
    report = json.loads(output)
    assert (report["ok"], report["first_bad_seq"]) == (True, None)
    assert report["events"] == last_seq() + 1


# --- tampering -------------------------------------------------------------------------------------------------


def test_a_changed_byte_of_ciphertext_is_reported_unreadable(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert store(cast.officer, ANNA, {"note": "second record"}, category="request").status_code == 201
    record = PersonalRecord.objects.filter(category="contact").get()
    changed = bytearray(record.ciphertext)
    changed[20] ^= 0x01
    PersonalRecord.objects.filter(pk=record.pk).update(ciphertext=bytes(changed))

    response = export(cast.officer, ANNA)

    assert response.status_code == 200, response.content
    contact, request = response.json()["personal_data"]
    assert contact["data"] is None
    assert contact["status"].startswith("unreadable: the ciphertext does not open")
    assert (request["data"], request["status"]) == ({"note": "second record"}, "readable")


def test_a_ciphertext_moved_to_another_subject_is_reported_unreadable(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert store(cast.officer, BORIS, {"email": "boris@example.org"}).status_code == 201
    annas = PersonalRecord.objects.get(subject_id=pseudonym(ANNA))
    PersonalRecord.objects.filter(subject_id=pseudonym(BORIS)).update(ciphertext=bytes(annas.ciphertext))

    response = export(cast.officer, BORIS)

    assert response.status_code == 200, response.content
    [record] = response.json()["personal_data"]
    assert record["data"] is None
    assert record["status"].startswith("unreadable")
    assert EMAIL not in response.content.decode()


def test_a_truncated_ciphertext_is_reported_unreadable(cast: Cast, story: dict[str, Any]) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    PersonalRecord.objects.update(ciphertext=b"\x00" * 10)

    response = export(cast.officer, ANNA)

    assert response.status_code == 200, response.content
    assert response.json()["personal_data"][0]["status"] == (
        "unreadable: the ciphertext is too short to be a sealed record"
    )


def test_a_key_moved_to_another_subject_makes_their_records_unreadable_not_a_500(
    cast: Cast, story: dict[str, Any]
) -> None:
    assert store(cast.officer, ANNA, CONTACT).status_code == 201
    assert store(cast.officer, BORIS, {"email": "boris@example.org"}).status_code == 201
    annas_key = SubjectKey.objects.get(subject_id=pseudonym(ANNA)).wrapped_key
    SubjectKey.objects.filter(subject_id=pseudonym(BORIS)).update(wrapped_key=bytes(annas_key))

    response = export(cast.officer, BORIS)

    assert response.status_code == 200, response.content
    [record] = response.json()["personal_data"]
    assert (record["data"], record["status"][:10]) == (None, "unreadable")
