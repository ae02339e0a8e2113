"""An evidence bundle's build in the portal: the officer asks for one and lands on its page, which shows a labelled
progress bar in a live region and polls a small fragment (htmx) until the bundle is ready (then the download link)
or failed (then the reason); the polling stops there. Plus one check in a real browser that it updates by itself."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import sync_playwright

from governance.celery import app
from governance.exports import actions
from governance.exports.actions import do_create_share, execute_export
from governance.exports.models import Export
from governance.trail.log import Actor
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import World, signed_in
from tests.portal.test_browser import CHROMIUM, live, shot, sign_in  # noqa: F401 - live: a fixture
from tests.portal.test_forms import text

FRAGMENT = "?part=build"


def ask(cast: Cast, officer: Any = None) -> Export:
    """The officer asks for a bundle of credit-scoring for regina through the portal's form (its build waits: the
    test's transaction never commits)."""
    officer = officer or signed_in(cast.officer)
    response = officer.post("/exports/", {"model": "credit-scoring", "recipient": "regina"})
    export = Export.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/exports/{export.pk}/"
    return export


@pytest.mark.django_db
def test_the_page_shows_the_progress_and_polls_until_the_bundle_is_ready(cast: Cast, world: World) -> None:
    officer = signed_in(cast.officer)
    export = ask(cast, officer)
    page = text(officer.get(f"/exports/{export.pk}/"))
    assert "is being built; this page shows its progress" in page
    assert re.search(r'<div aria-live="polite">\s*<div id="export-build" data-status="queued"', page), page
    assert f'hx-get="/exports/{export.pk}/{FRAGMENT}" hx-trigger="every 1s" hx-swap="outerHTML"' in page
    assert 'role="progressbar" aria-labelledby="export-progress-label"' in page
    assert 'id="export-progress-label">Queued: 0%<' in page
    assert "Download the bundle" not in page

    fragment = text(officer.get(f"/exports/{export.pk}/{FRAGMENT}"))
    assert "<html" not in fragment
    assert 'data-status="queued"' in fragment
    assert "hx-get" in fragment

    Export.objects.filter(pk=export.pk).update(status="building", progress=37, progress_note="Signed report 1 of 2.")
    fragment = text(officer.get(f"/exports/{export.pk}/{FRAGMENT}"))
    assert 'aria-valuenow="37"' in fragment
    assert "Building: 37%" in fragment
    assert "Signed report 1 of 2." in fragment
    Export.objects.filter(pk=export.pk).update(status="queued", progress=0)

    execute_export(export.pk)
    fragment = text(officer.get(f"/exports/{export.pk}/{FRAGMENT}"))
    assert 'data-status="ready"' in fragment
    assert "hx-get" not in fragment  # the polling stops
    assert f'href="/api/v1/exports/{export.pk}/download"' in fragment
    assert 'role="progressbar"' not in fragment
    listing = text(officer.get("/exports/"))
    assert f'href="/api/v1/exports/{export.pk}/download"' in listing


@pytest.mark.django_db
def test_a_failed_build_shows_the_reason_and_stops_polling(
    cast: Cast, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise actions.ExportError("The trail could not be read just now.")

    monkeypatch.setattr(actions, "build_bundle", broken)
    export = ask(cast)
    execute_export(export.pk)
    fragment = text(signed_in(cast.officer).get(f"/exports/{export.pk}/{FRAGMENT}"))
    assert 'data-status="error"' in fragment
    assert "hx-get" not in fragment
    assert 'role="alert" data-testid="export-error">The trail could not be read just now.<' in fragment
    assert "failed" in text(signed_in(cast.officer).get("/exports/"))


@pytest.mark.django_db
def test_the_fragment_has_the_page_s_permissions_and_polls_are_not_each_recorded(cast: Cast, world: World) -> None:
    export = ask(cast)
    assert signed_in(None).get(f"/exports/{export.pk}/{FRAGMENT}").status_code == 302  # to sign in
    assert signed_in(cast.reviewer).get(f"/exports/{export.pk}/{FRAGMENT}").status_code == 403
    regulator = signed_in(cast.regulator)
    assert regulator.get(f"/exports/{export.pk}/{FRAGMENT}").status_code == 404  # not shared yet

    do_create_share(  # the model (a bundle still building cannot be shared itself): its bundles for regina too
        user=cast.officer.user,
        actor=Actor.for_user(cast.officer.user),
        regulator=cast.regulator.user,
        expires_at=timezone.now() + dt.timedelta(days=3),
        reason="Inquiry",
        model=export.model,
    )
    seq = last_seq()
    assert regulator.get(f"/exports/{export.pk}/").status_code == 200
    for _ in range(3):
        assert regulator.get(f"/exports/{export.pk}/{FRAGMENT}").status_code == 200
    assert len(events_since(seq, "share.accessed")) == 1  # the page, not each poll


@pytest.mark.django_db
def test_a_second_bundle_for_the_same_regulator_waits_for_the_first(cast: Cast, world: World) -> None:
    first = ask(cast)
    response = signed_in(cast.officer).post("/exports/", {"model": "credit-scoring", "recipient": "regina"})
    assert response.status_code == 409
    assert f"Export {first.pk} to the same recipient is still being built" in text(response)
    assert Export.objects.count() == 1


def _in_thread(target: Callable[[], None]) -> threading.Thread:
    """Run ``target`` in its own thread, keeping its exception for ``_join``."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # handed to the test's thread by _join
            failures.append(exc)
        finally:
            connection.close()

    failures: list[BaseException] = []
    thread = threading.Thread(target=run, daemon=True)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    return thread


def _wait(event: threading.Event, browser: threading.Thread, what: str) -> None:
    """Wait for the browser thread to reach a step; if it failed on the way, its failure is the test's."""
    while not event.wait(0.2):
        if not browser.is_alive():
            _join(browser, 0)
            raise AssertionError(f"the browser stopped before {what}")


def _join(thread: threading.Thread, seconds: float) -> None:
    thread.join(seconds)
    assert not thread.is_alive(), "timed out"
    for failure in thread.failures:  # type: ignore[attr-defined]
        raise failure


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (see tests/portal/test_browser.py)"
)
def test_the_bundle_page_updates_without_a_reload(
    live: tuple[str, World],  # noqa: F811 - the fixture
    cast: Cast,
    request: Any,
) -> None:
    """As with a worker: the bundle is queued; its page polls, shows the build's progress, then the download.

    The browser runs in a thread of its own, and so does the job (as on a worker): Playwright's sync API keeps an
    event loop running in the thread that started it, where pyHanko could not sign the bundle's reports."""
    base, _ = live
    # Before the trail is emptied (the exports refer to its checkpoints).
    request.addfinalizer(lambda: [e.delete() for e in Export.objects.order_by("-id")])
    queued, building, seen_building = threading.Event(), threading.Event(), threading.Event()

    def browse() -> None:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            context.set_default_timeout(30_000)
            page = context.new_page()
            sign_in(page, base, cast.officer)
            page.goto(f"{base}/exports/")
            page.get_by_label("Model").select_option("credit-scoring")
            page.get_by_label("For regulator").select_option("regina")
            page.get_by_role("button", name="Build and sign the bundle").press("Enter")  # by keyboard
            page.wait_for_url(re.compile(r".*/exports/\d+/$"))
            assert page.locator("#export-build").get_attribute("data-status") == "queued"
            assert page.get_by_role("progressbar", name="Queued: 0%").get_attribute("aria-valuenow") == "0"
            page.evaluate("window.notReloaded = true")
            queued.set()
            assert building.wait(30)
            page.get_by_text("Signed report 1 of 2.").wait_for()
            assert page.get_by_role("progressbar", name="Building: 42%").get_attribute("aria-valuenow") == "42"
            shot(page, "export-building")
            seen_building.set()
            page.wait_for_selector('#export-build[data-status="ready"]', timeout=60_000)
            assert page.evaluate("window.notReloaded === true")
            page.get_by_test_id("export-download").focus()
            with page.expect_download() as download:
                page.keyboard.press("Enter")
            assert re.fullmatch(r"assay-evidence-credit-scoring-\d+\.zip", download.value.suggested_filename)
            shot(page, "export-ready")
            context.close()
            chromium.close()

    app.conf.task_always_eager = False  # as with a broker: the job waits in the (in-memory) queue
    try:
        browser = _in_thread(browse)
        _wait(queued, browser, "the bundle page showed the queued build")
    finally:
        app.conf.task_always_eager = True
    export = Export.objects.get()
    Export.objects.filter(pk=export.pk).update(status="building", progress=42, progress_note="Signed report 1 of 2.")
    building.set()
    _wait(seen_building, browser, "the page showed the build's progress")
    Export.objects.filter(pk=export.pk).update(status="queued", progress=0)
    _join(_in_thread(lambda: execute_export(export.pk)), 120)  # the worker picks it up
    _join(browser, 90)
    assert Export.objects.get(pk=export.pk).status == "ready"
