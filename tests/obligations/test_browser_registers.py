"""In Chromium: the officer records a serious incident from the version's obligations page, sees its deadline and
clock, reports it (the evidence bundle is built), then decides an ISO/IEC 42001 control in the statement of
applicability and downloads the CSV that shows it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from governance.exports.models import Export
from obligations.models import Incident, SoaEntry
from tests.conftest import Cast
from tests.portal.conftest import World
from tests.portal.test_browser import (  # noqa: F401 - browser, live and new_page are fixtures
    CHROMIUM,
    browser,
    live,
    new_page,
    shot,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (see test_browser.py)"),
]


def test_officer_records_and_reports_an_incident_then_decides_a_control(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    request: pytest.FixtureRequest,
) -> None:
    base, world = live
    # Before the trail is emptied: the report's bundle refers to a checkpoint (as in test_exports_progress.py).
    request.addfinalizer(lambda: (Incident.objects.all().delete(), Export.objects.all().delete()))
    name = world.model.name
    page = new_page()
    sign_in(page, base, cast.officer)
    page.goto(f"{base}/models/{name}/versions/1/obligations/")
    page.get_by_role("link", name="Serious incidents").click()
    page.get_by_role("heading", name=f"Serious incidents of {name}").wait_for()
    assert page.get_by_text("No serious incident is recorded for this model.").is_visible()

    aware = (timezone.now() - dt.timedelta(hours=30)).replace(second=0, microsecond=0)
    page.get_by_label("Kind").select_option("widespread_infringement")
    page.get_by_label("Description").fill("Applicants across the region refused on a stale address table.")
    page.get_by_label("Aware since (UTC)").fill(f"{aware:%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Record the incident").click()
    incident = Incident.objects.get()
    page.get_by_text(f"Incident {incident.pk} recorded").wait_for()
    deadline = aware + dt.timedelta(days=2)  # Art. 73(3): two days for a widespread infringement
    assert incident.deadline == deadline
    row = page.get_by_test_id(f"incident-{incident.pk}")
    assert f"{deadline:%Y-%m-%d %H:%M}" in row.inner_text()
    assert "Art. 73(3) of Regulation (EU) 2024/1689" in row.inner_text()
    assert re.search(r"\b\d+ h left", row.inner_text())  # the value against a fixed clock: test_portal_registers
    assert "incident.recorded" in row.inner_text()
    shot(page, "obligations-incident-recorded")

    row.get_by_role("button", name="Report to the authority (build the evidence bundle)").click()
    page.get_by_text(f"Incident {incident.pk} reported").wait_for()
    incident.refresh_from_db()
    assert incident.report_export_id is not None
    status = page.get_by_test_id(f"incident-{incident.pk}-status")
    assert "reported" in status.inner_text()
    assert status.get_by_role("link", name=f"Evidence bundle {incident.report_export_id}").is_visible()
    assert "incident.reported" in page.get_by_test_id(f"incident-{incident.pk}").inner_text()

    page.goto(f"{base}/models/{name}/versions/1/obligations/")
    page.get_by_role("link", name="Statement of applicability").click()
    assert "38 undecided" in page.get_by_test_id("soa-counts").inner_text()
    page.get_by_role("textbox", name="Control").fill("A.5.2")
    page.get_by_role("combobox", name="Applicable").select_option("yes")
    page.get_by_label("Justification").fill("Impact assessments run for every high-risk model.")
    page.get_by_role("combobox", name="Implementation status").select_option("partial")
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_text("A.5.2 recorded").wait_for()
    assert "applicable" in page.get_by_test_id("soa-A.5.2").inner_text()
    assert "1 applicable, 0 excluded, 37 undecided" in page.get_by_test_id("soa-counts").inner_text()
    assert SoaEntry.objects.get().implementation == "partial"
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download CSV").click()
    csv = open(caught.value.path(), encoding="utf-8").read()  # noqa: SIM115 - Playwright's temporary file
    assert "\nA.5.2," in csv
    assert "Impact assessments run for every high-risk model." in csv
