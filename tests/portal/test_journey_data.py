"""Issue 19's journeys for data and monitoring in a real headless Chromium (test_browser.py's browser, live server and
sign-in): an owner registers a dataset, drops its file on the upload form, watches the upload's progress and lands
on the quality profile, then records the lineage run that made it; an officer finds that registration in the trail
by the owner's name; an owner sets up monitoring from the reference's columns and sends a batch too small to judge,
which is shown as insufficient evidence, never ok. Screenshots go to var/test-artifacts/portal/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from governance.access.models import User
from governance.data.models import DatasetVersion, LineageRun
from governance.trail.models import Event
from registry.models import MonitorConfig, MonitoringBatch
from tests.audits.conftest import FAILING_RATES, decision_rows, rows_csv
from tests.conftest import Cast
from tests.portal.conftest import World
from tests.portal.test_browser import (  # noqa: F401 - browser, live and new_page are fixtures
    CHROMIUM,
    NARROW,
    browser,
    live,
    new_page,
    no_horizontal_scroll,
    shot,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (see test_browser.py)"),
]

CHECKS = 60  # how many times a journey looks again at a page whose work may finish in the background

# Records, in the tab's sessionStorage (it outlives the page the upload's answer replaces), what the progress bar
# showed: whether it was shown and the highest percentage it reached.
WATCH_PROGRESS = """(id) => {
    const bar = document.getElementById(id);
    sessionStorage.setItem("progress", "-1");
    new MutationObserver(() => {
        const highest = Math.max(Number(sessionStorage.getItem("progress")), bar.value);
        if (!bar.hidden) sessionStorage.setItem("progress", String(highest));
    }).observe(bar, {attributes: true});
}"""

DROP = """([name, text]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, {type: "text/csv"}));
    document.getElementById("dataset-dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
}"""


def test_owner_uploads_a_dataset_sees_its_profile_and_records_its_lineage_then_the_trail_names_them(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, _ = live
    User.objects.filter(pk=cast.owner.user.pk).update(first_name="Omar", last_name="Haddad")
    page = new_page()
    sign_in(page, base, cast.owner)
    page.get_by_role("link", name="Data", exact=True).click()
    page.get_by_role("link", name="Register a dataset").click()
    page.get_by_label("Dataset name").fill("loan-applications")
    page.get_by_label("Description").fill("Applications of 2026, cleaned.")
    page.get_by_role("button", name="Register the dataset").click()
    page.get_by_text("Dataset loan-applications is registered. Upload its first version next.").wait_for()
    assert page.url == f"{base}/data/datasets/loan-applications/versions/new"

    csv = rows_csv(decision_rows(FAILING_RATES)).decode()
    page.evaluate(DROP, ["applications-2026.csv", csv])
    assert page.locator("#file-chosen").inner_text() == f"Chosen: applications-2026.csv ({len(csv):,} bytes)."
    page.get_by_label("Subject-id column").fill("applicant_id")
    page.get_by_label("Label column").fill("label")
    page.get_by_label("Licence").fill("internal")
    page.evaluate(WATCH_PROGRESS, "dataset-upload-progress")
    page.get_by_role("button", name="Upload v1").click()
    page.get_by_text("loan-applications v1 is registered (200 rows, 0 quality finding(s)).").wait_for()
    assert page.url == f"{base}/data/datasets/loan-applications/versions/1/"
    assert page.evaluate("sessionStorage.getItem('progress')") == "100"  # shown, and it reached the end
    quality = page.locator("section").filter(has=page.get_by_role("heading", name="Quality profile"))
    assert "0: 119, 1: 81 (minority 0.41)" in quality.inner_text()  # label balance (test_data_forms.py's count)
    version = DatasetVersion.objects.get(dataset__name="loan-applications", number=1)
    assert (version.row_count, version.subject_count, version.licence) == (200, 200, "internal")
    shot(page, "owner-dataset-uploaded")

    page.get_by_role("link", name="Record the run that made v1").click()
    page.get_by_label("Job name", exact=True).fill("clean-applications")
    page.get_by_label("Dataset versions it read").select_option("applications@1")  # the world's raw applications
    page.get_by_role("button", name="Record the run").click()
    page.get_by_text("Lineage run assay/clean-applications is recorded (1 input(s)).").wait_for()
    assert page.url == f"{base}/data/datasets/loan-applications/versions/1/"
    run = LineageRun.objects.get(job_name="clean-applications")
    assert [link.dataset_version.dataset.name for link in run.links.filter(direction="input")] == ["applications"]
    shot(page, "owner-lineage-recorded")

    officer = new_page()
    sign_in(officer, base, cast.officer)
    officer.get_by_role("link", name="Trail").click()
    officer.get_by_label("Person").select_option(label="Omar Haddad (omar)")
    officer.get_by_label("Event type").select_option("dataset.registered")
    officer.get_by_role("button", name=re.compile("Filter|Show")).click()
    event = Event.objects.get(action="dataset.registered", payload__name="loan-applications")
    row = officer.get_by_role("row").filter(has=officer.get_by_role("link", name=str(event.seq), exact=True))
    assert "Omar Haddad (omar)" in row.inner_text()
    assert row.get_by_role("link", name="loan-applications").is_visible()
    by_omar = Event.objects.filter(action="dataset.registered", actor_user_id=cast.owner.user.pk).count()
    assert by_omar == 2  # the world's applications and loan-applications: the rows shown are exactly these
    assert officer.locator("main table tbody tr").count() == by_omar
    shot(officer, "officer-trail-by-name")


def test_owner_sets_up_monitoring_from_the_columns_and_a_small_batch_is_insufficient_evidence(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    tmp_path: Any,
) -> None:
    base, world = live
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/credit-scoring/versions/1/")
    page.get_by_role("link", name="Set up monitoring").click()
    assert page.get_by_label("Reference data").input_value() == "applications@1"  # its training data
    assert page.get_by_role("checkbox", name="income").first.is_checked()  # the model's declared input
    features = page.locator("fieldset").filter(has_text="Monitored features")
    features.get_by_role("checkbox", name="age_band").check()
    features.get_by_role("checkbox", name="sex").check()  # a mistake: sex is also protected below
    page.get_by_label("Decision column").fill("prediction")
    page.get_by_label("Label column").select_option("label")
    page.locator("fieldset").filter(has_text="Protected attributes").get_by_role("checkbox", name="sex").check()
    page.get_by_role("button", name="Save the monitoring set-up").click()
    problem = page.locator("#id_features-errors")
    assert problem.inner_text() == "Monitored features: Columns cannot be both a feature and a role: sex."
    assert not MonitorConfig.objects.exists()
    shot(page, "owner-monitoring-refused")
    page.locator("fieldset").filter(has_text="Monitored features").get_by_role("checkbox", name="sex").uncheck()
    page.get_by_role("button", name="Save the monitoring set-up").click()
    page.get_by_text("Monitoring of credit-scoring v1 is set up against applications v1").wait_for()
    config = MonitorConfig.objects.get(version=world.version)
    assert [f["name"] for f in config.spec["features"]] == ["age_band", "income"]
    assert config.spec["protected"] == ["sex"]

    # 50 rows, without the protected column: drift is short of rows and live fairness has no column to judge.
    kept = ("age_band", "income", "prediction", "label")  # the configured columns, sex left out
    rows = [{k: row[k] for k in kept} for row in decision_rows(FAILING_RATES)[:50]]
    batch = tmp_path / "batch-1.csv"
    batch.write_bytes(rows_csv(rows))
    page.get_by_label("Batch file (CSV or Parquet)").set_input_files(str(batch))
    page.get_by_role("button", name="Send batch").click()
    page.get_by_text(re.compile(r"Batch 1 received \(50 rows\)")).wait_for()
    outcome = page.get_by_test_id("batch-outcome").first
    for _ in range(CHECKS):  # the check may run in the background: look again until it has judged the batch
        if outcome.inner_text() not in ("pending", "running", "waiting"):
            break
        page.reload()
    assert outcome.inner_text() == "insufficient evidence"
    assert MonitoringBatch.objects.get(version=world.version, number=1).status == "checked"
    gaps = page.get_by_test_id("batch-gaps").first.inner_text()
    assert "sex" in gaps
    assert "50" in gaps
    shot(page, "owner-batch-insufficient")


def test_the_data_and_monitoring_forms_fit_a_390_px_screen(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, _ = live
    page = new_page(NARROW)
    sign_in(page, base, cast.owner)
    too_wide = []
    for path in (
        "/data/datasets/new",
        "/data/datasets/applications/versions/new",
        "/data/lineage/runs/new",
        "/models/credit-scoring/versions/1/monitoring",
    ):
        page.goto(f"{base}{path}")
        if not no_horizontal_scroll(page):
            too_wide.append(path)
    assert too_wide == []
    shot(page, "owner-monitoring-setup-narrow")


def test_a_dropped_dataset_over_the_limit_is_refused_before_it_is_sent(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    settings: Any,
) -> None:
    base, _ = live
    settings.DATASET_MAX_BYTES = 1024
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/data/datasets/applications/versions/new")
    page.get_by_label("Source").fill("CRM export")
    page.evaluate(DROP, ["big.csv", "a,b\n" + "1,2\n" * 500])  # 2,004 bytes
    said = page.locator("#file-chosen").inner_text()
    assert said == "big.csv has 2,004 bytes; a dataset file may have at most 1,024 bytes."
    page.get_by_role("button", name="Upload v2").click()
    assert page.url == f"{base}/data/datasets/applications/versions/new"  # not sent
    assert page.get_by_label("Source").input_value() == "CRM export"  # nothing lost
    assert DatasetVersion.objects.filter(dataset__name="applications").count() == 1
