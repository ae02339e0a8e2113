"""Approvals that show their evidence (issue 19, item 2): the inbox has verdict, open-findings and gate columns;
approving over a failing audit, an open finding or a deployment the gate would refuse shows that evidence at the
top of the version page and needs an acknowledgement naming each item, with a reason, recorded in the
``model_version.approval_added`` event's ``overrides``; approving clean evidence stays one click. Separation of
duties is unchanged.

The world (tests/portal/conftest.py) has v1 of a high-risk model under review with a failing four-fifths audit
(F selected 25/100, M 50/100: impact ratio 0.5 < 0.8, a verdict computed by the engine from the counts).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection

from audits.actions import do_start_audit
from audits.models import Policy
from governance.data import actions as data
from registry.models import Finding, Review, VersionState
from registry.portal.evidence import evidence_for
from tests.api import db_state, events_since, last_seq
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, rows_csv
from tests.conftest import Cast, sha256_text
from tests.data.conftest import make_file_version
from tests.portal.conftest import WITHDRAWING, World, acknowledged, build_world, signed_in
from tests.registry.conftest import acting, new_member

pytestmark = pytest.mark.django_db
V1 = "/models/credit-scoring/versions/1"


def text(response: Any) -> str:
    return response.content.decode("utf-8")


def withdraw(cast: Cast, world: World) -> Finding:
    """The withdrawing applicant's consent is withdrawn: a consent_withdrawn finding opens on v1 (data's action)."""
    data.do_record_consent(
        user=cast.officer.user,
        actor=acting(cast.officer),
        purpose=world.purpose,
        kind="withdrawn",
        occurred_at=dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC),
        external_id=WITHDRAWING,
        source="letter",
    )
    return Finding.objects.get(version=world.version, kind="consent_withdrawn")


def audit_of_v1(cast: Cast, world: World, capture: Any, rates: dict[str, tuple[int, int]], number: int) -> Any:
    """A later four-fifths audit of v1 on new data of the same dataset, ``rates``: group -> (rows, selected)."""
    dataset_version = make_file_version(
        cast,
        world.dataset_version.dataset,
        rows_csv(decision_rows(rates)),
        name=f"applications-{number}.csv",
        subject_id_column="applicant_id",
        label_column="label",
    )
    with capture(execute=True):
        run, _ = do_start_audit(
            user=cast.owner.user,
            actor=acting(cast.owner),
            model_version=world.version,
            dataset_version=dataset_version,
            policy_version=Policy.objects.get(name="four-fifths").latest_version(),
            column_roles=PREDICTION_ROLES,
        )
    run.refresh_from_db()
    return run


def passing_audit(cast: Cast, world: World, capture: Any) -> Any:
    """F selected 45/100 and M 50/100 (impact ratio 0.9 >= 0.8): the audit passes."""
    run = audit_of_v1(cast, world, capture, PASSING_RATES, 2)
    assert (run.status, run.verdict) == ("done", "pass")
    return run


# --- the inbox ---------------------------------------------------------------------------------------------------


def test_the_inbox_shows_verdict_open_findings_and_the_gate(cast: Cast, world: World, settings: Any) -> None:
    finding = withdraw(cast, world)
    page = text(signed_in(cast.reviewer).get("/approvals/"))
    assert "<th>Verdict</th>" in page
    assert '<th class="num">Open findings</th>' in page
    verdict = page.split('data-testid="inbox-verdict">', 1)[1].split("</td>", 1)[0]
    assert f"/audits/{world.run.pk}/" in verdict
    assert "four-fifths" in verdict
    assert 'class="badge fail"' in verdict
    findings = page.split('data-testid="inbox-findings">', 1)[1].split("</td>", 1)[0]
    assert ">1</a>" in findings
    assert finding.kind in findings
    assert "would pass" in page.split('data-testid="inbox-gate">', 1)[1].split("</td>", 1)[0]  # nothing is required

    settings.AUDIT_REQUIRED_POLICIES = {"high": "eu-ai-act-high-risk"}
    page = text(signed_in(cast.reviewer).get("/approvals/"))
    verdict = page.split('data-testid="inbox-verdict">', 1)[1].split("</td>", 1)[0]
    assert "no audit" in verdict
    assert "eu-ai-act-high-risk" in verdict
    assert "would block" in page.split('data-testid="inbox-gate">', 1)[1].split("</td>", 1)[0]


def test_the_inbox_shows_only_versions_of_the_reviewers_teams(cast: Cast, world: World) -> None:
    other = new_member("rita", "reviewer", ["hiring"])
    page = text(signed_in(other).get("/approvals/"))
    assert "credit-scoring v1" not in page
    assert "Nothing is waiting for review." in page


# --- the version page and the acknowledgement ----------------------------------------------------------------------


def test_the_evidence_is_at_the_top_and_names_what_approving_overrides(cast: Cast, world: World) -> None:
    finding = withdraw(cast, world)
    page = text(signed_in(cast.reviewer).get(f"{V1}/"))
    assert page.index('id="evidence"') < page.index('id="review"')
    assert "Evidence against approving v1" in page
    assert "Approving now overrides 2 items of evidence" in page
    assert f"audit #{world.run.pk} under four-fifths: fail" in page
    assert f"finding #{finding.pk} (consent_withdrawn) is open" in page
    assert 'name="acknowledge"' in page
    assert "I approve v1 over the evidence against it" in page


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"reason": "Pilot only."}, "tick the acknowledgement to approve anyway, with a reason"),
        ({"reason": "Pilot only.", "acknowledge": "0" * 16}, "The evidence changed since the page was shown"),
        ({"reason": "Pilot only.", "acknowledge": "x" * 5000}, "Ensure this value has at most 64 characters"),
        ({"reason": "r" * 2001, "acknowledge": "ACK"}, "Reason: Ensure this value has at most 2000 characters"),
        ({"reason": "   ", "acknowledge": "ACK"}, "Say why you approve over this evidence."),
        ({"reason": "", "acknowledge": "ACK"}, "Approving over this evidence needs a reason."),
    ],
    ids=["no-acknowledgement", "other-evidence", "oversized", "long-reason", "blank-reason", "no-reason"],
)
def test_approving_over_failing_evidence_without_a_true_acknowledgement_is_refused(
    cast: Cast, world: World, form: dict[str, str], problem: str
) -> None:
    digest = evidence_for(cast.reviewer.user, world.version).digest()
    data = {k: digest if v == "ACK" else v for k, v in form.items()}
    state = db_state()
    response = signed_in(cast.reviewer).post(f"{V1}/approve", data)
    assert response.status_code == 400
    assert problem in text(response), text(response)[:3000]
    assert "Evidence against approving v1" in text(response)  # shown again, with the form as typed
    assert db_state() == state


def test_approving_with_the_acknowledgement_records_what_was_overridden(cast: Cast, world: World) -> None:
    finding = withdraw(cast, world)
    reason = "Gap explained by the pilot's sample; consent finding handled by the data team."
    before = last_seq()
    reviewer = signed_in(cast.reviewer)
    response = reviewer.post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, reason))
    assert response.status_code == 302
    [event] = events_since(before)
    assert event.action == "model_version.approval_added"
    assert event.payload == {
        "model": "credit-scoring",
        "version": 1,
        "approvals": 1,
        "required_approvals": 2,
        "reason_sha256": sha256_text(reason),
        "overrides": {
            "audits": [{"run": world.run.pk, "policy": "four-fifths", "verdict": "fail"}],
            "findings": [{"finding": finding.pk, "kind": "consent_withdrawn"}],
            "gate": [],
        },
    }
    assert Review.objects.get(version=world.version).reason == reason
    assert "It overrides the evidence you acknowledged" in text(reviewer.get(response["Location"]))


def test_an_acknowledgement_of_earlier_evidence_does_not_cover_a_new_finding(cast: Cast, world: World) -> None:
    stale = acknowledged(cast.reviewer, world.version, "Pilot only.")
    withdraw(cast, world)
    state = db_state()
    response = signed_in(cast.reviewer).post(f"{V1}/approve", stale)
    assert response.status_code == 400
    assert "The evidence changed since the page was shown: read it again before approving." in text(response)
    assert db_state() == state


def test_a_missing_required_audit_needs_the_acknowledgement_too(cast: Cast, world: World, settings: Any) -> None:
    settings.AUDIT_REQUIRED_POLICIES = {"high": "eu-ai-act-high-risk"}
    page = text(signed_in(cast.reviewer).get(f"{V1}/"))
    assert "no finished audit under eu-ai-act-high-risk" in page
    assert "the gate would refuse deploying it: high-risk models need a passing audit" in page
    assert signed_in(cast.reviewer).post(f"{V1}/approve", {"reason": "ok"}).status_code == 400
    before = last_seq()
    assert (
        signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok")).status_code
        == 302
    )
    [event] = events_since(before)
    assert event.payload["overrides"]["gate"] == [
        "high-risk models need a passing audit under the 'eu-ai-act-high-risk' policy, and credit-scoring v1 has "
        "none yet."
    ]


def test_clean_evidence_approves_in_one_click(
    cast: Cast, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    run = passing_audit(cast, world, django_capture_on_commit_callbacks)
    page = text(signed_in(cast.reviewer).get(f"{V1}/"))
    assert "Evidence before approving: nothing against it" in page
    assert f"#{run.pk}</a> four-fifths" in page
    assert 'name="acknowledge"' not in page
    before = last_seq()
    response = signed_in(cast.reviewer).post(f"{V1}/approve", {"reason": ""})
    assert response.status_code == 302
    [event] = events_since(before)
    assert "overrides" not in event.payload
    inbox = text(signed_in(cast.officer).get("/approvals/"))
    assert 'class="badge pass"' in inbox.split('data-testid="inbox-verdict">', 1)[1].split("</td>", 1)[0]


def test_insufficient_evidence_is_evidence_against_too(
    cast: Cast, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # F has 10 applicants: below the policy's minimum group size, so the ratio is not judged.
    run = audit_of_v1(cast, world, django_capture_on_commit_callbacks, {"F": (10, 5), "M": (100, 50)}, 3)
    assert (run.status, run.verdict) == ("done", "insufficient_evidence")
    found = evidence_for(cast.reviewer.user, world.version)
    assert found.against == [f"audit #{run.pk} under four-fifths: insufficient evidence"]  # the latest under it
    assert signed_in(cast.reviewer).post(f"{V1}/approve", {"reason": "ok"}).status_code == 400
    before = last_seq()
    approved = signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok"))
    assert approved.status_code == 302
    [event] = events_since(before)
    assert event.payload["overrides"]["audits"] == [
        {"run": run.pk, "policy": "four-fifths", "verdict": "insufficient_evidence"}
    ]


# --- separation of duties, roles and teams: unchanged ----------------------------------------------------------------


def test_separation_of_duties_is_asked_before_the_evidence(cast: Cast, world: World) -> None:
    outsider = new_member("rolf", "reviewer", ["hiring"])
    state = db_state()
    # The owner registered and submitted v1: refused for that, whatever they acknowledge.
    response = signed_in(cast.owner).post(f"{V1}/approve", acknowledged(cast.owner, world.version, "mine"))
    assert response.status_code == 403
    assert db_state() == state
    # Someone outside the team: 404, as before.
    assert signed_in(outsider).post(f"{V1}/approve", acknowledged(outsider, world.version, "x")).status_code == 404
    assert (
        signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok")).status_code
        == 302
    )
    again = signed_in(cast.reviewer).post(f"{V1}/approve", acknowledged(cast.reviewer, world.version, "ok"))
    assert again.status_code == 409
    assert "already reviewed this version" in text(again)


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
@pytest.mark.usefixtures("media_root")  # tests/portal/conftest.py brings it
def test_two_acknowledged_approvals_at_once_make_the_version_approved_once(unprotected_trail: None, cast: Cast) -> None:
    world = build_world(cast)
    members = (cast.reviewer, cast.officer)
    forms = [acknowledged(m, world.version, "Pilot only.") for m in members]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def approve(member: Any, form: dict[str, str]) -> None:
        client = signed_in(member)
        barrier.wait()
        try:
            statuses.append(client.post(f"{V1}/approve", form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=pair) for pair in zip(members, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [302, 302]
    world.version.refresh_from_db()
    assert world.version.state == VersionState.APPROVED
    assert len(events_since(0, "model_version.approved")) == 1
    assert all("overrides" in e.payload for e in events_since(0, "model_version.approval_added"))
