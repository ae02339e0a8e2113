"""Configuring where a version's batches live, and the sweep that takes them, take each day once: a repeated PUT
keeps the place reached, a changed one skips days already taken from its source, and two sweeps at once (on
PostgreSQL, where rows are locked) take each day once. A timestamp partition column, a ``lag_days`` of 0 and
hostile bodies are refused, saying why, with nothing stored."""

# ruff: noqa: F811 - `lake` is a fixture imported from test_monitoring_sources, named again by each test using it

from __future__ import annotations

import datetime as dt
import importlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, connections, transaction

from audits.models import BatchSource, TakenPartition
from audits.monitoring import actions as monitoring
from audits.monitoring.actions import sources
from governance.trail.models import Event
from registry.models import ModelVersion, MonitoringBatch
from tests.audits.conftest import media_root  # noqa: F401 - a fixture the lake fixture uses
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.portal.conftest import signed_in
from tests.sources.conftest import admin_connection, pg_uri
from tests.sources.test_monitoring_sources import (  # noqa: F401 - lake is a fixture
    AFTER_MIDNIGHT,
    DAY,
    URL,
    assert_same_as_uploaded,
    batch_table,
    lake,
    load_days,
    uploaded_and_checked,
    write_day,
)

pytestmark = pytest.mark.usefixtures("unprotected_trail")


def _put(cast: Cast, version: ModelVersion, body: dict[str, Any]) -> Any:
    return cast.owner.client().put(URL.format(name=version.model.name, number=version.number), body, format="json")


def _days_taken(version: ModelVersion) -> list[str]:
    batches = MonitoringBatch.objects.filter(version=version, data__format="source").order_by("number")
    return [b.data.source_evidence["partition"]["value"] for b in batches]


# --- a repeated or changed PUT ----------------------------------------------------------------------------------


def test_a_repeated_put_keeps_the_place_and_a_changed_one_skips_days_taken(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    for offset in (2, 1, 0):
        write_day(lake, DAY - dt.timedelta(days=offset), batch_table(rows=slice(0, 300)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-04"}
    assert _put(cast, version, body).status_code == 200
    assert monitoring.pull_due_partitions(now=AFTER_MIDNIGHT)["taken"] == 2  # the 4th and the 5th
    events = Event.objects.filter(action="monitoring.source_configured").count()

    again = _put(cast, version, body)  # the same request, sent again (a retry, a re-applied manifest)

    assert again.status_code == 200, again.content
    assert again.json()["next_partition"] == "2026-12-06"  # kept: before, it went back to the 4th
    assert again.json()["taken"] == {"days": 2, "first": "2026-12-04", "last": "2026-12-05"}
    assert Event.objects.filter(action="monitoring.source_configured").count() == events  # nothing changed
    assert monitoring.pull_due_partitions(now=AFTER_MIDNIGHT) == {"taken": 0, "skipped": 0, "waiting": 0, "failed": 0}
    assert _days_taken(version) == ["2026-12-04", "2026-12-05"]

    slower = _put(cast, version, {**body, "lag_days": 2})  # only the lag changes: the place is kept too
    assert slower.json()["next_partition"] == "2026-12-06"
    assert Event.objects.filter(action="monitoring.source_configured").count() == events + 1

    earlier = _put(cast, version, {**body, "start": "2026-12-03"})  # another first day: read again from there

    assert earlier.json()["next_partition"] == "2026-12-03"
    assert earlier.json()["taken"]["days"] == 2  # what the answer says: these days are not taken again
    page = signed_in(cast.owner).get(f"/models/{version.model.name}/versions/{version.number}/monitoring/source")
    assert "Days taken from this source: 2 (2026-12-04 to 2026-12-05); none is taken again" in page.content.decode()
    counts = monitoring.pull_due_partitions(now=AFTER_MIDNIGHT)
    assert counts == {"taken": 1, "skipped": 2, "waiting": 0, "failed": 0}
    assert _days_taken(version) == ["2026-12-04", "2026-12-05", "2026-12-03"]  # the 3rd once, the others not again
    assert BatchSource.objects.get(version=version).next_partition == DAY + dt.timedelta(days=1)


def test_the_database_refuses_a_day_taken_twice(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200
    monitoring.pull_due_partitions(now=AFTER_MIDNIGHT)
    taken = TakenPartition.objects.get(version=version)
    second = MonitoringBatch.objects.create(
        version=version, number=99, data=taken.batch.data, rows=1, deployed=True, received_by=cast.owner.user
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        TakenPartition.objects.create(
            version=version,
            source_key=taken.source_key,
            uri=taken.uri,
            partition_column="date",
            day=DAY,
            batch=second,
        )
    # The control: the same day of another source is accepted.
    TakenPartition.objects.create(
        version=version, source_key="0" * 64, uri="elsewhere", partition_column="date", day=DAY, batch=second
    )


# --- two sweeps at once (PostgreSQL) ----------------------------------------------------------------------------


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view is read once per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _two_sweeps_at_once(version: ModelVersion) -> list[dict[str, int]]:
    """Two sweeps started while the test holds the version's row: both wait on a lock (in the protected path, to
    read the source; unprotected, to record a day both have read as next), then run once it is released."""
    outcomes: list[dict[str, int] | BaseException] = [{}, {}]

    def sweep(index: int) -> None:
        try:
            outcomes[index] = monitoring.pull_due_partitions(now=AFTER_MIDNIGHT)
        except BaseException as exc:
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    with transaction.atomic():
        ModelVersion.objects.select_for_update().get(pk=version.pk)
        for thread in threads:
            thread.start()
        for _ in range(6000):  # a budget of polls, not of time: both sweeps are blocked on a lock
            if _waiting_on_locks() >= 2:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the two sweeps never both waited")
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a sweep hung"
    counts = [o for o in outcomes if isinstance(o, dict)]
    assert len(counts) == 2, outcomes  # neither sweep raised
    return counts


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent sweeps need PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def two_days_due(postgres_only: None, cast: Cast, lake: Path) -> ModelVersion:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY - dt.timedelta(days=1), batch_table(rows=slice(0, 300)))
    write_day(lake, DAY, batch_table(rows=slice(300, 600)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-04"}
    assert _put(cast, version, body).status_code == 200
    return version


def _unlocked(source_id: int, version_id: int) -> BatchSource | None:
    """The sweep's read of its source without the locks (the path before they were taken): the control."""
    return BatchSource.objects.select_related("version__model", "configured_by").filter(pk=source_id).first()


def test_two_sweeps_at_once_take_each_day_once(two_days_due: ModelVersion) -> None:
    outcomes = _two_sweeps_at_once(two_days_due)

    assert sum(o["taken"] for o in outcomes) == 2, outcomes
    assert sum(o["failed"] for o in outcomes) == 0, outcomes  # the lock, not the constraint
    assert sorted(_days_taken(two_days_due)) == ["2026-12-04", "2026-12-05"]


def test_without_the_lock_the_constraint_refuses_the_second_take(
    two_days_due: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_locked_source", _unlocked)

    outcomes = _two_sweeps_at_once(two_days_due)

    assert sum(o["failed"] for o in outcomes) >= 1, outcomes  # both read the 4th as next
    assert sorted(_days_taken(two_days_due)).count("2026-12-04") == 1


@pytest.fixture
def without_the_constraint(two_days_due: ModelVersion) -> Iterator[None]:
    constraint = TakenPartition._meta.constraints[0]
    with connection.schema_editor() as editor:
        editor.remove_constraint(TakenPartition, constraint)
    yield
    TakenPartition.objects.all().delete()
    with connection.schema_editor() as editor:
        editor.add_constraint(TakenPartition, constraint)


@pytest.mark.usefixtures("without_the_constraint")
def test_the_control_without_lock_or_constraint_takes_a_day_twice(
    two_days_due: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_locked_source", _unlocked)

    _two_sweeps_at_once(two_days_due)

    assert sorted(_days_taken(two_days_due)).count("2026-12-04") == 2  # what the protections prevent


def test_two_puts_at_once_configure_one_source(postgres_only: None, cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    bodies = [
        {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": start}
        for start in ("2026-12-04", "2026-12-05")
    ]
    answers: list[Any] = [None, None]
    start = threading.Barrier(2, timeout=60)

    def put(index: int) -> None:
        try:
            start.wait()
            answers[index] = _put(cast, version, bodies[index]).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=put, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert answers == [200, 200]  # one waits for the other; neither is a 500 from a unique index
    assert BatchSource.objects.filter(version=version).count() == 1
    assert Event.objects.filter(action="monitoring.source_configured").count() == 2


# --- refused configurations ---------------------------------------------------------------------------------------


def _refused(cast: Cast, version: ModelVersion, body: Any, words: str, *, status: int = 422) -> None:
    before = (BatchSource.objects.count(), Event.objects.count())
    response = _put(cast, version, body)
    assert response.status_code == status, response.content
    assert words in response.content.decode(), response.content
    assert (BatchSource.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize(
    ("column_type", "words"),
    [
        ("timestamptz", "'scored_at' of postgresql://source/stamped has type timestamp with time zone"),
        ("timestamp", "'scored_at' of postgresql://source/stamped has type timestamp without time zone"),
        ("text", "'scored_at' of postgresql://source/stamped has type text"),
    ],
)
def test_a_partition_column_that_is_not_a_date_is_refused_naming_it(
    cast: Cast, lake: Path, source_db: str, column_type: str, words: str
) -> None:
    version = arrange.monitored_demo_version(cast)
    with admin_connection(source_db) as pg:
        pg.execute(f"DROP TABLE IF EXISTS stamped; CREATE TABLE stamped (x bigint, scored_at {column_type})")
        pg.execute("INSERT INTO stamped VALUES (1, '2026-12-05 10:00:00+00')")
    body = {"uri": pg_uri("table=stamped"), "partition_column": "scored_at", "start": "2026-12-05"}

    _refused(cast, version, body, words)
    _refused(cast, version, body, "must be of type date")


def test_a_date_partition_column_is_accepted(cast: Cast, lake: Path, source_db: str) -> None:  # the control
    version = arrange.monitored_demo_version(cast)
    with admin_connection(source_db) as pg:
        pg.execute("DROP TABLE IF EXISTS dated; CREATE TABLE dated (x bigint, scored_on date)")
    body = {"uri": pg_uri("table=dated"), "partition_column": "scored_on", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200


def test_folders_that_are_not_days_are_refused(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    (lake / "scores" / "date=20261205").mkdir(parents=True)
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05"}
    _refused(cast, version, body, "holds date=20261205 but no date=YYYY-MM-DD folder")


LONG = "x" * 2001


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"lag_days": 0}, "0 would read today's partition while it is still being written"),
        ({"lag_days": -1}, "lag_days is at least 1"),
        ({"lag_days": 367}, "366"),
        ({"lag_days": "1.5"}, "lag_days"),
        ({"lag_days": True}, "lag_days"),
        ({"lag_days": None}, "lag_days"),
        ({"start": "2026-02-30"}, "start"),
        ({"start": "0001-01-01"}, "start is a day from 1970-01-01"),
        ({"start": "9999-12-31"}, "a year ahead at most"),
        ({"start": 20261205}, "start"),
        ({"partition_column": 123}, "partition_column"),
        ({"partition_column": ["date"]}, "partition_column"),
        ({"partition_column": ""}, "partition_column"),
        ({"partition_column": "date\x00"}, "NUL character"),  # malformed JSON for the database: 400
        ({"uri": "parquet:///srv\x00/x"}, "NUL character"),
        ({"uri": LONG}, "uri"),
        ({"uri": None}, "uri"),
        ({"enabled": "maybe"}, "enabled"),
        ({"next_partition": "2026-12-01"}, "not recognised"),
        ({"uri": "parquet://../../etc"}, "uri"),
    ],
)
def test_a_hostile_or_malformed_put_is_a_clear_422_that_stores_nothing(
    cast: Cast, lake: Path, change: dict, words: str
) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05", **change}
    _refused(cast, version, body, words, status=400 if words == "NUL character" else 422)


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_a_body_that_is_not_an_object_is_refused(cast: Cast, lake: Path, body: Any) -> None:
    version = arrange.monitored_demo_version(cast)
    before = (BatchSource.objects.count(), Event.objects.count())
    response = _put(cast, version, body)
    assert response.status_code in (400, 422), response.content
    assert (BatchSource.objects.count(), Event.objects.count()) == before


def test_a_refused_change_keeps_the_configuration(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200
    before = BatchSource.objects.values().get(version=version)

    _refused(cast, version, {**body, "start": "2026-12-01", "lag_days": 0}, "lag_days")

    assert BatchSource.objects.values().get(version=version) == before


def test_the_portal_refuses_lag_days_0_under_its_field(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY, batch_table(rows=slice(0, 300)))
    page = f"/models/{version.model.name}/versions/{version.number}/monitoring/source"
    form = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05", "lag_days": 0}

    refused = signed_in(cast.owner).post(page, form)

    assert refused.status_code == 400
    assert "not while it is written" in refused.content.decode()
    assert not BatchSource.objects.filter(version=version).exists()


def test_the_docs_view_partitions_a_timestamp_by_its_day_in_utc(cast: Cast, lake: Path, source_db: str) -> None:
    """docs/monitoring.md's way round a timestamp column (a view with the day in UTC) is accepted as written."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text(encoding="utf-8")
    view = re.search(r"`(CREATE VIEW scores_by_day AS .*?)`", text, flags=re.S)
    assert view, "the page shows no view"
    version = arrange.monitored_demo_version(cast)
    with admin_connection(source_db) as pg:
        pg.execute("DROP VIEW IF EXISTS scores_by_day; DROP TABLE IF EXISTS scores CASCADE")
        pg.execute("CREATE TABLE scores (x bigint, scored_at timestamptz)")
        pg.execute("SET TIME ZONE 'America/Sao_Paulo'")  # the session's zone must not move a row's day
        pg.execute("INSERT INTO scores VALUES (1, '2026-12-05 22:30:00-03'), (2, '2026-12-05 00:30:00+00')")
        pg.execute(" ".join(view.group(1).split()))
        days = pg.execute("SELECT x, scored_on FROM scores_by_day ORDER BY x").fetchall()
    assert days == [(1, dt.date(2026, 12, 6)), (2, dt.date(2026, 12, 5))]  # 22:30 at UTC-3 is 01:30 UTC the 6th
    body = {"uri": pg_uri("table=scores_by_day"), "partition_column": "scored_on", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200
    _refused(cast, version, {**body, "uri": pg_uri("table=scores"), "partition_column": "scored_at"}, "timestamp")
    with admin_connection(source_db) as pg:  # the other tests' scores table has no view on it
        pg.execute("DROP TABLE scores CASCADE")


def test_the_migration_records_the_days_taken_before_it(cast: Cast, lake: Path) -> None:
    """audits 0006 records each day already taken (the first batch of a day taken twice), so a later PUT that
    starts again cannot take it a further time."""
    migration = importlib.import_module("audits.migrations.0006_partition_taken_once")
    version = arrange.monitored_demo_version(cast)
    write_day(lake, DAY - dt.timedelta(days=2), batch_table(rows=slice(600, 900)))
    write_day(lake, DAY - dt.timedelta(days=1), batch_table(rows=slice(0, 300)))
    write_day(lake, DAY, batch_table(rows=slice(300, 600)))
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-04"}
    assert _put(cast, version, body).status_code == 200
    monitoring.pull_due_partitions(now=AFTER_MIDNIGHT)
    first = MonitoringBatch.objects.get(version=version, number=1)
    TakenPartition.objects.all().delete()  # as before the migration, when a day could be taken twice:
    MonitoringBatch.objects.create(
        version=version, number=3, data=first.data, rows=first.rows, deployed=True, received_by=cast.owner.user
    )

    migration.record_taken_partitions(django_apps, None)

    taken = list(TakenPartition.objects.filter(version=version).values_list("day", "batch__number"))
    assert taken == [(DAY - dt.timedelta(days=1), 1), (DAY, 2)]
    assert _put(cast, version, {**body, "start": "2026-12-03"}).status_code == 200
    assert monitoring.pull_due_partitions(now=AFTER_MIDNIGHT) == {"taken": 1, "skipped": 2, "waiting": 0, "failed": 0}
