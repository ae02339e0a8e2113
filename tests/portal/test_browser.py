"""The portal in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): each role's main
journeys on a live server, screenshots into var/test-artifacts/portal/, and the narrow (390 px) layout.

One browser per test session (per xdist worker); the tests share one xdist group so they stay on one worker.
They skip, saying why, only when /usr/bin/chromium is absent (`make test` installs it where apt is usable).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from audits.actions import do_start_audit, execute_audit
from governance.celery import app
from governance.exports.actions import do_create_share
from registry.models import RegisteredModel
from tests.audits.conftest import PREDICTION_ROLES
from tests.conftest import PASSWORD, Cast, Member
from tests.data.conftest import pseudonym
from tests.portal.conftest import WITHDRAWING, World, build_world
from tests.registry.conftest import acting, register_model

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "portal"
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is not installed: run `make test` (it installs Debian's chromium where apt is "
        "usable) or `apt-get install chromium chromium-driver` to run the portal's browser tests",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for this module. Module-scoped on purpose: Playwright's sync API keeps an event loop running in
    this thread while it lives, and code that later calls ``asyncio.run`` in the same worker (pyHanko signing a
    report) would fail if it outlived these tests."""
    # The test's own ORM calls are plain sync code, but Django sees the running loop and would refuse them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def live(live_server: Any, unprotected_trail: None, cast: Cast, media_root: Any) -> tuple[str, World]:
    """The world on a live server (transactional: the audit runs as its transaction commits)."""
    return live_server.url, build_world(cast)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    contexts = []

    def open_page(viewport: dict[str, int] = WIDE) -> Any:
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, base: str, member: Member) -> None:
    """Sign in through the real form, by keyboard only (the user name field has focus on arrival)."""
    page.goto(f"{base}/login/")
    # Chromium applies autofocus after the load event, in a later frame: wait for it (this also asserts it), or the
    # first keys could land nowhere.
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type(member.user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_officer_reviews_the_failing_audit_and_approves(new_page: Any, live: tuple[str, World], cast: Cast) -> None:
    base, world = live
    page = new_page()
    sign_in(page, base, cast.officer)
    assert page.get_by_role("heading", name="Audits that did not pass").is_visible()
    shot(page, "officer-dashboard")
    page.get_by_role("link", name=re.compile(rf"#{world.run.pk} credit-scoring v1")).click()
    assert page.get_by_test_id("verdict").inner_text() == "fail"
    assert page.get_by_text("sex=F: impact ratio 0.500").first.is_visible()
    assert page.locator(".chart").count() >= 1  # the report's charts (img), or the portal's own (svg)
    shot(page, "officer-audit-run")
    page.get_by_role("button", name="Make the signed PDF report").click()
    with page.expect_download() as download:
        page.get_by_test_id("report-pdf").first.click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    page.get_by_role("link", name="credit-scoring v1").first.click()
    page.locator("#approve_reason").fill("Gap explained by the pilot's sample; re-audit in Q3.")
    page.get_by_label("I approve v1 over the evidence against it").check()  # the failing audit (issue 19)
    page.get_by_role("button", name="Approve v1").click()
    assert page.get_by_text("Your approval is recorded.").is_visible()
    assert page.get_by_role("cell", name="olivia").is_visible()
    shot(page, "officer-version-approved")


def test_regulator_sees_only_the_shared_model_read_only(new_page: Any, live: tuple[str, World], cast: Cast) -> None:
    base, _ = live
    register_model(cast, "minimal")  # another model of the same team: not shared
    share = do_create_share(
        user=cast.officer.user,
        actor=acting(cast.officer),
        regulator=cast.regulator.user,
        expires_at=timezone.now() + dt.timedelta(days=14),
        reason="Supervisory review of the credit model",
        model=world_model(),
    )
    page = new_page()
    sign_in(page, base, cast.regulator)
    assert page.get_by_role("heading", name="Shared with you").is_visible()
    assert page.get_by_test_id("expiry").first.inner_text().startswith(share.expires_at.strftime("%Y-%m-%d"))
    shot(page, "regulator-dashboard")
    page.get_by_role("link", name="Models").click()
    assert page.get_by_role("table").get_by_role("link", name="credit-scoring").is_visible()
    assert page.get_by_role("link", name="document-router").count() == 0
    expiry = share.expires_at.strftime("%Y-%m-%d")
    assert expiry in page.get_by_test_id("share-notice").inner_text()  # the list page says until when, too
    page.goto(f"{base}/models/credit-scoring/versions/1/")
    assert page.locator("main form").count() == 0  # read-only
    assert expiry in page.get_by_test_id("share-notice").inner_text()
    assert page.goto(f"{base}/models/document-router/").status == 404


def world_model() -> Any:
    return RegisteredModel.objects.get(name="credit-scoring")


def test_owner_cannot_approve_their_own_version_and_is_told_why(
    new_page: Any, live: tuple[str, World], cast: Cast
) -> None:
    base, _ = live
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/credit-scoring/versions/1/")
    assert page.get_by_role("button", name="Approve v1").count() == 0
    refusal = page.get_by_test_id("review-refusal")
    assert "separation of duties" in refusal.inner_text()
    assert page.get_by_role("button", name="Save the model card").is_visible()  # still editable under review
    shot(page, "owner-version-no-approve")


def test_consent_withdrawal_opens_a_finding_on_the_dashboard(
    new_page: Any, live: tuple[str, World], cast: Cast
) -> None:
    base, _ = live
    page = new_page()
    sign_in(page, base, cast.officer)
    assert page.get_by_test_id("finding-count").inner_text() == "0"
    page.get_by_role("link", name="Subjects").click()
    page.get_by_label("External id of the data subject").fill(WITHDRAWING)
    page.get_by_role("button", name="Look up").click()
    assert WITHDRAWING not in page.url
    assert pseudonym(WITHDRAWING) in page.url
    assert page.get_by_test_id("state-model_training").inner_text() == "consenting"
    page.get_by_label("Event", exact=True).select_option("withdrawn")
    page.get_by_label("When (UTC)").fill("2026-03-01T10:00")
    page.get_by_role("button", name="Record").click()
    assert page.get_by_test_id("state-model_training").inner_text() == "withdrawn"
    shot(page, "officer-subject-withdrawn")
    assert WITHDRAWING not in page.content()
    page.get_by_role("link", name="Dashboard").click()
    assert page.get_by_test_id("finding-count").inner_text() == "1"
    assert page.get_by_text("withdrew consent for 'model_training'").is_visible()


def test_a_running_audit_updates_without_a_reload(
    new_page: Any, live: tuple[str, World], cast: Cast, settings: Any
) -> None:
    """With a worker (not in process), a started run is queued: the page polls and shows the result in place."""
    base, world = live
    app.conf.task_always_eager = False  # as with a broker: the job waits in the (in-memory) queue
    try:
        run, created = do_start_audit(
            user=cast.owner.user,
            actor=acting(cast.owner),
            model_version=world.version,
            dataset_version=world.dataset_version,
            policy_version=world.run.policy_version,
            column_roles=PREDICTION_ROLES,
            force=True,
        )
    finally:
        app.conf.task_always_eager = True
    assert created
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/audits/{run.pk}/")
    assert page.locator("#run-body").get_attribute("data-status") == "queued"
    page.evaluate("window.notReloaded = true")
    execute_audit(run.pk)  # the worker picks it up
    page.wait_for_selector('#run-body[data-status="done"]')
    assert page.evaluate("window.notReloaded === true")
    assert page.get_by_test_id("verdict").inner_text() == "fail"


MAIN_PAGES = [
    "/",
    "/models/",
    "/models/credit-scoring/",
    "/models/credit-scoring/versions/1/",
    "/approvals/",
    "/audits/",
    "/audits/1/",
    "/data/datasets/applications/versions/1/?purpose=model_training",
    "/trail/",
    "/trail/checkpoints/",
]


def test_main_pages_fit_390_px_without_horizontal_scrolling(new_page: Any, live: tuple[str, World], cast: Cast) -> None:
    base, world = live
    page = new_page(NARROW)
    sign_in(page, base, cast.officer)
    too_wide = []
    for path in MAIN_PAGES:
        page.goto(base + path.replace("/audits/1/", f"/audits/{world.run.pk}/"))
        if not no_horizontal_scroll(page):
            too_wide.append(path)
    assert too_wide == []
    page.goto(f"{base}/audits/{world.run.pk}/")
    shot(page, "narrow-audit-run")
