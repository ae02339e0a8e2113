"""Portal forms: each change goes through the action the API uses, with its trail event; bad input (malformed,
oversized, hostile, a double submit, no CSRF token) is refused with a message naming the problem, and changes
nothing; nothing answers 500."""

from __future__ import annotations

import logging
from html import escape
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import AuditRun
from governance.access.models import User
from governance.access.roles import Role
from governance.data.models import Subject
from registry.models import Finding, Review, VersionState
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import pseudonym
from tests.portal.conftest import CONSENTING, WITHDRAWING, World, acknowledged, signed_in
from tests.registry.conftest import new_member

pytestmark = pytest.mark.django_db
V1 = "/models/credit-scoring/versions/1"


def text(response: Any) -> str:
    return response.content.decode("utf-8")


# --- approvals and separation of duties ----------------------------------------------------------------------------


def test_reviewer_approves_through_the_action_with_its_event(cast: Cast, world: World) -> None:
    before = last_seq()
    reviewer = signed_in(cast.reviewer)
    response = reviewer.post(
        f"{V1}/approve", acknowledged(cast.reviewer, world.version, "Fairness gap accepted for pilot.")
    )
    assert response.status_code == 302
    assert response["Location"] == f"{V1}/"
    review = Review.objects.get(version=world.version)
    assert (review.reviewer, review.decision) == (cast.reviewer.user, "approve")
    assert [e.action for e in events_since(before)] == ["model_version.approval_added"]
    world.version.refresh_from_db()
    assert world.version.state == VersionState.SUBMITTED  # high risk: a second approver is needed
    page = reviewer.get(f"{V1}/")
    assert "Your approval is recorded." in text(page)
    assert "already reviewed this version" in text(page)  # why the buttons are gone now


def test_double_submit_of_an_approval_is_refused_and_changes_nothing(cast: Cast, world: World) -> None:
    reviewer = signed_in(cast.reviewer)
    assert reviewer.post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok")).status_code == 302
    state = db_state()
    again = reviewer.post(f"{V1}/approve", {"reason": "ok"})
    assert again.status_code == 409
    assert "already reviewed this version" in text(again)
    assert db_state() == state


def test_owner_sees_why_there_is_no_approve_button(cast: Cast, world: World) -> None:
    page = text(signed_in(cast.owner).get(f"{V1}/"))
    assert "Approve v1</button>" not in page
    assert "Approve and reject are not offered to you." in page
    assert "separation of duties" in page
    inbox = signed_in(cast.officer).get("/approvals/")
    assert f"{V1}/#review" in text(inbox)


def test_owner_cannot_approve_by_posting_either(cast: Cast, world: World) -> None:
    state = db_state()
    response = signed_in(cast.owner).post(f"{V1}/approve", {"reason": "mine"})
    assert response.status_code == 403
    assert db_state() == state


def test_a_reviewer_of_another_team_gets_404(cast: Cast, world: World) -> None:
    stranger = new_member("rex", "reviewer", ["hiring"])
    state = db_state()
    assert signed_in(stranger).post(f"{V1}/approve", {"reason": "x"}).status_code == 404
    assert db_state() == state


def test_reject_needs_a_reason_and_bounds_it(cast: Cast, world: World) -> None:
    reviewer = signed_in(cast.reviewer)
    state = db_state()
    empty = reviewer.post(f"{V1}/reject", {"reason": "   "})
    assert empty.status_code == 400
    assert "Reason for rejecting: This field is required." in text(empty)
    oversized = reviewer.post(f"{V1}/reject", {"reason": "x" * 2001})
    assert oversized.status_code == 400
    assert "at most 2000 characters" in text(oversized)
    assert db_state() == state


def test_hostile_reason_is_stored_as_text_and_shown_escaped(cast: Cast, world: World) -> None:
    hostile = "<script>alert('x')</script>\u202e\x00"
    response = signed_in(cast.reviewer).post(f"{V1}/reject", {"reason": hostile})
    # Django's form field refuses the NUL character: a clear 400, nothing stored.
    assert response.status_code == 400
    assert "Null characters are not allowed" in text(response)
    response = signed_in(cast.reviewer).post(f"{V1}/reject", {"reason": hostile.replace("\x00", "")})
    assert response.status_code == 302
    page = text(signed_in(cast.officer).get(f"{V1}/"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_forms_need_the_csrf_token(cast: Cast, world: World) -> None:
    state = db_state()
    client = signed_in(cast.reviewer, enforce_csrf_checks=True)
    assert client.post(f"{V1}/approve", {"reason": "ok"}).status_code == 403
    assert db_state() == state


def test_an_action_refusing_on_separation_of_duties_is_a_403_recorded_as_access_denied(
    cast: Cast, world: World
) -> None:
    # The owner registered and submitted v1; moved to reviewing, they hold models:approve but the action refuses.
    User.objects.filter(pk=cast.owner.user.pk).update(role=Role.REVIEWER)
    before, seq = db_state(), last_seq()
    response = signed_in(cast.owner).post(f"{V1}/approve", {"reason": "mine"})
    assert response.status_code == 403
    assert "separation of duties" in text(response)
    assert db_state() == before
    [denied] = events_since(seq)
    assert (denied.action, denied.actor_user_id) == ("access.denied", cast.owner.user.pk)
    assert (denied.payload["reason"], denied.payload["scope"], denied.payload["method"]) == ("self_review", "", "POST")


def test_four_eyes_then_deploy_is_refused_without_the_required_audit_but_says_why(
    cast: Cast, world: World, settings: Any
) -> None:
    assert (
        signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok")).status_code
        == 302
    )
    assert (
        signed_in(cast.officer).post(f"{V1}/approve", acknowledged(cast.officer, world.version, "ok")).status_code
        == 302
    )
    world.version.refresh_from_db()
    assert world.version.state == VersionState.APPROVED
    settings.AUDIT_REQUIRED_POLICIES = {"high": "eu-ai-act-high-risk"}
    state = db_state()
    refused = signed_in(cast.officer).post(f"{V1}/deploy", {"environment": "production", "reason": "go"})
    assert refused.status_code == 409
    assert "Deployment blocked" in text(refused)
    assert db_state() == state
    settings.AUDIT_REQUIRED_POLICIES = {}
    bad_env = signed_in(cast.officer).post(f"{V1}/deploy", {"environment": "moon", "reason": "go"})
    assert bad_env.status_code == 400
    assert "Select a valid choice" in text(bad_env)
    deployed = signed_in(cast.officer).post(f"{V1}/deploy", {"environment": "production", "reason": "go"})
    assert deployed.status_code == 302
    world.version.refresh_from_db()
    assert world.version.state == VersionState.DEPLOYED


# --- model card --------------------------------------------------------------------------------------------------


def test_model_card_is_editable_under_review_then_frozen(cast: Cast, world: World) -> None:
    owner = signed_in(cast.owner)
    assert "Save the model card" in text(owner.get(f"{V1}/"))
    before = last_seq()
    saved = owner.post(f"{V1}/card", {"intended_use": "Pre-screening only.", "caveats_and_recommendations": "Small."})
    assert saved.status_code == 302
    world.version.refresh_from_db()
    assert world.version.model_card["caveats_and_recommendations"] == "Small."
    assert [e.action for e in events_since(before)] == ["model_card.edited"]

    state = db_state()
    too_long = owner.post(f"{V1}/card", {"metrics": "x" * 20001})
    assert too_long.status_code == 400
    assert "Metrics: Ensure this value has at most 20000 characters" in text(too_long)
    assert db_state() == state

    signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok"))
    page = text(owner.get(f"{V1}/"))
    assert "Save the model card" not in page
    assert "frozen" in page
    state = db_state()
    frozen = owner.post(f"{V1}/card", {"metrics": "late change"})
    assert frozen.status_code == 409
    assert "frozen" in text(frozen)
    assert db_state() == state


# --- audits ------------------------------------------------------------------------------------------------------


def _audit_form(**roles: Any) -> dict[str, Any]:
    return {
        "model_version": "credit-scoring/v1",
        "dataset_version": "applications/v1",
        "policy": "four-fifths",
        "label": "label",
        "favourable": "1",
        "protected": ["sex"],
        "prediction": "prediction",
        **roles,
    }


def test_run_page_shows_verdict_reasons_rates_and_impact_ratios(cast: Cast, world: World) -> None:
    page = text(signed_in(cast.officer).get(f"/audits/{world.run.pk}/"))
    assert 'data-testid="verdict">fail<' in page
    assert "sex=F: impact ratio 0.500" in page  # the verdict's reason, in words
    assert "0.250" in page  # the selection rates of F
    assert "0.500" in page  # and M
    # The signed PDF report's own charts, the same pictures as the PDF, with their captions as alternative text.
    assert '<img src="data:image/svg+xml;base64,' in page
    assert 'alt="Impact ratios.' in page
    assert 'hx-get="' not in page  # a finished run is not polled


def test_start_audit_form_two_steps_and_same_inputs_reuse_the_run(
    cast: Cast, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    owner = signed_in(cast.owner)
    step_two = owner.get(
        "/audits/new", {k: v for k, v in _audit_form().items() if k in ("model_version", "dataset_version", "policy")}
    )
    assert step_two.status_code == 200
    assert 'name="protected" value="sex"' in text(step_two)  # the dataset's own columns are offered
    runs = AuditRun.objects.count()
    again = owner.post("/audits/new", _audit_form())
    assert again.status_code == 302
    assert again["Location"] == f"/audits/{world.run.pk}/"
    assert AuditRun.objects.count() == runs
    with django_capture_on_commit_callbacks(execute=True):
        forced = owner.post("/audits/new", _audit_form(force="on"))
    assert forced.status_code == 302
    assert AuditRun.objects.count() == runs + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"score": "score", "prediction": ""}, "A score column needs a decision threshold."),
        ({"score": "score"}, "Give a prediction column or a score column, not both."),
        ({"protected": ["nope"]}, "Select a valid choice. nope is not one of the available choices."),
        ({"protected": []}, "Protected attributes: This field is required."),
        ({"dataset_version": "../../etc/v1"}, "Select a valid choice."),
        ({"model_version": "credit-scoring/v99"}, "Select a valid choice."),
        ({"threshold": "NaN", "score": "score", "prediction": ""}, "Decision threshold:"),
    ],
)
def test_start_audit_refuses_bad_roles_by_name(cast: Cast, world: World, change: dict, message: str) -> None:
    state = db_state()
    response = signed_in(cast.owner).post("/audits/new", _audit_form(**change))
    assert response.status_code == 400, text(response)[:2000]
    assert message in text(response)
    assert db_state() == state


def test_start_audit_of_another_teams_model_is_404(cast: Cast, world: World) -> None:
    state = db_state()
    # The outsider's form offers neither the model nor the dataset: choosing them anyway is refused.
    response = signed_in(cast.outsider).post("/audits/new", _audit_form())
    assert response.status_code == 400
    assert db_state() == state


# --- data subjects -----------------------------------------------------------------------------------------------


def test_lookup_sends_the_external_id_only_in_the_body_and_never_keeps_it(
    cast: Cast, world: World, caplog: Any
) -> None:
    secret = CONSENTING[5]
    caplog.set_level(logging.DEBUG)
    before = db_state()
    officer = signed_in(cast.officer)
    response = officer.post("/data/subjects/", {"external_id": secret})
    assert response.status_code == 302
    assert response["Location"] == f"/data/subjects/{pseudonym(secret)}/"
    page = officer.get(response["Location"])
    assert secret not in text(page)
    assert secret not in response["Location"]
    assert all(secret not in record.getMessage() for record in caplog.records)
    after = db_state()
    assert secret not in repr(after)
    # Looking up is reading: nothing but the lookup's own absence of change.
    assert {k: v for k, v in after.items() if k != "governance.event"} == {
        k: v for k, v in before.items() if k != "governance.event"
    }


@pytest.mark.parametrize(("external_id", "status"), [("", 400), ("x" * 501, 400), ("nobody-known", 200)])
def test_lookup_of_bad_or_unknown_ids(cast: Cast, world: World, external_id: str, status: int) -> None:
    response = signed_in(cast.officer).post("/data/subjects/", {"external_id": external_id})
    assert response.status_code == status
    if status == 200:
        assert "No records are held about this subject" in text(response)
    assert external_id not in text(response) or not external_id


def test_a_malformed_pseudonym_is_404(cast: Cast, world: World) -> None:
    assert signed_in(cast.officer).get("/data/subjects/not-a-pseudonym/").status_code == 404


def test_withdrawal_opens_a_finding_visible_on_the_dashboard(cast: Cast, world: World) -> None:
    officer = signed_in(cast.officer)
    subject_url = f"/data/subjects/{pseudonym(WITHDRAWING)}/"
    before = last_seq()
    response = officer.post(
        subject_url, {"purpose": "model_training", "kind": "withdrawn", "occurred_at": "2026-03-01T10:00"}
    )
    assert response.status_code == 302
    assert [e.action for e in events_since(before)] == ["consent.recorded", "finding.opened"]
    finding = Finding.objects.get(version=world.version, kind="consent_withdrawn")
    dashboard = text(officer.get("/"))
    assert escape(finding.title) in dashboard
    assert 'data-testid="finding-count">1<' in dashboard


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "withdrawn", "occurred_at": "2099-01-01T00:00"}, "A consent event cannot be in the future."),
        ({"kind": "withdrawn", "occurred_at": "yesterday"}, "Enter a valid date/time."),
        ({"kind": "sold", "occurred_at": "2026-03-01T10:00"}, "Select a valid choice."),
        (
            {"kind": "withdrawn", "occurred_at": "2025-01-01T10:00"},
            "No consent for &#x27;model_training&#x27; was given",
        ),
    ],
)
def test_bad_consent_events_are_refused_by_name(cast: Cast, world: World, form: dict, message: str) -> None:
    state = db_state()
    response = signed_in(cast.officer).post(
        f"/data/subjects/{pseudonym(WITHDRAWING)}/", {"purpose": "model_training", **form}
    )
    assert response.status_code in (400, 422)
    assert message in text(response)
    assert db_state() == state


def test_erasure_needs_its_confirmation(cast: Cast, world: World) -> None:
    subject = pseudonym(CONSENTING[0])
    officer = signed_in(cast.officer)
    state = db_state()
    wrong = officer.post(f"/data/subjects/{subject}/erase", {"confirm": "deadbeef"})
    assert wrong.status_code == 400
    assert "nothing was erased" in text(wrong)
    assert db_state() == state
    done = officer.post(f"/data/subjects/{subject}/erase", {"confirm": subject[:8]})
    assert done.status_code == 302
    assert Subject.objects.get(pseudonym=subject).erased_at is not None
    twice = officer.post(f"/data/subjects/{subject}/erase", {"confirm": subject[:8]})
    assert twice.status_code == 302
    assert "already destroyed" in text(officer.get(twice["Location"]))


def test_access_request_downloads_the_subjects_record(cast: Cast, world: World) -> None:
    subject = pseudonym(CONSENTING[1])
    before = last_seq()
    response = signed_in(cast.officer).post(f"/data/subjects/{subject}/access", {"confirm": subject[:8]})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.json()["pseudonym"] == subject
    assert [e.action for e in events_since(before)] == ["subject.access_exported"]


# --- coverage ------------------------------------------------------------------------------------------------------


def test_coverage_floor_holds_in_the_portal_too(cast: Cast, world: World, settings: Any) -> None:
    url = "/data/datasets/applications/versions/1/?purpose=model_training"
    settings.COVERAGE_MIN_SUBJECTS = 1000  # the dataset has 200 subjects
    owner_page = text(signed_in(cast.owner).get(url))
    assert "holds fewer than 1000 subjects" in owner_page
    assert 'data-testid="coverage"' not in owner_page
    officer_page = text(signed_in(cast.officer).get(url))
    assert 'data-testid="coverage"' in officer_page
    settings.COVERAGE_MIN_SUBJECTS = 10
    owner_page = text(signed_in(cast.owner).get(url))
    assert '<td class="num">200</td><td class="num">12</td>' in owner_page  # 200 subjects, 12 consenting
    bad = signed_in(cast.owner).get(url + "&at=31-12-2026")
    assert bad.status_code == 400
    assert "Enter a valid date." in text(bad)


# --- trail ---------------------------------------------------------------------------------------------------------


def test_event_page_shows_a_verified_inclusion_proof(cast: Cast, world: World) -> None:
    signed_in(cast.officer).post("/trail/checkpoints/")
    page = text(signed_in(cast.officer).get("/trail/events/3/"))
    assert 'data-testid="proof-result"><span class="badge pass">verified</span>' in page


def test_verification_from_the_portal_is_remembered(cast: Cast, world: World) -> None:
    cache.clear()
    officer = signed_in(cast.officer)
    assert signed_in(cast.owner).post("/trail/verify").status_code == 403
    response = officer.post("/trail/verify")
    assert response.status_code == 302
    assert "The trail verifies" in text(officer.get(response["Location"]))
    assert "OK</span>" in text(officer.get("/"))


@pytest.mark.parametrize(
    "query", ["page=2", "page=99999", "page=-1", "page=abc", "actor=-5", "since=2026-99-01", "action=%00"]
)
def test_trail_filters_and_pages_never_fail(cast: Cast, world: World, settings: Any, query: str) -> None:
    settings.PORTAL_PAGE_SIZE = 5
    response = signed_in(cast.officer).get(f"/trail/?{query}")
    assert response.status_code in (200, 400)
    assert "Page " in text(response) or response.status_code == 400


def test_history_as_of_bad_dates(cast: Cast, world: World) -> None:
    for bad in ("2026-02-30", "0001-01-01", "<script>", "9" * 400):
        response = signed_in(cast.officer).get("/models/credit-scoring/", {"as_of": bad})
        assert response.status_code == 400
        assert "<script>" not in text(response)


# --- monitoring on the version page ----------------------------------------------------------------------------


def test_a_batch_for_an_unmonitored_version_is_refused_with_the_actions_reason(world: World, cast: Cast) -> None:
    url = f"/models/{world.model.name}/versions/{world.version.number}/"
    page = text(signed_in(cast.owner).get(url))
    assert "is not monitored yet" in page
    before, seq = db_state(), last_seq()
    upload = SimpleUploadedFile("batch.csv", b"income,decision\n1,1\n", content_type="text/csv")
    response = signed_in(cast.owner).post(url + "batches", {"file": upload, "delimiter": ","})
    assert response.status_code == 409
    assert "has no monitoring configuration" in text(response)
    assert (db_state(), events_since(seq)) == (before, [])


def test_only_writers_may_send_batches(world: World, cast: Cast) -> None:
    url = f"/models/{world.model.name}/versions/{world.version.number}/batches"
    assert signed_in(cast.reviewer).post(url, {}).status_code == 403
