"""Batches, late labels, scheduling and bad input, through the API and the management commands."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from sklearn import metrics

from audits.monitoring import actions as monitoring
from audits.monitoring.actions import MonitoringError
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry
from registry.models import BatchStatus, Finding, MonitoringBatch
from tests.api import assert_error
from tests.conftest import Cast
from tests.monitoring import arrange

URL = "/api/v1/models/{name}/versions/{number}"


@pytest.fixture
def version(cast: Cast, media_root: Any) -> Any:
    return arrange.monitored_demo_version(cast)


def _base(version: Any) -> str:
    return URL.format(name=version.model.name, number=version.number)


def _post(member: Any, path: str, data: bytes, name: str = "batch.csv", capture: Any = None) -> Any:
    body = {"file": SimpleUploadedFile(name, data)}
    if capture is None:
        return member.client().post(path, body, format="multipart")
    with capture(execute=True):
        return member.client().post(path, body, format="multipart")


def _nothing_stored(before: tuple[int, int, int]) -> None:
    assert (MonitoringBatch.objects.count(), DatasetVersion.objects.count(), Event.objects.count()) == before


def _state() -> tuple[int, int, int]:
    return MonitoringBatch.objects.count(), DatasetVersion.objects.count(), Event.objects.count()


def test_columns_that_do_not_match_name_the_missing_and_the_unexpected_ones(cast: Cast, version: Any) -> None:
    frame = arrange.batch_csv().decode().replace("credit_amount", "amount_eur", 1).encode()
    before = _state()
    response = _post(cast.owner, f"{_base(version)}/batches/", frame)
    error = assert_error(response, 422)
    assert "missing columns: 'credit_amount'" in error["message"]
    assert "unexpected columns: 'amount_eur'" in error["message"]
    _nothing_stored(before)


def _edit(text: str, column: str, value: str) -> str:
    """The batch with the first row's ``column`` set to ``value``."""
    lines = text.split("\n")
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index(column)] = value
    lines[1] = ",".join(row)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: _edit(text, "duration_months", "four"), "Column 'duration_months' must hold numbers"),
        (lambda text: _edit(text, "age", "=1+2"), "Column 'age' must hold numbers"),
        (lambda text: text.split("\n")[0] + "\n", "The batch has no rows"),
        (lambda text: _edit(text, "decision", ""), "1 rows of the batch have no prediction"),
        (lambda text: "", "empty"),
    ],
    ids=["wrong type", "formula in a numeric column", "header only", "missing decision", "zero bytes"],
)
def test_bad_batches_are_refused_with_a_clear_error_and_nothing_is_stored(
    cast: Cast, version: Any, change: Any, message: str
) -> None:
    text = change(arrange.batch_csv().decode())
    before = _state()
    response = _post(cast.owner, f"{_base(version)}/batches/", text.encode())
    error = assert_error(response, 422)
    assert message in error["message"], error
    _nothing_stored(before)


def test_a_huge_field_and_an_oversized_upload_are_refused(cast: Cast, version: Any, settings: Any) -> None:
    text = arrange.batch_csv().decode()
    huge = _edit(text, "sex", "x" * 100_001)
    before = _state()
    assert (
        "is longer than 100,000 characters"
        in assert_error(_post(cast.owner, f"{_base(version)}/batches/", huge.encode()), 422)["message"]
    )
    settings.MONITORING_BATCH_MAX_BYTES = 10_000
    assert_error(_post(cast.owner, f"{_base(version)}/batches/", text.encode()), 413)
    _nothing_stored(before)


def test_formula_like_group_labels_are_data_kept_literally_never_evaluated(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    text = arrange.batch_csv().decode().replace(",female,", ',=HYPERLINK("http://x"),')
    response = _post(
        cast.owner, f"{_base(version)}/batches/", text.encode(), capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 201, response.content
    batch = MonitoringBatch.objects.get(version=version)
    groups = [g["group"] for g in batch.results["fairness"]["groupings"][0]["groups"]]
    assert sorted(groups) == ['sex==HYPERLINK("http://x")', "sex=male"]


def test_a_batch_for_a_version_not_deployed_is_kept_and_flagged(cast: Cast, media_root: Any) -> None:
    version = arrange.monitored_demo_version(cast, deploy=False)
    response = _post(cast.owner, f"{_base(version)}/batches/", arrange.batch_csv())
    assert response.status_code == 201, response.content
    assert response.json()["deployed"] is False
    flagged = Finding.objects.get(version=version, kind="monitoring_undeployed")
    assert flagged.status == "open"
    assert flagged.details["batches"] == [1]
    # A second batch adds to the same open finding.
    _post(cast.owner, f"{_base(version)}/batches/", arrange.batch_csv())
    flagged.refresh_from_db()
    assert flagged.details["batches"] == [1, 2]
    assert Finding.objects.filter(version=version, kind="monitoring_undeployed").count() == 1


def test_batches_are_stored_as_dataset_versions_linked_by_lineage(cast: Cast, version: Any) -> None:
    response = _post(cast.owner, f"{_base(version)}/batches/", arrange.batch_csv())
    data = response.json()["data"]
    stored = DatasetVersion.objects.get(dataset__name=data["dataset"], number=data["version"])
    assert stored.row_count == 1000
    assert stored.profile["rows"] == 1000
    link = stored.lineage_links.get()
    assert link.direction == "output"
    assert link.run.job_name == f"monitor/{version.model.name}/v{version.number}"
    assert link.run.code_ref == version.artifact_sha256
    event = Event.objects.filter(action="monitoring.batch_received").latest("seq")
    assert event.payload["sha256"] == stored.sha256
    assert event.payload["deployed"] is True


def test_late_labels_measure_performance_decay_equal_to_scikit_learn(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base = _base(version)
    sent = _post(
        cast.owner, f"{base}/batches/", arrange.batch_csv(with_label=False), capture=django_capture_on_commit_callbacks
    )
    assert sent.status_code == 201
    batch = MonitoringBatch.objects.get(version=version)
    assert "performance" not in batch.results
    # Labels arrive later: the truth flipped for a third of the rows, so accuracy falls.
    truth = np.array(arrange.german_table().column("credit_risk").to_pylist())
    truth[::3] = np.where(truth[::3] == 1, 2, 1)
    labels = "credit_risk\n" + "\n".join(str(v) for v in truth) + "\n"
    with django_capture_on_commit_callbacks(execute=True):
        added = cast.owner.client().post(
            f"{base}/batches/1/labels", {"file": SimpleUploadedFile("labels.csv", labels.encode())}, format="multipart"
        )
    assert added.status_code == 200, added.content
    batch.refresh_from_db()
    decisions = arrange.model_decisions()
    expected = metrics.accuracy_score(truth == 1, decisions == 1)
    performance = batch.results["performance"]
    assert performance["accuracy"] == pytest.approx(expected, rel=1e-12)
    assert performance["recall"] == pytest.approx(metrics.recall_score(truth == 1, decisions == 1), rel=1e-12)
    baseline = version.monitor.baseline
    assert baseline["source"] == "reference data"
    assert baseline["accuracy"] == pytest.approx(
        metrics.accuracy_score(np.array(arrange.german_table().column("credit_risk").to_pylist()) == 1, decisions == 1),
        rel=1e-12,
    )
    alert = next(a for a in batch.results["alerts"] if a["kind"] == "performance_alert")
    assert alert["statistic"] == "accuracy_drop"
    assert alert["value"] == pytest.approx(baseline["accuracy"] - expected)
    assert batch.results["label"]["psi"] > 0  # label drift measured too
    assert Event.objects.filter(action="monitoring.labels_received").count() == 1
    # Labels twice, labels of the wrong length, labels for an unknown batch.
    again = _post(cast.owner, f"{base}/batches/1/labels", labels.encode(), name="labels.csv")
    assert_error(again, 409)
    assert_error(_post(cast.owner, f"{base}/batches/9/labels", labels.encode(), name="labels.csv"), 404)


def test_labels_of_the_wrong_length_are_refused(cast: Cast, version: Any) -> None:
    _post(cast.owner, f"{_base(version)}/batches/", arrange.batch_csv(with_label=False))
    short = b"credit_risk\n1\n2\n"
    error = assert_error(_post(cast.owner, f"{_base(version)}/batches/1/labels", short, name="l.csv"), 422)
    assert "has 2 rows; batch 1 has 1000" in error["message"]


def test_monitor_runs_due_checks_once_and_a_failing_check_opens_an_error_finding(cast: Cast, version: Any) -> None:
    # Without on-commit callbacks running, the uploads stay due: the sweep picks them up.
    arrange.upload(cast, version, arrange.batch_csv())
    broken = arrange.upload(cast, version, arrange.batch_csv(rows=slice(0, 500)))
    default_storage.delete(broken.data.file.name)  # storage lost the file
    out = io.StringIO()
    call_command("monitor", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"checked": 1, "error": 1, "skipped": 0}
    broken.refresh_from_db()
    assert broken.status == BatchStatus.ERROR
    assert broken.data.file.name in broken.error  # the file the store lost is named (a path, or a key)
    error = Finding.objects.get(version=version, kind="monitoring_error")
    assert error.status == "open"
    assert error.details["batches"] == [2]
    assert Event.objects.filter(action="monitoring.check_failed").count() == 1
    out = io.StringIO()
    call_command("monitor", "--json", stdout=out)  # idempotent: nothing is due any more
    assert json.loads(out.getvalue()) == {"checked": 0, "error": 0, "skipped": 0}


def test_monitor_batch_command_checks_a_parquet_batch_like_the_csv(cast: Cast, version: Any, tmp_path: Path) -> None:
    data = arrange.batch_csv(shift_credit_amount_sd=1.0)
    csv_path = tmp_path / "batch.csv"
    csv_path.write_bytes(data)
    parquet_path = tmp_path / "batch.parquet"
    pq.write_table(
        pv.read_csv(csv_path, convert_options=pv.ConvertOptions(column_types={"decision": "string"})), parquet_path
    )
    results = []
    for path in (csv_path, parquet_path):
        out = io.StringIO()
        call_command(
            "monitor_batch",
            "--model",
            version.model.name,
            "--version",
            str(version.number),
            "--data",
            str(path),
            "--as",
            "omar",
            "--json",
            stdout=out,
        )
        results.append(json.loads(out.getvalue()))
    assert [r["status"] for r in results] == ["checked", "checked"]
    assert results[0]["results"]["features"] == results[1]["results"]["features"]
    assert results[1]["alerts"] == 1  # credit_amount; the open finding gets the second batch added
    finding = Finding.objects.get(version=version, kind="drift_alert")
    assert finding.details["batches"] == [1, 2]


def test_retrain_decision_links_the_next_version_when_it_arrives(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _post(
        cast.owner,
        f"{_base(version)}/batches/",
        arrange.batch_csv(shift_credit_amount_sd=1.0),
        capture=django_capture_on_commit_callbacks,
    )
    finding = Finding.objects.get(version=version, kind="drift_alert")
    reviewer = cast.reviewer.user
    registry.do_resolve_finding(
        finding=finding,
        user=reviewer,
        actor=Actor.for_user(reviewer),
        resolution="retrain",
        reason="Retrain on 2026 data.",
    )
    owner = cast.owner.user
    new = registry.do_register_version(model=version.model, user=owner, actor=Actor.for_user(owner))
    finding.refresh_from_db()
    assert finding.details["retrained_by_version"] == new.number
    event = Event.objects.filter(action="finding.retrain_linked").get()
    assert event.payload == {
        "model": version.model.name,
        "version": version.number,
        "finding": finding.pk,
        "new_version": new.number,
    }


def test_retire_decision_retires_the_version_through_the_lifecycle(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _post(
        cast.owner,
        f"{_base(version)}/batches/",
        arrange.batch_csv(shift_credit_amount_sd=1.0),
        capture=django_capture_on_commit_callbacks,
    )
    finding = Finding.objects.get(version=version, kind="drift_alert")
    response = cast.officer.client().post(
        f"{_base(version)}/findings/{finding.pk}/resolve", {"resolution": "retire", "reason": "Drifted."}, format="json"
    )
    assert response.status_code == 200, response.content
    version.refresh_from_db()
    assert version.state == "retired"
    assert Event.objects.filter(action="model_version.retired").count() == 1


def test_an_outsider_sees_nothing_and_cannot_send(cast: Cast, version: Any) -> None:
    assert_error(cast.outsider.client().get(f"{_base(version)}/batches/"), 404)
    assert_error(_post(cast.outsider, f"{_base(version)}/batches/", arrange.batch_csv()), 404)
    assert_error(_post(cast.reviewer, f"{_base(version)}/batches/", arrange.batch_csv()), 403)


@pytest.mark.parametrize("who", ["officer", "reviewer", "admin", "regulator"])
def test_only_the_owning_team_and_pipelines_send_batches_whatever_the_entry_point(
    cast: Cast, version: Any, tmp_path: Path, who: str
) -> None:
    # The rule is the action's (models:write: owners and CI), so a caller that skips the API is refused the same way.
    member = getattr(cast, who)
    path = arrange.write(tmp_path, "batch.csv", arrange.batch_csv())
    before = _state()
    with pytest.raises(MonitoringError) as refused:
        monitoring.do_upload_batch(version=version, user=member.user, actor=Actor.for_user(member.user), file_path=path)
    assert (str(refused.value), refused.value.status, refused.value.code) == (
        f"Only ci, owner may send production batches; you are {who}.",
        403,
        "role_refused",
    )
    _nothing_stored(before)


def test_a_pipeline_of_no_team_sends_batches(cast: Cast, version: Any, tmp_path: Path) -> None:
    path = arrange.write(tmp_path, "batch.csv", arrange.batch_csv())
    ci = cast.ci.user
    batch = monitoring.do_upload_batch(version=version, user=ci, actor=Actor.for_user(ci), file_path=path)
    assert batch.received_by == ci
