"""Consent over HTTP: purposes, consent events (given by external id, stored by pseudonym only), refusals that
name their field and write nothing, and the findings a withdrawal opens on the model versions trained (at any
depth) on data holding the subject; then resolving those findings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from governance.access.models import User
from governance.access.roles import Role
from governance.data.models import ConsentEvent, Purpose, Subject
from governance.trail.leaf import format_time
from registry.actions import RegistryError, do_resolve_finding
from registry.models import Finding, ModelVersion
from tests.api import events_since, last_seq
from tests.conftest import Cast, Member, sha256_text
from tests.data.conftest import (
    API,
    acting,
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
from tests.registry.conftest import new_member

PURPOSES = f"{API}/consent/purposes/"
EVENTS = f"{API}/consent/events/"
EXTERNAL_ID = "CRM-7731-ANNA-KOWALSKA"


def consent_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": EXTERNAL_ID,
        "purpose": "model_training",
        "kind": "given",
        "occurred_at": "2026-01-10T09:30:00+01:00",
        "source": "web-form",
        "notice_version": "2026-01",
        "controller": "Example Bank AG",
        "pii_categories": ["financial", "contact"],
        "collection_method": "checkbox",
        "jurisdiction": "DE",
    }
    return {k: v for k, v in {**body, **changes}.items() if v is not None}


def post_consent(member: Member, **changes: Any) -> Any:
    return member.client().post(EVENTS, consent_body(**changes), format="json")


def findings_url(model: str, number: int) -> str:
    return f"{API}/models/{model}/versions/{number}/findings/"


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"2026-{day}T12:00:00+00:00")


@pytest.fixture
def training(cast: Cast) -> Purpose:
    return make_purpose(cast, "model_training")


# --- purposes --------------------------------------------------------------------------------------------------


def test_an_officer_defines_a_purpose_with_its_legal_basis(cast: Cast) -> None:
    seq = last_seq()
    body = {"code": "model_training", "description": "Training credit models.", "legal_basis": "consent"}

    response = cast.officer.client().post(PURPOSES, body, format="json")

    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in body} == body
    purpose = Purpose.objects.get(code="model_training")
    assert (purpose.legal_basis, purpose.created_by) == ("consent", cast.officer.user)
    assert [(e.action, e.object_id, e.payload) for e in events_since(seq)] == [
        ("purpose.created", str(purpose.pk), {"code": "model_training", "legal_basis": "consent"})
    ]
    listed = cast.officer.client().get(PURPOSES).json()["results"]
    assert [p["code"] for p in listed] == ["model_training"]


def test_a_purpose_code_is_unique(cast: Cast, training: Purpose) -> None:
    body = {"code": "model_training", "description": "Again.", "legal_basis": "contract"}

    error = refused(lambda: cast.officer.client().post(PURPOSES, body, format="json"), 409, "duplicate")

    assert "model_training" in error["message"]


def test_a_purpose_needs_a_gdpr_legal_basis(cast: Cast) -> None:
    body = {"code": "model_training", "description": "Training.", "legal_basis": "because"}

    error = refused(lambda: cast.officer.client().post(PURPOSES, body, format="json"), 422, "validation_failed")

    assert "legal_basis" in error["details"]


@pytest.mark.parametrize("who", ["owner", "reviewer", "ci", "regulator"])
def test_only_consent_keepers_define_purposes(cast: Cast, who: str) -> None:
    body = {"code": "model_training", "description": "Training.", "legal_basis": "consent"}

    refused(lambda: getattr(cast, who).client().post(PURPOSES, body, format="json"), 403, "permission_denied")


# --- consent events --------------------------------------------------------------------------------------------


def test_consent_given_by_external_id_is_stored_by_pseudonym_only(cast: Cast, training: Purpose) -> None:
    seq = last_seq()

    response = post_consent(cast.officer, expires_at="2027-01-10T09:30:00+01:00")

    assert response.status_code == 201, response.content
    body = response.json()
    subject = pseudonym(EXTERNAL_ID)
    assert {k: body[k] for k in ("subject", "purpose", "kind", "source", "notice_version", "pii_categories")} == {
        "subject": subject,
        "purpose": "model_training",
        "kind": "given",
        "source": "web-form",
        "notice_version": "2026-01",
        "pii_categories": ["financial", "contact"],
    }
    assert datetime.fromisoformat(body["occurred_at"]) == datetime(2026, 1, 10, 8, 30, tzinfo=UTC)
    event = ConsentEvent.objects.get()
    assert (event.subject_id, event.kind, event.controller, event.jurisdiction) == (
        subject,
        "given",
        "Example Bank AG",
        "DE",
    )
    assert event.expires_at == datetime(2027, 1, 10, 8, 30, tzinfo=UTC)
    assert list(Subject.objects.values_list("pseudonym", flat=True)) == [subject]
    recorded = events_since(seq)
    assert [(e.action, e.payload) for e in recorded] == [
        (
            "consent.recorded",
            {
                "subject": subject,
                "purpose": "model_training",
                "kind": "given",
                "occurred_at": format_time(datetime(2026, 1, 10, 8, 30, tzinfo=UTC)),
                "notice_version": "2026-01",
                "source_sha256": sha256_text("web-form"),
            },
        )
    ]
    # The external id is in no table, no trail payload and no leaf.
    assert EXTERNAL_ID.encode() not in database_text()
    assert EXTERNAL_ID.encode() not in bytes(recorded[0].leaf)


def test_consent_may_name_the_subject_by_pseudonym(cast: Cast, training: Purpose) -> None:
    subject = pseudonym(EXTERNAL_ID)

    response = post_consent(cast.officer, external_id=None, pseudonym=subject)

    assert response.status_code == 201, response.content
    assert response.json()["subject"] == subject
    assert ConsentEvent.objects.get().subject_id == subject


def test_the_same_person_spelt_differently_is_one_subject(cast: Cast, training: Purpose) -> None:
    first = post_consent(cast.officer, external_id=f"  {EXTERNAL_ID} ")  # stray spaces, as pasted from a form
    second = post_consent(cast.officer, kind="withdrawn", occurred_at="2026-02-01T00:00:00Z")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["subject"] == second.json()["subject"] == pseudonym(EXTERNAL_ID)
    assert Subject.objects.count() == 1


def test_withdrawing_for_a_subject_never_seen_is_422_unknown_subject(cast: Cast, training: Purpose) -> None:
    error = refused(lambda: post_consent(cast.officer, kind="withdrawn"), 422, "unknown_subject")

    assert "external_id" in error["details"]
    assert "model_training" in error["message"]
    assert not Subject.objects.exists()


def test_withdrawing_a_purpose_never_consented_to_is_422_unknown_subject(cast: Cast, training: Purpose) -> None:
    marketing = make_purpose(cast, "marketing")
    record_consent(cast, EXTERNAL_ID, "given", at("01-01"), purpose=marketing)

    error = refused(lambda: post_consent(cast.officer, kind="withdrawn"), 422, "unknown_subject")

    assert "model_training" in error["message"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"occurred_at": "2026-01-10T09:30:00"}, "occurred_at", "timezone"),
        ({"expires_at": "2027-01-10T09:30:00"}, "expires_at", "timezone"),
        ({"occurred_at": "last tuesday"}, "occurred_at", ""),
        ({"purpose": "model_trainign"}, "purpose", "Purposes: marketing, model_training"),
        (
            {"kind": "withdrawn", "occurred_at": "2026-03-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"},
            "expires_at",
            "Only a consent that is given can carry expires_at",
        ),
        ({"pseudonym": "ab" * 32}, "external_id", "exactly one"),
        ({"external_id": None}, "external_id", "exactly one"),
        ({"kind": "maybe"}, "kind", ""),
        ({"external_id": None, "pseudonym": "XYZ"}, "pseudonym", ""),
        ({"external_id": "   "}, "external_id", ""),
        ({"email": "anna@example.org"}, "email", "not recognised"),
    ],
    ids=[
        "naive-occurred-at",
        "naive-expires-at",
        "not-a-time",
        "unknown-purpose",
        "expiry-on-a-withdrawal",
        "both-ids",
        "neither-id",
        "unknown-kind",
        "bad-pseudonym",
        "blank-external-id",
        "unknown-field",
    ],
)
def test_a_bad_consent_event_names_its_field_and_writes_nothing(
    cast: Cast, training: Purpose, changes: dict[str, Any], field: str, words: str
) -> None:
    make_purpose(cast, "marketing")
    record_consent(cast, EXTERNAL_ID, "given", at("01-01"), purpose=training)  # so a withdrawal is possible

    error = refused(lambda: post_consent(cast.officer, **changes), 422)

    assert field in error["details"], error
    assert words in json.dumps(error), error
    assert EXTERNAL_ID not in json.dumps(error)


@pytest.mark.parametrize("who", ["owner", "reviewer", "ci", "regulator", "read_only"])
def test_only_consent_keepers_record_consent(cast: Cast, training: Purpose, who: str) -> None:
    refused(lambda: post_consent(getattr(cast, who)), 403, "permission_denied")


def test_consent_events_are_listed_by_subject(cast: Cast, training: Purpose) -> None:
    record_consent(cast, EXTERNAL_ID, "given", at("01-01"), purpose=training)
    record_consent(cast, "someone-else", "given", at("01-02"), purpose=training)
    record_consent(cast, EXTERNAL_ID, "withdrawn", at("02-01"), purpose=training)

    response = cast.officer.client().get(EVENTS, {"subject": pseudonym(EXTERNAL_ID)})

    assert response.status_code == 200
    assert [e["kind"] for e in response.json()["results"]] == ["withdrawn", "given"]


# --- a withdrawal opens findings downstream --------------------------------------------------------------------


@pytest.fixture
def trained(cast: Cast, training: Purpose, media_root: Path) -> dict[str, Any]:
    """applicants v1 holds applicants 1-20, and credit-scoring v1 is trained on it (registered over HTTP with
    training_datasets); credit-features v1 is made from applicants v1 and credit-limit v1 trained on that (two
    levels down). Unrelated: bureau v1 (applicants 101-120) and document-router v1 trained on it. Applicant 3
    consents on 01-01."""
    applicants = make_file_version(
        cast, make_dataset(cast, "applicants"), german_csv(20), subject_id_column="applicant_id"
    )
    bureau = make_file_version(
        cast, make_dataset(cast, "bureau"), german_csv(20, first_id=101), subject_id_column="applicant_id"
    )
    make_model(cast, "credit-scoring")
    response = cast.owner.client().post(
        f"{API}/models/credit-scoring/versions/",
        {"training_datasets": [{"dataset": "applicants", "version": 1}], "metrics": {"auc": 0.8}},
        format="json",
    )
    assert response.status_code == 201, response.content
    features = make_external_version(cast, make_dataset(cast, "credit-features"))
    make_run(cast, "build_features", inputs=[applicants], outputs=[features])
    make_model_version(cast, make_model(cast, "credit-limit"), trained_on=[features])
    make_model_version(cast, make_model(cast, "document-router"), trained_on=[bureau])
    record_consent(cast, applicant_id(3), "given", at("01-01"), purpose=training)
    record_consent(cast, applicant_id(105), "given", at("01-01"), purpose=training)
    return {"applicants": applicants, "bureau": bureau}


def version_of(model: str, number: int = 1) -> ModelVersion:
    return ModelVersion.objects.get(model__name=model, number=number)


def withdraw(cast: Cast, external_id: str, when: str = "2026-03-01T12:00:00Z") -> Any:
    return post_consent(cast.officer, external_id=external_id, kind="withdrawn", occurred_at=when)


def test_a_withdrawal_opens_a_finding_on_every_model_version_downstream(cast: Cast, trained: dict[str, Any]) -> None:
    subject = pseudonym(applicant_id(3))
    seq = last_seq()

    response = withdraw(cast, applicant_id(3))

    assert response.status_code == 201, response.content
    cause = f"consent_withdrawn:model_training:{subject}"
    findings = {f.version.model.name: f for f in Finding.objects.select_related("version__model")}
    assert set(findings) == {"credit-scoring", "credit-limit"}  # not document-router: bureau does not hold them
    scoring = findings["credit-scoring"]
    assert (scoring.kind, scoring.cause, scoring.status) == ("consent_withdrawn", cause, "open")
    assert scoring.details == {
        "purpose": "model_training",
        "change": "withdrawn",
        "subject": subject,
        "dataset": "dataset:applicants/v1",
    }
    assert "dataset:applicants/v1" in scoring.title
    recorded = [(e.action, e.payload) for e in events_since(seq)]
    assert recorded[0][0] == "consent.recorded"
    assert sorted(recorded[1:], key=lambda r: r[1]["model"]) == [
        (
            "finding.opened",
            {
                "model": name,
                "version": 1,
                "finding": findings[name].pk,
                "kind": "consent_withdrawn",
                "cause": cause,
            },
        )
        for name in ("credit-limit", "credit-scoring")
    ]


def test_a_second_withdrawal_of_the_same_subject_and_purpose_opens_no_second_finding(
    cast: Cast, trained: dict[str, Any]
) -> None:
    assert withdraw(cast, applicant_id(3)).status_code == 201
    seq = last_seq()

    again = withdraw(cast, applicant_id(3), when="2026-03-05T12:00:00Z")

    assert again.status_code == 201, again.content
    assert Finding.objects.count() == 2
    assert [e.action for e in events_since(seq)] == ["consent.recorded"]


def test_a_withdrawal_by_a_subject_in_no_training_data_opens_nothing_on_credit_models(
    cast: Cast, trained: dict[str, Any]
) -> None:
    seq = last_seq()

    assert withdraw(cast, applicant_id(105)).status_code == 201

    assert [(f.version.model.name, f.kind) for f in Finding.objects.all()] == [("document-router", "consent_withdrawn")]
    assert [e.action for e in events_since(seq)] == ["consent.recorded", "finding.opened"]


def test_giving_consent_opens_no_finding(cast: Cast, trained: dict[str, Any]) -> None:
    response = post_consent(cast.officer, external_id=applicant_id(4), occurred_at="2026-03-01T12:00:00Z")

    assert response.status_code == 201
    assert not Finding.objects.exists()


# --- findings: listing and resolving ---------------------------------------------------------------------------


@pytest.fixture
def finding(cast: Cast, trained: dict[str, Any]) -> Finding:
    """The open finding on credit-scoring v1 after applicant 3 withdrew."""
    assert withdraw(cast, applicant_id(3)).status_code == 201
    return Finding.objects.get(version=version_of("credit-scoring"))


def resolve(member: Member, finding: Finding, **body: Any) -> Any:
    version = finding.version
    return member.client().post(
        f"{findings_url(version.model.name, version.number)}{finding.pk}/resolve", body, format="json"
    )


def test_the_owner_sees_the_findings_on_their_version(cast: Cast, finding: Finding) -> None:
    response = cast.owner.client().get(findings_url("credit-scoring", 1))

    assert response.status_code == 200, response.content
    listed = response.json()["results"]
    assert [(f["id"], f["kind"], f["status"], f["model"], f["version"]) for f in listed] == [
        (finding.pk, "consent_withdrawn", "open", "credit-scoring", 1)
    ]
    assert cast.owner.client().get(findings_url("credit-scoring", 1), {"status": "resolved"}).json()["results"] == []


def test_another_team_cannot_see_the_findings(cast: Cast, finding: Finding) -> None:
    refused(lambda: cast.outsider.client().get(findings_url("credit-scoring", 1)), 404, "not_found")


def test_a_reviewer_accepts_a_finding_with_a_reason(cast: Cast, finding: Finding) -> None:
    reason = "Applicant 3 is one row of 20; the effect on the model is negligible. Retrain in Q2."
    seq = last_seq()

    response = resolve(cast.reviewer, finding, resolution="accept", reason=reason)

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("status", "resolution", "resolution_reason", "resolved_by")} == {
        "status": "resolved",
        "resolution": "accept",
        "resolution_reason": reason,
        "resolved_by": "rhea",
    }
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_by) == ("resolved", cast.reviewer.user)
    recorded = events_since(seq)
    assert [(e.action, e.payload) for e in recorded] == [
        (
            "finding.resolved",
            {
                "model": "credit-scoring",
                "version": 1,
                "finding": finding.pk,
                "resolution": "accept",
                "reason_sha256": sha256_text(reason),
            },
        )
    ]
    assert reason.encode() not in bytes(recorded[0].leaf)
    assert version_of("credit-scoring").state == "draft"


def test_the_versions_creator_cannot_resolve_its_finding(cast: Cast, trained: dict[str, Any]) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    mine = make_model_version(
        cast, ModelVersion.objects.get(model__name="credit-scoring").model, trained_on=[trained["applicants"]], by=pat
    )
    assert withdraw(cast, applicant_id(3)).status_code == 201
    finding = Finding.objects.get(version=mine)
    # Pat moves to reviewing in the same team; their token now carries findings:resolve.
    User.objects.filter(pk=pat.user.pk).update(role=Role.REVIEWER)

    error = refused(lambda: resolve(pat, finding, resolution="accept", reason="fine"), 403, "self_review")

    assert "separation of duties" in error["message"]


def test_a_finding_is_resolved_once(cast: Cast, finding: Finding) -> None:
    assert resolve(cast.reviewer, finding, resolution="retrain", reason="Retraining without them.").status_code == 200

    error = refused(lambda: resolve(cast.officer, finding, resolution="accept", reason="Again."), 409, "resolved")

    assert "already resolved (retrain)" in error["message"]


def test_retiring_a_version_that_is_not_deployed_is_409(cast: Cast, finding: Finding) -> None:
    error = refused(lambda: resolve(cast.officer, finding, resolution="retire", reason="Stop it."), 409, "not_deployed")

    assert "draft" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"resolution": "accept", "reason": ""}, "reason"),
        ({"resolution": "accept"}, "reason"),
        ({"resolution": "ignore", "reason": "Meh."}, "resolution"),
    ],
)
def test_a_resolution_needs_a_known_outcome_and_a_reason(
    cast: Cast, finding: Finding, body: dict[str, str], field: str
) -> None:
    error = refused(lambda: resolve(cast.reviewer, finding, **body), 422)

    assert field in error["details"]


@pytest.mark.parametrize(("who", "status"), [("owner", 403), ("ci", 403), ("outsider", 403), ("regulator", 403)])
def test_who_may_not_resolve_findings(cast: Cast, finding: Finding, who: str, status: int) -> None:
    refused(lambda: resolve(getattr(cast, who), finding, resolution="accept", reason="ok"), status)

    finding.refresh_from_db()
    assert finding.status == "open"


def test_an_action_caller_is_held_to_the_same_rules(cast: Cast, finding: Finding) -> None:
    with pytest.raises(RegistryError) as refusal:
        do_resolve_finding(
            finding=finding, user=cast.owner.user, actor=acting(cast.owner), resolution="accept", reason="mine"
        )

    assert refusal.value.code == "role_refused"
