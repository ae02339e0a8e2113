"""Issue 19's audit journey in a real headless Chromium (test_browser.py's browser, live server and sign-in): an
owner starts an audit of a real ONNX model from its page, gives the model's input features in the order its matrix
reads them (a list one short is refused in words first), and follows the run to its verdict.

The run may finish within the request (Celery eager, the tests' default) or in the background with live progress:
the journey looks at the run page again, a bounded number of times, until the run has ended, and never asserts on
elapsed time. Real model: the demo's logistic regression on UCI German credit (tests.monitoring.arrange).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from audits.models import AuditRun
from tests.conftest import Cast
from tests.monitoring import arrange
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

CHECKS = 120  # how many times the journey looks at the run page before it gives up on the run ending
ENDED = ("done", "error")


def test_owner_starts_an_audit_with_the_models_features_and_follows_it_to_the_verdict(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, _ = live
    version = arrange.deployed_demo_version(cast, deploy=False)  # ONNX: one float matrix "X" of 7 columns
    model = version.model.name
    (training,) = version.training_datasets
    dataset = f"{training['dataset']}/v{training['version']}"
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/{model}/")
    page.get_by_role("link", name="Start an audit of v1").click()
    page.get_by_label("Model version").select_option(f"{model}/v1")
    page.get_by_label("Evaluation dataset version").select_option(dataset)
    assert page.get_by_label("Policy").input_value() == ""  # the policy the model's tier requires (minimal: none)
    page.get_by_role("button", name="Next: column roles").click()

    width = len(arrange.FEATURES)
    assert f"The ONNX model reads one matrix of {width} columns and does not name them." in page.inner_text("main")
    page.get_by_label("Label column (the true outcome)").select_option("credit_risk")
    page.get_by_label("Favourable label value").fill("1")
    page.locator("fieldset").filter(has_text="Protected attributes").get_by_label("sex", exact=True).check()
    features = page.get_by_label("Model input features, in the model's input order")
    features.fill("\n".join(arrange.FEATURES[:-1]))
    page.get_by_role("button", name="Start the audit").click()
    said = page.locator("#id_features-errors").inner_text()
    assert f"the model reads {width} inputs; {width - 1} columns are listed." in said
    assert AuditRun.objects.filter(model_version=version).count() == 0
    shot(page, "owner-audit-features-refused")

    page.get_by_label("Model input features, in the model's input order").fill("\n".join(arrange.FEATURES))
    page.get_by_role("button", name="Start the audit").click()
    page.wait_for_url(re.compile(rf"{re.escape(base)}/audits/\d+/$"))
    run = AuditRun.objects.get(model_version=version)
    assert page.url == f"{base}/audits/{run.pk}/"
    assert run.column_roles["features"] == list(arrange.FEATURES)  # in the model's order
    assert "started." not in page.inner_text("main")
    seen = []
    body = page.locator("#run-body")
    for _ in range(CHECKS):  # queued/running pages update themselves; looking again is what bounds the wait
        status = body.get_attribute("data-status")
        seen.append(status)
        if status in ENDED:
            break
        page.reload()
    assert seen[-1] == "done", seen
    assert set(seen) <= {"queued", "running", "done"}
    run.refresh_from_db()
    assert run.status == "done"
    assert page.get_by_test_id("verdict").inner_text() == run.verdict
    assert run.verdict in ("pass", "fail", "insufficient_evidence")
    shot(page, "owner-audit-verdict")
