"""Helpers shared by the dataset HTTP API tests (test_datasets_api.py, test_dataset_versions_api.py,
test_dataset_coverage_api.py): URLs and the one event a step records.
"""

from __future__ import annotations

from typing import Any

from tests.api import events_since
from tests.data.conftest import API

DATASETS = f"{API}/datasets/"


def versions_url(dataset: str) -> str:
    return f"{DATASETS}{dataset}/versions/"


def only_event(seq: int) -> tuple[str, dict[str, Any]]:
    recorded = events_since(seq)
    assert len(recorded) == 1, [e.action for e in recorded]
    return recorded[0].action, recorded[0].payload
