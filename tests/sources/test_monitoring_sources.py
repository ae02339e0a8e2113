"""Monitoring reads a production batch from a partition where it lives and raises the same alerts as the same rows
uploaded (issue 21): yesterday's Hive-style Parquet folder (counted by DuckDB) and yesterday's rows of a PostgreSQL
table with a date column (counted by the server), taken by the scheduled sweep (``run_due_checks``, what beat and
``manage.py monitor`` run) with a clock the test sets. The batch's results name the partition and its evidence; a
partition changed after it was taken is refused, saying what changed."""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from audits.models import BatchSource
from audits.monitoring import actions as monitoring
from governance.data.sources import SourceError, parse_source
from governance.trail.log import Actor
from governance.trail.models import Event
from registry.models import BatchStatus, MonitoringBatch
from tests.audits.conftest import media_root  # noqa: F401 - a fixture
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.portal.conftest import signed_in
from tests.sources.conftest import admin_connection, connections, declaration, pg_uri

URL = "/api/v1/models/{name}/versions/{number}/monitoring/source"
DAY = dt.date(2026, 12, 5)
AFTER_MIDNIGHT = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)  # the 5th is yesterday: due, with lag_days 1
_PG = {
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.date32(): "date",
    pa.decimal128(12, 2): "numeric(12, 2)",
}


@pytest.fixture
def lake(settings: Any, tmp_path: Path, media_root: Path) -> Path:  # noqa: F811 - the fixture imported above
    root = tmp_path / "lake"
    root.mkdir()
    settings.DATA_SOURCE_ROOTS = [str(root)]
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    return root


def batch_table(**changes: Any) -> pa.Table:
    return pcsv.read_csv(io.BytesIO(arrange.batch_csv(**changes)))


SHIFTED = {"shift_credit_amount_sd": 1.0, "halve_female_approvals": True}


def uploaded_and_checked(cast: Cast, version: Any, table: pa.Table) -> MonitoringBatch:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    batch = arrange.upload(cast, version, buffer.getvalue(), name="batch.parquet")
    return monitoring.execute_check(batch.pk)


def write_day(root: Path, day: dt.date, table: pa.Table, *, parts: int = 1) -> Path:
    folder = root / "scores" / f"date={day.isoformat()}"
    folder.mkdir(parents=True)
    size = -(-table.num_rows // parts)
    for part in range(parts):
        pq.write_table(table.slice(part * size, size), folder / f"part-{part:03d}.parquet")
    return folder


def load_days(database: str, days: dict[dt.date, pa.Table]) -> None:
    """The days' rows in one table ``scores`` with a ``scored_on`` date column, days interleaved."""
    first = list(days.values())[-1]  # every day's rows in the last day's types (a shifted amount is a float)
    days = {day: table.cast(first.schema) for day, table in days.items()}
    columns = sql.SQL(", ").join(
        [sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_PG[f.type])) for f in first.schema]
        + [sql.SQL("scored_on date")]
    )
    with admin_connection(database) as connection:
        connection.execute("DROP TABLE IF EXISTS scores CASCADE")  # with a view on it (test_monitoring_source_config)
        connection.execute(sql.SQL("CREATE TABLE scores ({})").format(columns))
        with connection.cursor().copy("COPY scores FROM STDIN") as copy:
            rows = [(day, row) for day, table in days.items() for row in table.to_pylist()]
            for day, row in sorted(rows, key=lambda item: hash(str(item[1])) % 97):
                copy.write_row([*row.values(), day])


def split_means(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The results without ``source`` and without the numeric means (float sums in another order), and the means."""
    rest = {key: value for key, value in results.items() if key != "source"}
    means: dict[str, Any] = {}
    for group in ("features",):
        rest[group] = {name: dict(stats) for name, stats in results[group].items()}
        for name, stats in rest[group].items():
            for key in ("mean", "mean_shift_in_reference_sd"):
                if key in stats:
                    means[f"{name}.{key}"] = stats.pop(key)
    return rest, means


def assert_same_as_uploaded(found: MonitoringBatch, uploaded: MonitoringBatch) -> None:
    assert found.status == uploaded.status == BatchStatus.CHECKED, (found.error, uploaded.error)
    assert (found.alerts, found.warnings, found.rows) == (uploaded.alerts, uploaded.warnings, uploaded.rows)
    expected, expected_means = split_means(uploaded.results)
    got, got_means = split_means(found.results)
    assert [a["cause"] for a in got["alerts"]] == [a["cause"] for a in expected["alerts"]]
    assert got["alerts"] == expected["alerts"]  # every number of every alert, exactly
    assert got == expected  # and every statistic: PSI, KS, chi-square, JS, groups, performance
    assert got_means.keys() == expected_means.keys()
    for key, value in expected_means.items():
        assert math.isclose(got_means[key], value, rel_tol=1e-12, abs_tol=1e-12), key
    statistics = lambda batch: sorted(  # noqa: E731
        (s.subject, s.statistic, s.value, s.level) for s in batch.statistics.exclude(statistic="mean_shift_sd")
    )
    assert statistics(found) == statistics(uploaded)


@pytest.mark.usefixtures("unprotected_trail")
def test_yesterdays_parquet_partition_alerts_as_the_uploaded_rows(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    shifted = batch_table(**SHIFTED)
    uploaded = uploaded_and_checked(cast, version, shifted)
    assert uploaded.alerts >= 2  # credit_amount's drift and women's approvals: the batch is meant to alert
    write_day(lake, DAY - dt.timedelta(days=1), batch_table(rows=slice(0, 400)))
    write_day(lake, DAY, shifted, parts=3)
    write_day(lake, DAY + dt.timedelta(days=1), batch_table())  # today's: not due yet

    response = cast.owner.client().put(
        URL.format(name=version.model.name, number=version.number),
        {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-04"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["next_partition"] == "2026-12-04"
    monitoring.run_due_checks(now=AFTER_MIDNIGHT)

    batches = list(MonitoringBatch.objects.filter(version=version).order_by("number"))
    assert [b.number for b in batches] == [1, 2, 3]  # the upload, then the 4th and the 5th; not the 6th
    found = batches[2]
    assert_same_as_uploaded(found, uploaded)
    source = found.results["source"]
    assert source["engine"] == "duckdb"
    assert source["partition"] == {
        "of": f"parquet://{lake / 'scores'}",
        "column": "date",
        "value": "2026-12-05",
        "location": f"parquet://{lake / 'scores' / 'date=2026-12-05'}",
    }
    assert [f["path"] for f in source["evidence"]["files"]] == [
        "part-000.parquet",
        "part-001.parquet",
        "part-002.parquet",
    ]
    assert all(len(f["sha256"]) == 64 for f in source["evidence"]["files"])
    assert source["evidence_sha256"] == found.data.sha256
    assert BatchSource.objects.get(version=version).next_partition == DAY + dt.timedelta(days=1)
    monitoring.run_due_checks(now=AFTER_MIDNIGHT)  # idempotent: nothing more is due
    assert MonitoringBatch.objects.filter(version=version).count() == 3
    assert Event.objects.filter(action="monitoring.source_configured").count() == 1


@pytest.mark.usefixtures("unprotected_trail")
def test_yesterdays_rows_of_a_table_alert_as_the_uploaded_rows(cast: Cast, lake: Path, source_db: str) -> None:
    version = arrange.monitored_demo_version(cast)
    shifted = batch_table(**SHIFTED)
    uploaded = uploaded_and_checked(cast, version, shifted)
    load_days(source_db, {DAY - dt.timedelta(days=1): batch_table(), DAY: shifted})

    monitoring.do_configure_batch_source(
        version=version,
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        uri=pg_uri("table=scores"),
        partition_column="scored_on",
        start=DAY,
    )
    monitoring.run_due_checks(now=AFTER_MIDNIGHT)

    found = MonitoringBatch.objects.get(version=version, number=2)
    assert_same_as_uploaded(found, uploaded)
    source = found.results["source"]
    assert source["engine"] == "postgresql"
    assert source["partition"]["location"] == "postgresql://source/scores#scored_on=2026-12-05"
    assert source["evidence"]["rows"] == shifted.num_rows
    assert ":" in source["evidence"]["digest"]
    assert found.data.source_uri == "postgresql://source/scores?partition=scored_on=2026-12-05"
    with pytest.raises(SourceError, match="may not set partition"):  # an audit of it is refused, saying why
        parse_source(found.data.source_uri, roots=[], connections=connections())


@pytest.mark.usefixtures("unprotected_trail")
def test_a_partition_changed_after_it_was_taken_is_refused(cast: Cast, lake: Path, source_db: str) -> None:
    version = arrange.monitored_demo_version(cast)
    load_days(source_db, {DAY: batch_table()})
    monitoring.do_configure_batch_source(
        version=version,
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        uri=pg_uri("table=scores"),
        partition_column="scored_on",
        start=DAY,
    )
    assert monitoring.pull_due_partitions(now=AFTER_MIDNIGHT) == {"taken": 1, "skipped": 0, "waiting": 0, "failed": 0}
    with admin_connection(source_db) as connection:
        connection.execute("UPDATE scores SET decision = 2 WHERE sex = 'female' AND decision = 1")

    checked = monitoring.execute_check(MonitoringBatch.objects.get(version=version, number=1).pk)

    assert checked.status == BatchStatus.ERROR
    assert "has changed since it was registered" in checked.error
    assert "content digest of the rows changed" in checked.error


@pytest.mark.usefixtures("unprotected_trail")
def test_a_partition_not_there_yet_is_waited_for(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY - dt.timedelta(days=2), batch_table(rows=slice(0, 300)))
    monitoring.do_configure_batch_source(
        version=version,
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        uri=f"parquet://{lake / 'scores'}",
        partition_column="date",
        start=DAY,
    )

    assert monitoring.pull_due_partitions(now=AFTER_MIDNIGHT) == {"taken": 0, "skipped": 0, "waiting": 1, "failed": 0}

    source = BatchSource.objects.get(version=version)
    assert "date=2026-12-05 has no rows yet" in source.waiting
    assert source.next_partition == DAY
    assert not MonitoringBatch.objects.filter(version=version).exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"uri": "parquet:///etc", "partition_column": "date", "start": "2026-12-05"}, "DATA_SOURCE_ROOTS"),
        ({"uri": "postgresql://source/scores", "partition_column": "day; DROP TABLE x", "start": "2026-12-05"},
         "plain column name"),
        ({"uri": "postgresql://source?query=SELECT+1", "partition_column": "d", "start": "2026-12-05"},
         "does not allow queries"),
        ({"uri": "postgresql://source/scores", "partition_column": "d", "start": "2026-12-05", "sql": "1=1"},
         "sql"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("unprotected_trail")
def test_a_refused_batch_source_changes_nothing(cast: Cast, lake: Path, body: dict, words: str) -> None:
    version = arrange.monitored_demo_version(cast)
    before = (BatchSource.objects.count(), Event.objects.count())

    response = cast.owner.client().put(URL.format(name=version.model.name, number=version.number), body, format="json")

    assert response.status_code in (400, 422), response.content
    assert words in response.content.decode()
    assert (BatchSource.objects.count(), Event.objects.count()) == before


@pytest.mark.usefixtures("unprotected_trail")
def test_the_portal_sets_where_batches_live_and_shows_a_refusal_under_its_field(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    page = f"/models/{version.model.name}/versions/{version.number}/monitoring/source"
    browser = signed_in(cast.owner)

    refused = browser.post(
        page, {"uri": f"parquet://{lake / 'scores'}", "partition_column": "day-1", "start": "2026-12-05", "lag_days": 1}
    )
    assert refused.status_code in (400, 422)
    assert "plain column name" in refused.content.decode()
    assert not BatchSource.objects.filter(version=version).exists()

    saved = browser.post(
        page,
        {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05", "lag_days": 1,
         "enabled": "on"},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:500]
    found = BatchSource.objects.get(version=version)
    assert (found.partition_column, found.next_partition, found.lag_days) == ("date", DAY, 1)
    assert "date" in browser.get(page).content.decode()
