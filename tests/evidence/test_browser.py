"""In a real headless Chromium (as tests/portal/test_browser.py): an owner imports a garak report on the version
page and reads its measurements there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from registry.models import ModelVersion
from tests.audits.conftest import predictions_only_version
from tests.conftest import Cast
from tests.evidence import files
from tests.portal.test_browser import browser, new_page, pytestmark, shot, sign_in  # noqa: F401 - fixtures and marks

__all__ = ["pytestmark"]


@pytest.fixture
def live_version(live_server: Any, unprotected_trail: None, cast: Cast, media_root: Path) -> tuple[str, ModelVersion]:
    return live_server.url, predictions_only_version(cast, tier="minimal", name="support-assistant")


def test_an_owner_imports_a_garak_report_on_the_version_page(
    new_page: Any,  # noqa: F811 - the imported fixture
    live_version: tuple[str, ModelVersion],
    cast: Cast,
    tmp_path: Path,
) -> None:
    base, version = live_version
    report = files.unpacked(files.GARAK_BLANK, tmp_path)
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/{version.model.name}/versions/{version.number}/")
    panel = page.locator("#imported-evidence")
    expect(panel).to_contain_text("No evidence imported for v1 yet.")
    panel.locator("input[type=file]").set_input_files(str(report))
    panel.locator("select").select_option("garak")
    panel.get_by_role("button", name="Import").click()
    expect(page.locator("#imported-evidence [data-testid=evidence-measurement]")).to_have_count(3)
    expect(panel).to_contain_text("promptinject.HijackKillHumans")
    expect(page.locator("[data-testid=evidence-sha256]")).to_have_count(1)
    shot(page, "version-imported-evidence")
