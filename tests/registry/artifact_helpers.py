"""Helpers shared by the artifact tests (test_artifacts.py, test_artifacts_refusals.py): writing an upload to
inspect, and asserting a refusal and its words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.artifacts import ArtifactError, inspect_artifact

MAX_BYTES = 50 * 1024 * 1024


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def refuse(path: Path, *, filename: str | None = None, max_bytes: int = MAX_BYTES) -> ArtifactError:
    with pytest.raises(ArtifactError) as caught:
        inspect_artifact(path, filename=filename or path.name, max_bytes=max_bytes)
    return caught.value
