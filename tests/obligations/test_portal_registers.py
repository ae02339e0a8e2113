"""The portal pages of the serious-incident register and the ISO/IEC 42001 statement of applicability: they show the
deadlines, clocks and steps, and the decisions; officers act through the API's actions (the same trail events);
bad forms are refused naming the problem with nothing changed; another team's incidents are 404.
(Their permission ladder is in tests/portal/test_ladder.py.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from django.utils import timezone

from governance.trail.models import Event
from obligations.incidents import do_record_incident
from obligations.models import Incident, SoaEntry
from obligations.portal.registers import incident_rows
from registry.models import RegisteredModel
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import acting, register_model

pytestmark = pytest.mark.django_db

SOA = "/statement-of-applicability/"


@pytest.fixture
def credit(cast: Cast) -> RegisteredModel:
    return register_model(cast, "high")


def _page(name: str) -> str:
    return f"/models/{name}/incidents/"


def _html(response: Any) -> str:
    return response.content.decode("utf-8")


def test_an_officer_records_an_incident_and_sees_its_deadline_clock_and_step(cast: Cast, credit: Any) -> None:
    aware = (timezone.now() - dt.timedelta(days=3)).replace(second=0, microsecond=0)
    before = last_seq()
    officer = signed_in(cast.officer)
    response = officer.post(
        _page(credit.name),
        {"kind": "death", "description": "A patient died after a wrong triage.", "aware_at": f"{aware:%Y-%m-%dT%H:%M}"},
    )
    assert response.status_code == 302, _html(response)[:2000]
    incident = Incident.objects.get()
    assert incident.deadline == aware + dt.timedelta(days=10)  # Art. 73(4)
    [event] = events_since(before)
    assert event.action == "incident.recorded"
    assert event.payload["description_sha256"] == hashlib.sha256(b"A patient died after a wrong triage.").hexdigest()
    # The API's event for the same act has the same fields.
    api = cast.officer.client().post(
        f"/api/v1/models/{credit.name}/incidents/",
        {"kind": "other", "description": "Via the API.", "aware_at": aware.isoformat()},
        format="json",
    )
    assert api.status_code == 201
    [api_event] = events_since(event.seq)
    assert set(api_event.payload) == set(event.payload)

    html = _html(signed_in(cast.reviewer).get(_page(credit.name)))
    row = html[html.index(f'data-testid="incident-{incident.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f"{incident.deadline:%Y-%m-%d %H:%M}" in row
    assert "Art. 73(4) of Regulation (EU) 2024/1689" in row
    assert re.search(r"\b\d+ days? \d+ h left", row), row  # the value, against a fixed clock: below
    assert f"#{event.seq}</a>" in row  # the step, linked to its inclusion proof
    assert "Report to the authority" not in html  # a reviewer may not report
    assert 'id="h-record"' not in html


AWARE = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "after", "shown"),
    [
        # Art. 73(4): ten days after awareness of a death; Art. 73(3): two days for a widespread infringement.
        ("death", dt.timedelta(days=3), "7 days 0 h left"),
        ("death", dt.timedelta(days=3, minutes=1), "6 days 23 h left"),
        ("widespread_infringement", dt.timedelta(hours=30), "18 h left"),
        ("widespread_infringement", dt.timedelta(hours=30, seconds=1), "17 h left"),
        ("other", dt.timedelta(days=16, hours=2), "overdue by 1 day 2 h"),
    ],
)
def test_the_register_shows_the_time_left_against_the_clock_it_is_given(
    cast: Cast, credit: Any, kind: str, after: dt.timedelta, shown: str
) -> None:
    incident = do_record_incident(
        user=cast.officer.user,
        actor=acting(cast.officer),
        model=credit,
        version=None,
        kind=kind,
        description="Wrong refusals.",
        aware_at=AWARE,
    )
    (row,) = incident_rows(credit, now=AWARE + after)
    assert (row["incident"].pk, row["time_left"]) == (incident.pk, shown)
    assert row["overdue"] is shown.startswith("overdue")


def test_reporting_builds_the_bundle_and_records_the_step_once(cast: Cast, credit: Any) -> None:
    aware = timezone.now() - dt.timedelta(days=16)
    officer = signed_in(cast.officer)
    officer.post(
        _page(credit.name),
        {"kind": "other", "description": "Wrong refusals.", "aware_at": f"{aware:%Y-%m-%dT%H:%M}"},
    )
    incident = Incident.objects.get()
    html = _html(officer.get(_page(credit.name)))
    assert re.search(r"overdue by \d+ days? \d+ h", html)  # the value, against a fixed clock: below
    before = last_seq()
    response = officer.post(f"{_page(credit.name)}{incident.pk}/report", follow=True)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.report_export is not None
    actions = [e.action for e in events_since(before)]
    assert "incident.reported" in actions
    reported = Event.objects.get(action="incident.reported")
    assert (reported.payload["late"], reported.payload["export"]) == (True, incident.report_export_id)
    html = _html(response)
    assert "reported late" in html
    assert f'href="/exports/{incident.report_export_id}/"' in html
    # A second report is refused in words, nothing recorded.
    before = last_seq()
    again = officer.post(f"{_page(credit.name)}{incident.pk}/report", follow=True)
    assert "This incident was reported already." in _html(again)
    assert events_since(before) == []


def test_an_officer_records_the_steps_after_the_report_as_the_api_does(cast: Cast, credit: Any) -> None:
    aware = timezone.now() - dt.timedelta(days=1)
    officer = signed_in(cast.officer)
    officer.post(_page(credit.name), {"kind": "other", "description": "x", "aware_at": f"{aware:%Y-%m-%dT%H:%M}"})
    incident = Incident.objects.get()
    steps = f"{_page(credit.name)}{incident.pk}/steps"
    before = last_seq()
    response = officer.post(steps, {"kind": "investigation", "note": "Logs of 3 May pulled; the table was stale."})
    assert response.status_code == 302
    assert response["Location"] == f"{_page(credit.name)}#incident-{incident.pk}"
    [event] = events_since(before)
    assert (event.action, event.payload["step"]) == ("incident.step_recorded", 1)
    assert event.payload["kind"] == "investigation"
    assert event.payload["note_sha256"] == hashlib.sha256(b"Logs of 3 May pulled; the table was stale.").hexdigest()
    api = cast.officer.client().post(
        f"/api/v1/models/{credit.name}/incidents/{incident.pk}/steps",
        {"kind": "corrective_action", "note": "Address table refreshed nightly."},
        format="json",
    )
    assert api.status_code == 201, api.content
    assert [s["kind"] for s in api.json()["steps"]] == ["investigation", "corrective_action"]
    [api_event] = events_since(event.seq)
    assert set(api_event.payload) == set(event.payload)
    assert api_event.payload["step"] == 2
    html = _html(signed_in(cast.reviewer).get(_page(credit.name)))
    taken = html[html.index(f'data-testid="incident-{incident.pk}-taken"') :]
    assert "Investigation of the incident and the system</strong>: Logs of 3 May pulled" in taken
    assert "Corrective action</strong>: Address table refreshed nightly." in taken
    assert "Record a step" not in html  # a reviewer reads the steps, does not record them
    # Refused in words, nothing kept: an unknown kind, an empty note, a reviewer.
    before = last_seq()
    refused = officer.post(steps, {"kind": "prayer", "note": "x"}, follow=True)
    assert "The step of incident" in _html(refused)
    assert "kind:" in _html(refused)
    assert "note:" in _html(officer.post(steps, {"kind": "note", "note": ""}, follow=True))
    assert signed_in(cast.reviewer).post(steps, {"kind": "note", "note": "x"}).status_code == 403
    assert signed_in(cast.officer).post(f"{_page(credit.name)}999999/steps", {"kind": "note"}).status_code == 404
    assert [e.action for e in events_since(before)] == ["access.denied"]  # the reviewer's refusal, recorded
    assert incident.steps.count() == 2


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"kind": "flood", "description": "x", "aware_at": "2026-01-01T00:00"}, "kind:"),
        ({"kind": "other", "description": "", "aware_at": "2026-01-01T00:00"}, "description:"),
        ({"kind": "other", "description": "x", "aware_at": "yesterday"}, "aware_at:"),
        ({"kind": "other", "description": "x", "aware_at": "2999-01-01T00:00"}, "aware_at is in the future."),
        ({"kind": "other", "description": "x", "aware_at": "2026-01-01T00:00", "version": "7"}, "404"),
    ],
)
def test_a_bad_incident_form_is_refused_and_changes_nothing(
    cast: Cast, credit: Any, form: dict[str, str], words: str
) -> None:
    before = last_seq()
    response = signed_in(cast.officer).post(_page(credit.name), form)
    if words == "404":  # a version the model does not have
        assert response.status_code == 404
    else:
        assert response.status_code == 422
        assert words in _html(response)
    assert Incident.objects.count() == 0
    assert events_since(before) == []


def test_another_teams_incidents_are_404_and_a_reviewer_cannot_report(cast: Cast, credit: Any) -> None:
    aware = timezone.now() - dt.timedelta(hours=1)
    signed_in(cast.officer).post(
        _page(credit.name), {"kind": "other", "description": "x", "aware_at": f"{aware:%Y-%m-%dT%H:%M}"}
    )
    incident = Incident.objects.get()
    assert signed_in(cast.outsider).get(_page(credit.name)).status_code == 404
    # The outsider holds no officer scope: refused by scope before anything is looked up, as every portal form is.
    assert signed_in(cast.outsider).post(f"{_page(credit.name)}{incident.pk}/report").status_code == 403
    assert signed_in(cast.reviewer).post(f"{_page(credit.name)}{incident.pk}/report").status_code == 403
    assert signed_in(cast.officer).post(f"{_page(credit.name)}999999/report").status_code == 404
    incident.refresh_from_db()
    assert incident.reported_at is None


def test_an_officer_decides_a_control_and_the_statement_downloads(cast: Cast) -> None:
    officer = signed_in(cast.officer)
    html = _html(officer.get(SOA))
    assert "0 applicable, 0 excluded, <strong>38 undecided</strong>" in html
    assert 'data-testid="soa-A.2.2"' in html
    before = last_seq()
    response = officer.post(
        SOA,
        {
            "control": "A.2.2",
            "applicable": "yes",
            "justification": "Our AI policy is adopted.",
            "implementation": "implemented",
            "document_name": "ai-policy.pdf",
            "document_sha256": "a" * 64,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{SOA}#control-A.2.2"
    [event] = events_since(before)
    assert (event.action, event.payload["control"], event.payload["applicable"]) == ("soa_entry.set", "A.2.2", True)
    officer.post(SOA, {"control": "A.10.4", "applicable": "no", "justification": "No customers use our AI."})
    html = _html(signed_in(cast.reviewer).get(SOA))
    assert "1 applicable, 1 excluded, <strong>36 undecided</strong>" in html
    assert 'id="h-decide"' not in html  # a reviewer reads, does not decide
    assert 'href="/api/v1/statement-of-applicability.csv"' in html
    assert 'href="/api/v1/statement-of-applicability.pdf"' in html
    csv = signed_in(cast.reviewer).get("/api/v1/statement-of-applicability.csv")
    assert csv.status_code == 200
    assert "\nA.2.2," in csv.content.decode()
    assert "Our AI policy is adopted." in csv.content.decode()


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"control": "A.99", "applicable": "yes", "justification": "x", "implementation": "planned"}, "A.99"),
        ({"control": "A.2.2", "applicable": "yes", "justification": "x"}, "needs its implementation"),
        (
            {"control": "A.2.2", "applicable": "no", "justification": "x", "implementation": "planned"},
            "no implementation",
        ),
        ({"control": "A.2.2", "applicable": "maybe", "justification": "x"}, "applicable:"),
        ({"control": "A.2.2", "applicable": "yes", "justification": "", "implementation": "planned"}, "justification:"),
        (
            {"control": "A.2.2", "applicable": "no", "justification": "x", "document_sha256": "b" * 64},
            "Give both the document&#x27;s name and its SHA-256",
        ),
    ],
)
def test_a_bad_soa_form_is_refused_and_changes_nothing(cast: Cast, form: dict[str, str], words: str) -> None:
    officer = signed_in(cast.officer)
    officer.get(SOA)  # the built-in catalogue is stored on first use (its own event), as policies are
    before = last_seq()
    response = officer.post(SOA, form)
    assert response.status_code in (404, 422)
    assert words in _html(response)
    assert SoaEntry.objects.count() == 0
    assert events_since(before) == []
