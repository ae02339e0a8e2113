"""Small batches, non-finite reference values, odd delimiters and long labels: each once gave a false alert, a 500
or a merged category. The fixes are checked through the public interface (the API, the action functions) and the
pure drift functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.monitoring import drift
from audits.monitoring.actions import MonitoringError, do_upload_batch
from audits.monitoring.batch import BatchError, BatchSpec, check_delimiter, profile_reference
from audits.monitoring.judge import INSUFFICIENT, judge
from audits.policies import builtin_policies, load_policy
from governance.data import actions as data
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.trail.models import Event
from registry.models import DriftStatistic, Finding, MonitoringBatch
from tests.api import assert_error
from tests.conftest import Cast
from tests.monitoring import arrange

URL = "/api/v1/models/{name}/versions/{number}"


def _base(version: Any) -> str:
    return URL.format(name=version.model.name, number=version.number)


def _baseline_thresholds() -> dict[str, Any]:
    return dict(load_policy(builtin_policies()["baseline"]).document["monitoring"])


def _state() -> tuple[int, int, int]:
    return MonitoringBatch.objects.count(), DatasetVersion.objects.count(), Event.objects.count()


@pytest.fixture
def version(cast: Cast, media_root: Any) -> Any:
    return arrange.monitored_demo_version(cast)


# --- 1. a minimum batch size for drift ------------------------------------------------------------------------------


def test_the_baseline_policy_sets_a_minimum_batch_size_with_its_basis() -> None:
    minimum = _baseline_thresholds()["min_batch_rows"]
    assert minimum["value"] == 300
    assert minimum["operator"] == ">="
    assert "chi-square" in minimum["basis"]["text"]
    assert "organisational default" in minimum["basis"]["citation"]


def test_psi_noise_at_the_minimum_batch_size_stays_below_the_warning_as_the_basis_says() -> None:
    """The basis's claim, measured: with no shift at all, batches of ``min_batch_rows`` rows drawn from the
    reference's own distribution keep PSI (10 bins) below ``psi_warning`` in at least 99% of draws; batches of 100
    rows do not (chance alone crosses the warning about a third of the time)."""
    thresholds = _baseline_thresholds()
    minimum, warning = thresholds["min_batch_rows"]["value"], thresholds["psi_warning"]["value"]
    rng = np.random.default_rng(20260101)
    profile = drift.numeric_reference(rng.normal(size=100_000))

    def share_above_warning(rows: int) -> float:
        above = 0
        for _ in range(1000):
            accumulator = drift.NumericAccumulator(profile)
            accumulator.add(rng.normal(size=rows))
            above += drift.numeric_statistics(accumulator)["psi"] > warning
        return above / 1000

    assert share_above_warning(minimum) <= 0.01
    assert share_above_warning(100) > 0.2


def test_judge_records_insufficient_evidence_for_drift_below_the_minimum_batch_size() -> None:
    profile = drift.numeric_reference(np.arange(1000, dtype=float))
    accumulator = drift.NumericAccumulator(profile)
    accumulator.add(np.array([5000.0]))  # one row, far outside the reference
    stats = drift.numeric_statistics(accumulator)
    assert stats["psi"] > 0.1
    results = {"rows": 1, "features": {"x": stats}}
    judgement = judge(results, thresholds=_baseline_thresholds(), baseline={})
    assert judgement.alerts == []
    assert judgement.warnings == []
    psi_row = next(row for row in judgement.statistics if row["statistic"] == "psi")
    assert psi_row["level"] == INSUFFICIENT
    assert psi_row["value"] == pytest.approx(stats["psi"])  # the number is kept, only not judged
    assert judgement.evidence["drift"] == INSUFFICIENT
    assert judgement.evidence["min_batch_rows"] == 300
    assert "300" in judgement.evidence["reason"]


def test_a_one_row_batch_opens_no_alert_and_says_why(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base = _base(version)
    one_row = arrange.batch_csv(shift_credit_amount_sd=5.0, rows=slice(0, 1))
    with django_capture_on_commit_callbacks(execute=True):
        sent = cast.owner.client().post(
            f"{base}/batches/", {"file": SimpleUploadedFile("b.csv", one_row)}, format="multipart"
        )
    assert sent.status_code == 201, sent.content
    batch = MonitoringBatch.objects.get(version=version)
    assert batch.status == "checked"
    assert (batch.alerts, batch.warnings) == (0, 0)
    assert not Finding.objects.filter(version=version, kind__in=["drift_alert", "performance_alert"]).exists()
    assert batch.results["evidence"]["drift"] == INSUFFICIENT
    assert batch.results["evidence"]["rows"] == 1
    series = cast.owner.client().get(f"{base}/drift?feature=credit_amount&statistic=psi").json()["series"]["psi"]
    assert [point["level"] for point in series] == [INSUFFICIENT]
    levels = set(DriftStatistic.objects.filter(batch=batch, statistic="psi").values_list("level", flat=True))
    assert levels == {INSUFFICIENT}
    # Performance decay on one labelled row is no evidence either.
    assert set(
        DriftStatistic.objects.filter(batch=batch, statistic="accuracy_drop").values_list("level", flat=True)
    ) <= {INSUFFICIENT}


def test_a_shifted_batch_at_the_minimum_size_still_alerts(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = arrange.batch_csv(shift_credit_amount_sd=1.0, rows=slice(0, 300))
    with django_capture_on_commit_callbacks(execute=True):
        sent = cast.owner.client().post(
            f"{_base(version)}/batches/", {"file": SimpleUploadedFile("b.csv", data)}, format="multipart"
        )
    assert sent.status_code == 201, sent.content
    batch = MonitoringBatch.objects.get(version=version)
    assert batch.results["evidence"]["drift"] == "sufficient"
    assert any(a["subject"] == "credit_amount" and a["level"] == "alert" for a in batch.results["alerts"])


# --- 2. non-finite reference values ----------------------------------------------------------------------------------


def _assert_strict_json(value: Any) -> None:
    json.dumps(value, allow_nan=False)  # PostgreSQL's jsonb and DRF's strict JSON refuse NaN and Infinity


def test_a_numeric_reference_with_infinities_is_profiled_finite_counting_them_as_missing() -> None:
    values = np.array([1.0, 2.0, np.inf, 3.0, -np.inf, np.nan, 4.0])
    profile = drift.numeric_reference(values)
    _assert_strict_json(profile)
    assert (profile["n"], profile["missing"], profile["non_finite"]) == (4, 3, 2)
    assert profile["mean"] == pytest.approx(2.5)
    assert profile["min"] == 1.0
    assert profile["max"] == 4.0
    with pytest.raises(ValueError, match="no finite values"):
        drift.numeric_reference(np.array([np.inf, -np.inf, np.nan]))


def test_a_reference_of_huge_finite_values_does_not_overflow_into_inf_or_nan() -> None:
    profile = drift.numeric_reference(np.array([1.7e308, -1.7e308, 1.7e308, 1.0, -1.0] * 20))
    _assert_strict_json(profile)
    accumulator = drift.NumericAccumulator(profile)
    accumulator.add(np.array([1.7e308, 2.0, -1.7e308, np.inf]))
    _assert_strict_json(drift.numeric_statistics(accumulator))


def test_a_batch_treats_infinities_as_the_reference_does() -> None:
    """Both sides count a non-finite value as missing, so the same share of infinities is no drift."""
    rng = np.random.default_rng(7)
    reference = rng.normal(size=5000)
    reference[::10] = np.inf
    batch = rng.normal(size=5000)
    batch[::10] = -np.inf
    profile = drift.numeric_reference(reference)
    accumulator = drift.NumericAccumulator(profile)
    accumulator.add(batch)
    stats = drift.numeric_statistics(accumulator)
    _assert_strict_json(stats)
    assert stats["non_finite"] == 500
    assert stats["missing"] == 500
    assert stats["psi"] < 0.01
    assert stats["mean"] is not None


def test_a_reference_table_with_infinities_gives_a_finite_profile() -> None:
    table = pa.table(
        {
            "x": pa.array([1.0, float("inf"), 2.0, 3.0, float("nan")]),
            "s": pa.array([0.1, 0.9, float("-inf"), 0.7, 0.2]),
        }
    )
    spec = BatchSpec(features=(("x", "numeric"),), score="s", threshold=0.5)
    profile = profile_reference(table, spec)
    _assert_strict_json(profile)
    assert profile["features"]["x"]["non_finite"] == 1


def test_configuring_a_reference_with_inf_answers_200_and_stores_a_finite_profile(
    cast: Cast, media_root: Any, tmp_path: Path
) -> None:
    version = arrange.deployed_demo_version(cast)
    owner = cast.owner.user
    text = arrange.german_csv().decode()
    header, *lines = text.splitlines()
    column = header.split(",").index("credit_amount")
    for i in range(0, len(lines), 50):
        cells = lines[i].split(",")
        cells[column] = "inf"
        lines[i] = ",".join(cells)
    path = arrange.write(tmp_path, "reference.csv", ("\n".join([header, *lines]) + "\n").encode())
    registered = data.do_register_dataset(
        user=owner, actor=Actor.for_user(owner), name=f"reference-inf-{version.pk}", team=version.model.team
    )
    reference = data.do_register_dataset_version(
        dataset=registered, user=owner, actor=Actor.for_user(owner), file_path=path, file_name="reference.csv"
    )
    body = {**arrange.CONFIG, "reference": {"dataset": registered.name, "version": reference.number}}
    response = cast.owner.client().put(f"{_base(version)}/monitoring", body, format="json")
    assert response.status_code == 200, response.content
    version.monitor.refresh_from_db()
    _assert_strict_json(version.monitor.profile)
    assert version.monitor.profile["features"]["credit_amount"]["non_finite"] == 20
    assert response.json()["profile"]["features"]["credit_amount"]["non_finite"] == 20


# --- 3. delimiters ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", ["ab", ";;", "\n", "\r", '"', "\x00", "é", ""])
def test_a_delimiter_that_is_not_one_usable_character_is_refused_with_422(
    cast: Cast, version: Any, delimiter: str
) -> None:
    base = _base(version)
    before = _state()
    body = {"file": SimpleUploadedFile("b.csv", arrange.batch_csv(rows=slice(0, 10))), "delimiter": delimiter}
    error = assert_error(cast.owner.client().post(f"{base}/batches/", body, format="multipart"), 422)
    assert "delimiter" in error["message"].lower() or "delimiter" in json.dumps(error["details"])
    assert (MonitoringBatch.objects.count(), DatasetVersion.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize("delimiter", ["ab", "\n", '"', "\x00", "é"])
def test_a_bad_delimiter_on_late_labels_is_refused_with_422(cast: Cast, version: Any, delimiter: str) -> None:
    base = _base(version)
    arrange.upload(cast, version, arrange.batch_csv(with_label=False, rows=slice(0, 3)))
    body = {"file": SimpleUploadedFile("l.csv", b"credit_risk\n1\n2\n1\n"), "delimiter": delimiter}
    assert_error(cast.owner.client().post(f"{base}/batches/1/labels", body, format="multipart"), 422)
    assert MonitoringBatch.objects.get(version=version).labels is None


def test_a_tab_and_other_single_characters_are_accepted(cast: Cast, version: Any) -> None:
    base = _base(version)
    data = arrange.batch_csv(rows=slice(0, 10)).decode()
    for sent, actual in (("\\t", "\t"), ("\t", "\t"), (";", ";"), ("|", "|")):
        body = {"file": SimpleUploadedFile("b.csv", data.replace(",", actual).encode()), "delimiter": sent}
        response = cast.owner.client().post(f"{base}/batches/", body, format="multipart")
        assert response.status_code == 201, (sent, response.content)
    assert check_delimiter("\\t") == "\t"
    with pytest.raises(BatchError, match="one character"):
        check_delimiter("ab")


def test_the_upload_action_refuses_a_bad_delimiter_for_every_entry_point(
    cast: Cast, version: Any, tmp_path: Path
) -> None:
    owner = cast.owner.user
    path = arrange.write(tmp_path, "x.csv", arrange.batch_csv(rows=slice(0, 5)))
    with pytest.raises(MonitoringError, match="delimiter"):
        do_upload_batch(
            version=version, user=owner, actor=Actor.for_user(owner), file_path=path, file_name="x.csv", delimiter="é"
        )


# --- 4. long labels ---------------------------------------------------------------------------------------------------


def test_cut_category_labels_keep_distinct_values_distinct_and_equal_values_equal() -> None:
    first, second = "x" * 300 + "1", "x" * 300 + "2"
    profile = drift.categorical_reference([first, second, second])
    assert len(profile["categories"]) == 2
    assert sorted(profile["counts"]) == [1, 2]
    assert all(len(name) <= drift.MAX_LABEL_CHARS for name in profile["categories"])
    accumulator = drift.CategoricalAccumulator(profile)
    accumulator.add([first, second, "x" * 300 + "3"])
    stats = drift.categorical_statistics(accumulator)
    assert accumulator.other == 1  # the third long value is new, not merged into a known one
    assert sorted(stats["categories"]["batch"][:2]) == [1, 1]
    assert drift.category_label("short") == "short"
    assert drift.category_label(first) == drift.category_label(first)


def test_long_group_names_stay_distinct_in_the_time_series(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    long_a, long_b = "g" * 400 + "a", "g" * 400 + "b"
    text = arrange.batch_csv().decode().replace(",female,", f",{long_a},").replace(",male,", f",{long_b},")
    with django_capture_on_commit_callbacks(execute=True):
        sent = cast.owner.client().post(
            f"{_base(version)}/batches/", {"file": SimpleUploadedFile("b.csv", text.encode())}, format="multipart"
        )
    assert sent.status_code == 201, sent.content
    subjects = set(
        DriftStatistic.objects.filter(version=version, statistic="selection_rate").values_list("subject", flat=True)
    )
    assert len(subjects) == 2
    assert all(len(subject) <= 300 for subject in subjects)


def test_a_reference_score_without_finite_values_is_a_clear_batch_error_not_a_crash() -> None:
    table = pa.table({"x": pa.array([1.0, 2.0]), "s": pa.array([float("nan"), float("inf")])})
    spec = BatchSpec(features=(("x", "numeric"),), score="s", threshold=0.5)
    with pytest.raises(BatchError, match="'s' \\(the score\\) must hold numbers"):
        profile_reference(table, spec)
