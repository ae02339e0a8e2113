"""The serious-incident register (Art. 73): the deadline each kind of incident sets (known answers from the Act:
15 days, 10 days for a death, 2 days for a widespread infringement or critical infrastructure), reminders that fire
on a clock the test controls, and the report to the authority as an evidence bundle that verify.py accepts."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from governance.trail.models import Event
from obligations.incidents import clock_citation, deadline_for, do_record_incident, send_reminders
from obligations.models import Incident
from registry.models import ModelVersion
from tests.api import assert_error
from tests.conftest import Cast
from tests.exports.conftest import run_verify, trusted_keys_text
from tests.registry.conftest import acting, register_model

API = "/api/v1/models/loan-provisioning"
AWARE = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "days", "label"),
    [
        ("death", 10, "Art. 73(4) of Regulation (EU) 2024/1689"),
        ("critical_infrastructure", 2, "Art. 73(3) of Regulation (EU) 2024/1689"),
        ("widespread_infringement", 2, "Art. 73(3) of Regulation (EU) 2024/1689"),
        ("other", 15, "Art. 73(2) of Regulation (EU) 2024/1689"),
    ],
)
def test_each_kind_has_the_clock_the_act_sets(kind: str, days: int, label: str) -> None:
    assert deadline_for(kind, AWARE) - AWARE == dt.timedelta(days=days)
    assert clock_citation(kind) == label


@pytest.fixture
def provisioning(cast: Cast, make_version: Any) -> ModelVersion:
    return make_version(register_model(cast, "minimal", name="loan-provisioning"))


def _incident(cast: Cast, version: ModelVersion, kind: str = "death", aware_at: dt.datetime = AWARE) -> Incident:
    return do_record_incident(
        user=cast.officer.user,
        actor=acting(cast.officer),
        model=version.model,
        version=version,
        kind=kind,
        description="A provisioning error led to a wrongful foreclosure.",
        aware_at=aware_at,
    )


def test_a_reminder_fires_a_day_before_the_deadline_and_once_overdue(cast: Cast, provisioning: ModelVersion) -> None:
    incident = _incident(cast, provisioning)
    assert incident.deadline == AWARE + dt.timedelta(days=10)
    assert send_reminders(now=AWARE + dt.timedelta(days=8, hours=23)) == []
    fired = send_reminders(now=AWARE + dt.timedelta(days=9))
    assert [(i.pk, label) for i, label in fired] == [(incident.pk, "1-day")]
    assert send_reminders(now=AWARE + dt.timedelta(days=9, hours=12)) == []  # once only
    assert [label for _, label in send_reminders(now=AWARE + dt.timedelta(days=10))] == ["overdue"]
    events = Event.objects.filter(action="incident.reminder_due").order_by("seq")
    assert [e.payload["reminder"] for e in events] == ["1-day", "overdue"]
    assert events[0].payload["deadline"] == (AWARE + dt.timedelta(days=10)).isoformat()
    incident.refresh_from_db()
    assert incident.reminders == ["1-day", "overdue"]


def test_the_command_sends_what_is_due_now(cast: Cast, provisioning: ModelVersion) -> None:
    # Aware 14.5 days ago of an incident with the 15-day clock: half a day is left, so the 1-day reminder is due.
    incident = _incident(cast, provisioning, kind="other", aware_at=timezone.now() - dt.timedelta(days=14, hours=12))
    out = StringIO()
    call_command("incident_reminders", stdout=out)
    assert out.getvalue().startswith(f"1-day: incident {incident.pk} of loan-provisioning, report due ")


def test_the_incident_api_shows_the_deadline_and_refuses_bad_input(cast: Cast, provisioning: ModelVersion) -> None:
    body = {"kind": "death", "description": "Wrongful foreclosure.", "aware_at": AWARE.isoformat(), "version": 1}
    response = cast.officer.client().post(f"{API}/incidents/", body, format="json")
    assert response.status_code == 201, response.content
    made = response.json()
    assert (made["deadline"], made["clock"]) == ("2026-09-11T08:00:00+00:00", "Art. 73(4) of Regulation (EU) 2024/1689")
    event = Event.objects.get(action="incident.recorded")
    assert event.payload["deadline"] == "2026-09-11T08:00:00+00:00"
    listed = cast.reviewer.client().get(f"{API}/incidents/").json()["results"]
    assert [i["id"] for i in listed] == [made["id"]]
    assert_error(cast.outsider.client().get(f"{API}/incidents/"), 404)
    assert_error(cast.owner.client().post(f"{API}/incidents/", body, format="json"), 403)
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    for bad, field in (
        ({**body, "kind": "embarrassment"}, "kind"),
        ({**body, "aware_at": future}, "aware_at"),
        ({**body, "aware_at": "yesterday"}, "aware_at"),
        ({**body, "description": ""}, "description"),
        ({**body, "version": 7}, None),
    ):
        sent = cast.officer.client().post(f"{API}/incidents/", bad, format="json")
        error = assert_error(sent, 404 if field is None else 422)
        if field:
            assert field in error["details"], error
    assert Incident.objects.count() == 1


def test_the_report_is_an_evidence_bundle_that_verify_py_accepts(cast: Cast, provisioning: ModelVersion) -> None:
    incident = _incident(cast, provisioning)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = cast.officer.client().post(f"{API}/incidents/{incident.pk}/report", {}, format="json")
    assert response.status_code == 200, response.content
    export_id = response.json()["report_export"]
    event = Event.objects.get(action="incident.reported")
    assert (event.payload["export"], event.payload["late"]) == (export_id, True)  # AWARE is long past
    download = cast.officer.client().get(f"/api/v1/exports/{export_id}/download")
    assert download.status_code == 200, download.content[:300]
    bundle = b"".join(download.streaming_content) if download.streaming else download.content
    verdict = run_verify(bundle, "--trusted-keys", "keys.txt", files={"keys.txt": trusted_keys_text().encode()})
    assert verdict.code == 0, verdict.text
    again = cast.officer.client().post(f"{API}/incidents/{incident.pk}/report", {}, format="json")
    assert_error(again, 409, "already_reported")
