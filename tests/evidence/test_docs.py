"""docs/evidence.md as written: its curl imports a real Inspect log into a live server, and its policy is the one
tests/evidence/test_audit.py audits with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from audits.evidence.models import EvidenceImport
from audits.policies import load_policy
from registry.models import ModelVersion
from tests.conftest import Cast

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "evidence.md"
DEMO = "http://127.0.0.1:8000"


def blocks(language: str) -> list[str]:
    """The fenced blocks of ``language`` on the page, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def documented_policy() -> str:
    (policy,) = blocks("yaml")
    return policy


def test_the_documented_policy_loads() -> None:
    policy = load_policy(documented_policy())
    assert [c["name"] for c in policy.checks["external"]["criteria"]] == ["garak promptinject", "inspect arithmetic"]


def test_the_documented_curl_imports_the_file(
    live_server: Any, unprotected_trail: None, cast: Cast, llm_version: ModelVersion
) -> None:
    (script,) = blocks("sh")
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DEMO, live_server.url)],
        cwd=ROOT,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TOKEN": cast.owner.token},
        check=True,
        timeout=120,
        capture_output=True,
    )
    (item,) = EvidenceImport.objects.filter(version=llm_version)
    assert (item.tool, item.original_name) == ("inspect", "arithmetic_small.eval")
