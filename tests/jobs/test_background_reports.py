"""A run's signed report in the embedded default (issue 19): the portal's "Make the signed PDF report" returns at
once with a build queued, a real worker on the embedded broker makes the report, and the run page's report section
shows the build's progress until the download link.
"""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from audits.models import Report, ReportBuild
from tests.conftest import Cast
from tests.crash_helpers import wait_for
from tests.jobs.conftest import jobs_queued
from tests.portal.conftest import build_world, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("workers")]


def section(client: Any, run_id: int) -> str:
    """The report section, as the page polls it."""
    response = client.get(f"/audits/{run_id}/?part=report")
    assert response.status_code == 200
    return unescape(response.content.decode())


@pytest.mark.usefixtures("media_root", "unprotected_trail")
def test_the_portal_asks_a_worker_for_the_report_and_shows_its_progress_to_the_download(
    cast: Cast, settings: Any, start_worker: Any
) -> None:
    run = build_world(cast).run  # its audit ran in this process, before jobs are queued
    with jobs_queued(settings):
        officer = signed_in(cast.officer)
        sent = officer.post(f"/audits/{run.pk}/report")
        build = ReportBuild.objects.get()
        assert sent.status_code == 302
        assert sent["Location"] == f"/audits/{run.pk}/#h-report"
        assert (build.status, Report.objects.count()) == ("queued", 0)  # the request made no report
        queued = section(officer, run.pk)
        assert "Making the report: queued, 0%" in queued
        assert "Waiting for a worker." in queued
        assert f'hx-get="/audits/{run.pk}/?part=report" hx-trigger="every 1s"' in queued
        assert "Make the signed PDF report" not in queued  # no second request while one is made
        again = officer.post(f"/audits/{run.pk}/report")  # asked again meanwhile: the same build
        assert again.status_code == 302
        assert ReportBuild.objects.count() == 1

        worker = start_worker(hold=True)
        _pid, percent, note = worker.wait_until_held().split(" ", 2)
        assert (percent, note) == ("10", "Gathering the results, approvals and trail facts the report states")
        building = section(officer, run.pk)
        assert 'data-build-status="building"' in building
        assert 'role="progressbar"' in building
        assert 'aria-valuenow="10"' in building
        assert "Making the report: building, 10%" in building
        assert note in building

        worker.go_on()
        wait_for(
            lambda: not ReportBuild.objects.get(pk=build.pk).is_live or worker.process.poll() is not None,
            "the worker to end the build",
        )
    done = ReportBuild.objects.get(pk=build.pk)
    assert done.status == "ready", (done.error, worker.text())
    report = Report.objects.get()
    assert (done.report_id, report.run_id) == (report.pk, run.pk)
    ready = section(officer, run.pk)
    assert "hx-get" not in ready  # the polling stops
    assert f'href="/api/v1/reports/{report.pk}/pdf"' in ready
    assert "Make a new report if the results changed" in ready
    assert officer.get(f"/api/v1/reports/{report.pk}/pdf").content.startswith(b"%PDF")
    assert "audits.build_run_report[" in worker.text()
