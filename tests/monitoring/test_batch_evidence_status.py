"""A monitoring batch whose checks lack evidence says ``insufficient_evidence``, naming what is missing, on every
surface (the batch list and upload message of the version page, the API, the ``monitoring.batch_checked`` event),
never ``ok``. Real data: UCI German credit rows scored by the demo model (tests.monitoring.arrange), at the edges of
the baseline policy's ``min_batch_rows`` (300) and with the protected column absent or unknown on every row."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.monitoring.judge import INSUFFICIENT, batch_outcome, evidence_gaps
from governance.trail.models import Event
from registry.models import MonitoringBatch
from registry.portal.views import version_url
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.portal.conftest import signed_in

MINIMUM = 300  # the baseline policy's min_batch_rows (tests/monitoring/test_small_and_odd_input.py pins it)


@pytest.fixture
def version(cast: Cast, media_root: Any) -> Any:
    return arrange.monitored_demo_version(cast)


def _frame(rows: int, *, sex: str = "keep") -> bytes:
    """The first ``rows`` German credit rows as a batch; ``sex`` "drop" leaves the protected column out, "blank"
    keeps it with no value on any row."""
    frame = pd.read_csv(io.BytesIO(arrange.batch_csv(rows=slice(0, rows))))
    if sex == "drop":
        frame = frame.drop(columns=["sex"])
    elif sex == "blank":
        frame["sex"] = ""
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode()


def _send(cast: Cast, version: Any, data: bytes, capture: Any) -> dict[str, Any]:
    base = f"/api/v1/models/{version.model.name}/versions/{version.number}"
    with capture(execute=True):
        sent = cast.owner.client().post(
            f"{base}/batches/", {"file": SimpleUploadedFile("b.csv", data)}, format="multipart"
        )
    assert sent.status_code == 201, sent.content
    number = sent.json()["batch"]
    detail = cast.owner.client().get(f"{base}/batches/{number}/").json()
    listed = cast.owner.client().get(f"{base}/batches/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert (rows[0]["batch"], rows[0]["outcome"]) == (number, detail["outcome"])  # the list says the same
    assert rows[0]["evidence_gaps"] == detail["evidence_gaps"]
    return dict(detail)


def _missing(batch: dict[str, Any]) -> set[str]:
    return {gap["missing"] for gap in batch["evidence_gaps"]}


def _event_outcome(batch_number: int) -> str:
    event = Event.objects.filter(action="monitoring.batch_checked").order_by("-seq").first()
    assert event is not None
    assert event.payload["batch"] == batch_number
    return str(event.payload["outcome"])


def test_exactly_the_minimum_rows_with_the_protected_column_is_judged(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = _send(cast, version, _frame(MINIMUM), django_capture_on_commit_callbacks)
    assert batch["status"] == "checked"
    assert batch["evidence_gaps"] == []
    assert batch["outcome"] in ("ok", "warning", "alert")
    assert batch["results"]["evidence"]["status"] == "sufficient"
    assert batch["results"]["fairness"]["outcome"] in ("pass", "fail")
    assert _event_outcome(batch["batch"]) == batch["outcome"]


def test_one_row_fewer_than_the_minimum_is_insufficient_evidence_naming_the_rows(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = _send(cast, version, _frame(MINIMUM - 1), django_capture_on_commit_callbacks)
    assert (batch["alerts"], batch["outcome"]) == (0, INSUFFICIENT)
    assert "rows" in _missing(batch)
    drift = next(gap for gap in batch["evidence_gaps"] if gap["part"] == "drift")
    assert f"{MINIMUM - 1} rows" in drift["reason"]
    assert f"({MINIMUM})" in drift["reason"]
    assert _event_outcome(batch["batch"]) == INSUFFICIENT


def test_fifty_rows_without_the_protected_column_is_insufficient_on_every_surface(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The issue's case: 50 rows, no ``sex`` column. Drift is short of rows and live fairness has no column: the
    batch is insufficient evidence in the API, the trail event and the version page, and ``ok`` appears nowhere."""
    batch = _send(cast, version, _frame(50, sex="drop"), django_capture_on_commit_callbacks)
    assert batch["outcome"] == INSUFFICIENT
    assert {"rows", "protected column"} <= _missing(batch)
    assert any("'sex'" in gap["reason"] for gap in batch["evidence_gaps"])
    assert batch["results"]["protected_missing"] == ["sex"]
    assert _event_outcome(batch["batch"]) == INSUFFICIENT
    page = signed_in(cast.owner).get(version_url(version)).content.decode()
    cell = page.split('data-testid="batch-outcome"', 1)[1].split("</td>", 1)[0]
    assert ">insufficient evidence</span>" in cell
    assert "no column &#x27;sex&#x27;" in cell  # the gap, in words, beside the outcome
    assert "level-ok" not in page.split('id="h-batches"', 1)[1].split("</table>", 1)[0]
    fairness = page.split('data-testid="fairness-gaps">', 1)[1].split("</div>", 1)[0]
    assert f"could not be judged on batch {batch['batch']}: insufficient evidence" in fairness
    # The batch's own page says the same, and what is missing.
    batch_page = signed_in(cast.owner).get(f"{version_url(version)}batches/{batch['batch']}/").content.decode()
    assert f'href="{version_url(version)}batches/{batch["batch"]}/"' in page
    assert 'data-testid="batch-outcome">insufficient evidence<' in batch_page
    gaps = batch_page.split('data-testid="batch-gaps">', 1)[1].split("</ul>", 1)[0]
    assert "missing: protected column" in gaps
    assert "missing: rows" in gaps


def test_the_protected_column_with_no_known_value_is_insufficient_evidence(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = _send(cast, version, _frame(MINIMUM, sex="blank"), django_capture_on_commit_callbacks)
    assert batch["results"]["evidence"]["drift"] == "sufficient"
    assert batch["results"]["fairness"]["outcome"] == INSUFFICIENT
    assert (batch["alerts"], batch["outcome"]) == (0, INSUFFICIENT)
    assert "known protected values" in _missing(batch)


def test_a_batch_sent_from_the_version_page_shows_insufficient_evidence_in_its_list(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"{version_url(version)}batches", {"file": SimpleUploadedFile("b.csv", _frame(299))})
    assert sent.status_code == 302
    assert MonitoringBatch.objects.get(version=version).status == "checked"
    page = client.get(version_url(version)).content.decode()
    cell = page.split('data-testid="batch-outcome"', 1)[1].split("</td>", 1)[0]
    assert ">insufficient evidence</span>" in cell
    assert "299 rows" in cell


# --- the rule itself, on results as the check stores them -------------------------------------------------------


def _fairness(groups: list[dict[str, Any]], outcome: str) -> dict[str, Any]:
    return {"outcome": outcome, "reason": "", "groupings": [{"grouping": "sex", "groups": groups}]}


def test_an_undefined_rate_and_a_small_group_are_gaps_an_excluded_group_is_not() -> None:
    sufficient = {"drift": "sufficient", "rows": 400, "min_batch_rows": 300}
    undefined = _fairness(
        [
            {"group": "male", "count": 350, "selection_rate": 0.0, "status": "reference", "reference": True},
            {"group": "female", "count": 50, "selection_rate": 0.0, "status": "undefined", "reference": False},
        ],
        INSUFFICIENT,
    )
    gaps = evidence_gaps({"evidence": sufficient, "fairness": undefined, "protected_missing": []})
    assert [gap["missing"] for gap in gaps] == ["defined rates"]
    small = _fairness(
        [
            {"group": "male", "count": 390, "selection_rate": 0.5, "status": "reference", "reference": True},
            {"group": "female", "count": 10, "selection_rate": 0.5, "status": "insufficient_small_group"},
        ],
        INSUFFICIENT,
    )
    assert [gap["missing"] for gap in evidence_gaps({"evidence": sufficient, "fairness": small})] == ["group rows"]
    excluded = _fairness(
        [
            {"group": "male", "count": 390, "selection_rate": 0.5, "status": "reference", "reference": True},
            {"group": "female", "count": 10, "selection_rate": 0.5, "status": "excluded_small_group"},
        ],
        "pass",
    )
    results = {"evidence": sufficient, "fairness": excluded}
    assert evidence_gaps(results) == []
    assert batch_outcome("checked", alerts=0, warnings=0, results=results) == "ok"


def test_results_stored_before_protected_missing_existed_use_the_configuration() -> None:
    old = {"evidence": {"drift": "sufficient", "rows": 400, "min_batch_rows": 300}, "fairness": None}
    assert batch_outcome("checked", alerts=0, warnings=0, results=old) == "ok"
    assert batch_outcome("checked", alerts=0, warnings=1, results=old, protected=("sex",)) == INSUFFICIENT
    assert batch_outcome("checked", alerts=2, warnings=0, results=old, protected=("sex",)) == "alert"
    assert batch_outcome("error", alerts=0, warnings=0, results=None) == "error"
