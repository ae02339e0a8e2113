"""docs/supply-chain.md's commands, run as written (openssl, model-signing's own command line, curl against a live
server): the key pair they make signs a model whose upload is verified, and the ML-BOM they fetch is valid
CycloneDX 1.6 with the registry's hash."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest
import skl2onnx
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from registry.models import ModelVersion, RegisteredModel
from tests.conftest import Cast

DOC = Path(__file__).resolve().parents[2] / "docs" / "supply-chain.md"
DEMO = "http://127.0.0.1:8000"


def commands(heading: str) -> list[str]:
    """The ```sh blocks of the section under ``## heading``."""
    section = DOC.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M)


def run(script: str, *, cwd: Path, base: str, token: str) -> None:
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DEMO, base)],
        cwd=cwd,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TOKEN": token, "HOME": str(cwd)},
        check=True,
        timeout=120,
    )


@pytest.fixture
def folders(tmp_path: Path, settings: Any) -> tuple[Path, Path]:
    """(the signer's working folder, holding scorer.onnx; the operator's trust folder, configured)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    trust = tmp_path / "trust"
    (trust / "keys").mkdir(parents=True)
    settings.MODEL_SIGNING_TRUST_DIR = str(trust)
    work = tmp_path / "work"
    work.mkdir()
    features, labels = load_breast_cancer(return_X_y=True)
    onnx = skl2onnx.to_onnx(
        LogisticRegression(max_iter=5000).fit(features, labels),
        features[:1].astype(numpy.float32),
        options={"zipmap": False},
    )
    (work / "scorer.onnx").write_bytes(onnx.SerializeToString())
    return work, trust


def test_the_documented_commands_sign_upload_and_fetch_the_bom(
    live_server: Any, unprotected_trail: None, cast: Cast, high_risk_model: RegisteredModel, folders: tuple[Path, Path]
) -> None:
    work, trust = folders
    make_keys, sign, upload = commands("Sign a model and upload it")
    for script in (make_keys, sign):
        run(script, cwd=work, base=live_server.url, token=cast.owner.token)
    (trust / "keys" / "release-team.pem").write_bytes((work / "release-team.pem").read_bytes())  # the operator's step
    run(upload, cwd=work, base=live_server.url, token=cast.owner.token)
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    sha256 = hashlib.sha256((work / "scorer.onnx").read_bytes()).hexdigest()
    assert (version.signed_by, version.signature["digest"], version.artifact_sha256) == (
        "key:release-team",
        sha256,
        sha256,
    )

    [fetch] = commands("Fetch the ML-BOM")
    run(fetch, cwd=work, base=live_server.url, token=cast.owner.token)
    text = (work / "credit-scoring-v1.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert json.loads(text)["metadata"]["component"]["hashes"] == [{"alg": "SHA-256", "content": sha256}]


@pytest.mark.parametrize("line", commands("Requiring a signer per risk tier"))
def test_the_documented_required_signers_setting_is_read_as_the_doc_says(line: str) -> None:
    """The settings module reads the documented value into the tier's two signers, each with its method."""
    name, _, value = line.strip().partition("=")
    out = read_settings({name: value})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str({"high": ("key:release-team", "cert:email:release@bank.example")})


@pytest.mark.parametrize(
    "value",
    [
        "high=release-team",  # the bare form: a key's name or a certificate's, nobody can tell
        "high=key:release-team,high=release@bank.example",
        "high=cert:release@bank.example",  # a certificate identity without its kind
        "high=cert:phone:+4412345",
        "high=key:",
        "high=cert:email:",
    ],
)
def test_a_required_signer_without_its_method_stops_start_up(value: str) -> None:
    out = read_settings({"MODEL_SIGNING_REQUIRED_SIGNERS": value})
    assert out.returncode != 0
    assert "ImproperlyConfigured: MODEL_SIGNING_REQUIRED_SIGNERS: the signer" in out.stderr
    assert "does not name its method: write key:<name>" in out.stderr


def read_settings(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter loading the settings module with ``environment``, printing the required signers."""
    script = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'governance.settings'); "
        "from django.conf import settings; print(dict(settings.MODEL_SIGNING_REQUIRED_SIGNERS))"
    )
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", **environment}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=DOC.parents[1], capture_output=True, text=True, check=False
    )
