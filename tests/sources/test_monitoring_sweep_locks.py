"""The sweep asks a source whether a day has arrived before it takes any lock: the question goes to another database
(a connection, a type lookup, a presence query, which may wait there), and the version's row (on SQLite, the whole
database) must stay writable meanwhile, or approvals, uploads and the gate would wait on an outside database.

The source's table is held by the test (an exclusive lock in the source database) so the sweep's presence query
waits there for as long as the test needs; meanwhile the test writes the version's row from a connection of its own
without waiting (NOWAIT on PostgreSQL, a zero timeout on SQLite)."""

# ruff: noqa: F811 - `lake` is a fixture imported from test_monitoring_sources, named again by each test using it

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections

from audits.monitoring import actions as monitoring
from audits.monitoring.actions import sources
from registry.models import ModelVersion
from tests.audits.conftest import media_root  # noqa: F401 - a fixture the lake fixture uses
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.sources.conftest import admin_connection, pg_uri
from tests.sources.test_monitoring_sources import AFTER_MIDNIGHT, URL, lake  # noqa: F401 - lake is a fixture

pytestmark = pytest.mark.usefixtures("unprotected_trail")


def version_row_is_free(version: ModelVersion) -> bool:
    """Whether another connection can lock (PostgreSQL) or write (SQLite) the version's row without waiting."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        probe = sqlite3.connect(db["NAME"], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:  # database is locked
            return False
        finally:
            probe.close()
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], password=db.get("PASSWORD") or None
    ) as probe:
        try:
            probe.execute("SELECT 1 FROM registry_modelversion WHERE id = %s FOR UPDATE NOWAIT", [version.pk])
            return True
        except psycopg.errors.LockNotAvailable:
            return False


def sweep_while_the_source_waits(cast: Cast, source_db: str) -> tuple[bool, dict[str, int]]:
    """A version whose source's due day has not arrived; the sweep started while the test holds the source's table,
    so it waits inside its presence query. Returns (the version row free meanwhile, the sweep's counts)."""
    version = arrange.monitored_demo_version(cast)
    with admin_connection(source_db) as pg:
        pg.execute("DROP TABLE IF EXISTS dated; CREATE TABLE dated (x bigint, scored_on date)")
    body = {"uri": pg_uri("table=dated"), "partition_column": "scored_on", "start": "2026-12-05"}
    response = cast.owner.client().put(URL.format(name=version.model.name, number=version.number), body, format="json")
    assert response.status_code == 200, response.content
    outcome: list[object] = []

    def sweep() -> None:
        try:
            outcome.append(monitoring.pull_due_partitions(now=AFTER_MIDNIGHT))
        except BaseException as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=sweep)
    with admin_connection(source_db) as holder, holder.transaction():
        holder.execute("LOCK TABLE dated IN ACCESS EXCLUSIVE MODE")
        thread.start()
        with admin_connection(source_db) as watcher:
            for _ in range(6000):  # a budget of polls, not of time: the sweep's query waits on the table's lock
                watcher.execute("SELECT pg_stat_clear_snapshot()")
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).fetchone()
                if waiting and waiting[0] >= 1:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the sweep never reached its presence query")
        free = version_row_is_free(version)
    thread.join(timeout=300)
    assert not thread.is_alive(), "the sweep hung"
    (counts,) = outcome
    assert isinstance(counts, dict), counts
    return free, counts


def test_the_sweep_asks_the_source_without_holding_the_version(cast: Cast, lake: Path, source_db: str) -> None:
    free, counts = sweep_while_the_source_waits(cast, source_db)

    assert free
    assert counts == {"taken": 0, "skipped": 0, "waiting": 1, "failed": 0}


def test_the_control_asking_under_the_lock_holds_the_version(
    cast: Cast, lake: Path, source_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the question asked first (the path before), the sweep asks it holding the version's lock."""
    monkeypatch.setattr(sources, "_due_day_arrived", lambda *args: True)

    free, counts = sweep_while_the_source_waits(cast, source_db)

    assert not free
    assert counts["waiting"] == 1
