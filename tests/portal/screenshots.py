"""The portal screenshots of docs/portal.md, taken from the `make run` demo (run on demand, not part of the suite).

    make run                                                          # in one terminal: seeds the demo, serves :8000
    .venv/bin/python tests/portal/screenshots.py [--base http://127.0.0.1:8000] [--out docs/screenshots]

Drives Debian's Chromium (``/usr/bin/chromium``) with Playwright, signs in as the demo users through the real form
and saves one PNG per page (full page, 1280 px wide; the dashboard also at 390 px).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

PASSWORD = "assay-demo-2026"  # the published demo password (seed_demo, DEBUG only)
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


def _sign_in(browser: Any, base: str, username: str, viewport: dict[str, int] = WIDE) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    return page


def take(base: str, out: Path) -> list[tuple[str, float]]:
    """Every screenshot of docs/portal.md (README shows a few); returns (file, seconds) for each."""
    out.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []

    def shot(page: Any, name: str, *, full: bool = True) -> None:
        started = time.perf_counter()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"), full_page=full)
        timings.append((f"{name}.png", time.perf_counter() - started))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        officer = _sign_in(browser, base, "olivia")
        shot(officer, "dashboard")
        officer.goto(f"{base}/models/loan-provisioning/versions/1/")
        shot(officer, "version-drift")
        officer.goto(f"{base}/models/credit-scoring/")
        shot(officer, "model")
        officer.goto(f"{base}/models/credit-scoring/versions/1/")
        shot(officer, "version-officer")
        officer.goto(f"{base}/audits/")
        officer.get_by_role("link", name="#1", exact=True).first.click()
        shot(officer, "audit-run")
        officer.goto(f"{base}/exports/")
        shot(officer, "exports")
        officer.goto(f"{base}/shares/")
        shot(officer, "shares")
        officer.goto(f"{base}/data/subjects/")
        officer.fill("#id_external_id", "DE-0042")
        officer.keyboard.press("Enter")
        officer.wait_for_load_state("networkidle")
        shot(officer, "subject-lookup")
        officer.goto(f"{base}/trail/")
        officer.locator("main table a[href*='/trail/events/']").first.click()
        shot(officer, "trail-event-proof")
        officer.goto(f"{base}/data/datasets/german-credit/versions/1/")
        shot(officer, "dataset-version")
        officer.goto(f"{base}/trail/")
        shot(officer, "trail")

        reviewer = _sign_in(browser, base, "rhea")
        reviewer.goto(f"{base}/approvals/")
        shot(reviewer, "approvals")
        # The approve form of a version whose evidence is not clean: each item to acknowledge, and a reason.
        reviewer.goto(f"{base}/models/credit-scoring/versions/1/#review")
        shot(reviewer, "approval-evidence")

        owner = _sign_in(browser, base, "omar")
        owner.goto(f"{base}/models/credit-scoring/versions/1/")
        shot(owner, "version-owner-no-approve")
        owner.goto(f"{base}/data/datasets/german-credit/versions/new")
        shot(owner, "dataset-upload")
        owner.goto(f"{base}/models/credit-scoring/versions/1/monitoring")
        shot(owner, "monitoring-setup")
        owner.goto(f"{base}/models/new")
        shot(owner, "model-register")
        owner.goto(f"{base}/models/credit-scoring/versions/new")
        shot(owner, "version-upload")
        owner.goto(f"{base}/audits/new")
        shot(owner, "audit-form")
        owner.goto(f"{base}/tokens/")
        shot(owner, "tokens")

        regulator = _sign_in(browser, base, "regina")
        shot(regulator, "regulator-dashboard")
        regulator.goto(f"{base}/models/")
        shot(regulator, "regulator-models")
        regulator.goto(f"{base}/models/credit-scoring/")
        shot(regulator, "regulator-model")

        narrow = _sign_in(browser, base, "olivia", NARROW)
        shot(narrow, "dashboard-390px")
        narrow.goto(f"{base}/models/loan-provisioning/versions/1/")
        shot(narrow, "version-drift-390px")
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs" / "screenshots")
    args = parser.parse_args()
    started = time.perf_counter()
    for name, seconds in take(args.base.rstrip("/"), args.out):
        print(f"{name:32} {seconds:5.2f} s")
    print(f"all screenshots in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
