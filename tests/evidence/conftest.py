"""Arrangements of the evidence-import tests: a predictions-only model version of the credit-risk team, and uploads
of the tools' real files through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.models import ModelVersion
from tests.audits.conftest import predictions_only_version
from tests.conftest import Cast, Member
from tests.data.conftest import media_root  # noqa: F401 - a fixture
from tests.evidence import files


def evidence_url(version: ModelVersion, *rest: object) -> str:
    tail = "".join(f"{part}/" for part in rest)
    return f"/api/v1/models/{version.model.name}/versions/{version.number}/evidence/{tail}"


def upload(member: Member, version: ModelVersion, path: Path, tmp_path: Path, **fields: Any) -> Any:
    """POST the tool's own bytes of ``path`` (unpacked when gzipped) as a multipart file."""
    real = files.unpacked(path, tmp_path)
    with real.open("rb") as handle:
        return member.client().post(evidence_url(version), {"file": handle, **fields}, format="multipart")


@pytest.fixture
def llm_version(cast: Cast, media_root: Path) -> ModelVersion:  # noqa: F811 - the fixture imported above
    return predictions_only_version(cast, tier="minimal", name="support-assistant")
