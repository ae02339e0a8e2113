"""test_ingest.py and test_ingest_input.py again, with every file profiled by the streaming reader.

Their known answers (published row and missing counts of Adult and COMPAS, pandas' duplicates and Tukey fences, the
refusals' wording) then hold for the path large uploads take too (governance.data.ingest.streaming).
"""

from __future__ import annotations

import pytest

from tests.data.test_ingest import *  # noqa: F403 - the same tests, collected here a second time
from tests.data.test_ingest_input import *  # noqa: F403


@pytest.fixture(autouse=True)
def stream_every_file(settings: pytest.FixtureRequest) -> None:
    settings.DATASET_STREAM_ABOVE_BYTES = 0  # type: ignore[attr-defined]
