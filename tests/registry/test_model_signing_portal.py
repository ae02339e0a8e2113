"""Signed models in, through the portal in a real headless Chromium (test_browser.py's browser, live server and
sign-in): the version form takes the model file and its signature; a signature by a key nobody trusts is refused
beside the signature field and nothing is registered; a signature by the trusted key registers the version, whose
page names its signer and links its ML-BOM, which downloads with the registry's hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import model_signing
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.models import ModelVersion
from tests.conftest import Cast
from tests.data.conftest import media_root  # noqa: F401 - a fixture (the live server's)
from tests.portal.conftest import World
from tests.portal.test_browser import (  # noqa: F401 - browser, live and new_page are fixtures
    CHROMIUM,
    browser,
    live,
    new_page,
    shot,
    sign_in,
)
from tests.registry.test_model_signing import SIGNER, write_key

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (see test_browser.py)"),
]


@pytest.fixture
def signed_files(tmp_path: Path, settings: Any) -> dict[str, Path]:
    """A real ONNX classifier, its signature by the trusted key, and one by a stranger's key."""
    x, y = load_iris(return_X_y=True)
    model = tmp_path / "iris.onnx"
    model.write_bytes(
        to_onnx(
            LogisticRegression(max_iter=1000).fit(x, y), x[:1].astype(np.float32), options={"zipmap": False}
        ).SerializeToString()
    )
    trust = tmp_path / "trust" / "keys"
    trust.mkdir(parents=True)
    settings.MODEL_SIGNING_TRUST_DIR = str(trust.parent)
    files = {"model": model}
    for name in (SIGNER, "stranger"):
        private, public = write_key(tmp_path, name)
        if name == SIGNER:
            (trust / f"{name}.pem").write_bytes(public.read_bytes())
        files[name] = tmp_path / f"iris-{name}.sig"
        model_signing.signing.Config().use_elliptic_key_signer(private_key=private).sign(model, files[name])
    return files


def test_owner_uploads_a_signed_version_and_downloads_its_bom(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
    signed_files: dict[str, Path],
) -> None:
    base, world = live
    name = world.model.name
    before = ModelVersion.objects.filter(model=world.model).count()
    page = new_page()
    sign_in(page, base, cast.owner)
    page.goto(f"{base}/models/{name}/")
    page.get_by_role("link", name="Register a new version").click()
    page.get_by_label("Model file (ONNX or skops)").set_input_files(str(signed_files["model"]))
    page.get_by_label("Model signature (optional)").set_input_files(str(signed_files["stranger"]))
    page.get_by_role("button", name=f"Register v{before + 1}").click()
    page.get_by_test_id("form-error").wait_for()
    assert "not among the trusted keys" in page.locator("main").inner_text()
    assert ModelVersion.objects.filter(model=world.model).count() == before
    shot(page, "owner-signed-version-refused")

    page.get_by_label("Model file (ONNX or skops)").set_input_files(str(signed_files["model"]))
    page.get_by_label("Model signature (optional)").set_input_files(str(signed_files[SIGNER]))
    page.get_by_role("button", name=f"Register v{before + 1}").click()
    page.get_by_text(f"{name} v{before + 1} is registered (ONNX), as a draft.").wait_for()
    assert page.get_by_test_id("signed-by").inner_text().startswith(f"key:{SIGNER} (key signature")
    shot(page, "owner-signed-version-registered")

    with page.expect_download() as caught:
        page.get_by_test_id("mlbom-link").click()
    document = json.loads(Path(caught.value.path()).read_bytes())
    sha256 = hashlib.sha256(signed_files["model"].read_bytes()).hexdigest()
    model = document["metadata"]["component"]
    assert model["hashes"] == [{"alg": "SHA-256", "content": sha256}]
    assert {"name": "assay:signature:signer", "value": f"key:{SIGNER}"} in model["properties"]
