"""Issue 19 items 1-2 in a real headless Chromium (the pattern of test_browser.py: its browser, live server and
sign-in): an owner registers a model through the questionnaire and uploads an ONNX version (a pickle first, which
is refused in words with the form kept); an owner makes a token, uses it against the API and revokes it; a reviewer
approves over failing evidence only with the acknowledgement, and approves clean evidence in one click.
Screenshots go to var/test-artifacts/portal/.
"""

from __future__ import annotations

import json
import pickle
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from governance.trail.models import Event
from registry import actions
from registry.models import ModelVersion, RegisteredModel
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
from tests.registry.conftest import acting, register_model

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (see test_browser.py)"),
]


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real classifier (scikit-learn's bundled iris data), exported by skl2onnx, on disk for the file chooser."""
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    path = tmp_path_factory.mktemp("upload") / "iris.onnx"
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False}).SerializeToString())
    return path


def api_status(base: str, path: str, token: str) -> int:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live test server
            json.load(response)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_owner_registers_a_model_through_the_questionnaire_and_uploads_an_onnx_version(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    onnx_file: Path,
    tmp_path: Path,
) -> None:
    base, _ = live
    page = new_page()
    sign_in(page, base, cast.owner)
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="Register a model").first.click()
    page.get_by_label("Model name").fill("loan-pricing")
    page.get_by_label("Intended purpose").fill("Prices personal loans for applicants.")
    page.locator('input[name="annex_iii_uses"][value="5(b)"]').check()
    page.get_by_label("It performs profiling of natural persons").check()
    page.get_by_role("button", name="Show the classification").click()
    preview = page.get_by_test_id("risk-preview")
    assert "high" in preview.get_by_role("heading").inner_text()
    assert "Annex III" in preview.inner_text()
    assert not RegisteredModel.objects.filter(name="loan-pricing").exists()  # shown before saving
    assert page.get_by_label("Model name").input_value() == "loan-pricing"
    shot(page, "owner-register-model-preview")
    page.get_by_role("button", name="Register the model").click()
    page.wait_for_url(f"{base}/models/loan-pricing/")
    assert page.get_by_text("loan-pricing is registered, classified: High risk").is_visible()

    page.get_by_role("link", name="Register a new version").click()
    hostile = tmp_path / "model.onnx"
    hostile.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    page.get_by_label("Code repository").fill("https://git.example/loan-pricing")
    page.get_by_label("Model file (ONNX or skops)").set_input_files(str(hostile))
    page.get_by_role("button", name="Register v1").click()
    page.get_by_test_id("form-error").wait_for()
    assert "runs whatever code" in page.locator("main").inner_text()
    assert page.get_by_label("Code repository").input_value() == "https://git.example/loan-pricing"  # kept
    assert not ModelVersion.objects.filter(model__name="loan-pricing").exists()
    shot(page, "owner-register-version-refused")

    page.get_by_label("Model file (ONNX or skops)").set_input_files(str(onnx_file))
    assert "Chosen: iris.onnx" in page.locator("#artifact-chosen").inner_text()
    page.get_by_role("button", name="Register v1").click()
    page.get_by_text("loan-pricing v1 is registered (ONNX), as a draft.").wait_for()
    assert page.url == f"{base}/models/loan-pricing/versions/1/"
    version = ModelVersion.objects.get(model__name="loan-pricing", number=1)
    assert (version.framework, version.code_repository) == ("onnx", "https://git.example/loan-pricing")
    assert Event.objects.filter(action="model_version.registered", payload__model="loan-pricing").count() == 1
    shot(page, "owner-version-registered")


def test_owner_makes_a_token_uses_it_and_revokes_it(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, _ = live
    page = new_page()
    sign_in(page, base, cast.owner)
    page.get_by_role("link", name="My tokens").click()
    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Read only (the :read scopes of my role)").check()
    page.get_by_role("button", name="Make the token").click()
    raw = page.get_by_test_id("new-token").inner_text()
    assert re.fullmatch(r"assay_[A-Za-z0-9_-]+", raw)
    page.get_by_role("button", name="Copy").click()
    # The page answers when the clipboard does (a promise): wait for the answer before reading it.
    said = page.locator("#copy-said").filter(has_text=re.compile(r"^(Copied\.|Select the token and copy it\.)$"))
    said.wait_for()
    shot(page, "owner-token-made")
    assert api_status(base, "/api/v1/models/", raw) == 200

    page.goto(f"{base}/tokens/")
    assert raw not in page.content()  # shown once
    row = page.get_by_role("row").filter(has_text="laptop")
    row.get_by_label("Reason").fill("done with it")
    row.get_by_role("button", name=re.compile("Revoke")).click()
    assert page.get_by_text("(laptop) is revoked.").is_visible()
    assert "revoked" in page.get_by_role("row").filter(has_text="laptop").inner_text()
    assert api_status(base, "/api/v1/models/", raw) == 401
    shot(page, "owner-token-revoked")


def test_reviewer_approves_over_failing_evidence_only_with_the_acknowledgement_and_clean_in_one_click(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, world = live
    clean_model = register_model(cast, "minimal", name="doc-router")
    clean = actions.do_register_version(model=clean_model, user=cast.owner.user, actor=acting(cast.owner))
    actions.do_submit(version=clean, user=cast.owner.user, actor=acting(cast.owner))

    page = new_page()
    sign_in(page, base, cast.reviewer)
    page.get_by_role("link", name="Approvals").click()
    row = page.get_by_role("row").filter(has_text="credit-scoring v1")
    assert "fail" in row.get_by_test_id("inbox-verdict").inner_text().lower()
    assert "would pass" in page.get_by_role("row").filter(has_text="doc-router v1").inner_text()
    shot(page, "reviewer-approvals-inbox")

    row.get_by_role("link", name="Review").click()
    evidence = page.get_by_test_id("evidence")
    assert "Evidence against approving v1" in evidence.inner_text()
    assert f"#{world.run.pk} four-fifths: fail" in evidence.inner_text()
    assert f"audit #{world.run.pk} under four-fifths: fail" in page.locator("#approve_acknowledge-items").inner_text()
    top = page.evaluate("document.getElementById('evidence').getBoundingClientRect().top")
    assert top < page.evaluate("document.getElementById('review').getBoundingClientRect().top")
    page.locator("#approve_reason").fill("Pilot only; re-audit in Q3.")
    page.get_by_role("button", name="Approve v1").click()
    assert "tick the acknowledgement" in page.get_by_role("alert").first.inner_text()
    assert page.locator("#approve_reason").input_value() == "Pilot only; re-audit in Q3."  # kept
    assert world.version.reviews.count() == 0
    shot(page, "reviewer-approve-needs-acknowledgement")
    page.get_by_label("I approve v1 over the evidence against it").check()
    page.get_by_role("button", name="Approve v1").click()
    assert page.get_by_text("It overrides the evidence you acknowledged").is_visible()
    event = Event.objects.filter(action="model_version.approval_added", payload__model="credit-scoring").get()
    assert event.payload["overrides"]["audits"] == [{"run": world.run.pk, "policy": "four-fifths", "verdict": "fail"}]

    page.goto(f"{base}/models/doc-router/versions/1/")
    assert "nothing against it" in page.get_by_test_id("evidence").inner_text()
    assert page.get_by_label("I approve v1 over the evidence against it").count() == 0
    page.get_by_role("button", name="Approve v1").click()  # one click
    assert page.get_by_text("Your approval is recorded. doc-router v1 is now approved.").is_visible()
    shot(page, "reviewer-approved-clean")


def test_a_dropped_file_over_the_limit_is_refused_before_it_is_sent(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    settings: Any,
) -> None:
    base, _ = live
    settings.ARTIFACT_MAX_BYTES = 1024
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/credit-scoring/versions/new")
    page.get_by_label("Code commit").fill("a1b2c3d4")
    # Drag and drop: a 2,000-byte file dropped on the zone becomes the file field's choice, and is refused at once.
    page.evaluate(
        """() => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(2000)], "big.onnx"));
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }"""
    )
    assert page.locator("#id_artifact").evaluate("input => input.files[0].name") == "big.onnx"
    said = page.locator("#artifact-chosen").inner_text()
    assert said == "big.onnx has 2,000 bytes; a model file may have at most 1,024 bytes."
    page.get_by_role("button", name=re.compile("Register v")).click()
    assert page.url == f"{base}/models/credit-scoring/versions/new"  # not sent
    assert page.get_by_label("Code commit").input_value() == "a1b2c3d4"  # nothing lost
    assert ModelVersion.objects.filter(model__name="credit-scoring").count() == 1
    shot(page, "owner-version-too-large")


def test_the_new_pages_fit_a_390_px_screen(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, _ = live
    owner = new_page(NARROW)
    sign_in(owner, base, cast.owner)
    for path in ("/models/new", "/models/credit-scoring/versions/new", "/tokens/"):
        owner.goto(f"{base}{path}")
        assert no_horizontal_scroll(owner), path
    reviewer = new_page(NARROW)
    sign_in(reviewer, base, cast.reviewer)
    for path in ("/approvals/", "/models/credit-scoring/versions/1/"):
        reviewer.goto(f"{base}{path}")
        assert no_horizontal_scroll(reviewer), path
    shot(reviewer, "reviewer-version-evidence-narrow")
