"""Real evaluation data for the source tests, written where sources live: Parquet files and PostgreSQL tables.

COMPAS (ProPublica's two-year recidivism file, tests/known_answer_data) with the decision COMPAS made (decile
score 5 or more: high risk) and UCI German Credit with a fixed decision rule (duration of at most 24 months:
good). Each gets a few empty protected values, so that unknown rows (6 RCNY 5-301) are exercised as well as small
groups (COMPAS has 18 Native American rows, 16 once blanked). PostgreSQL is the one on the machine (127.0.0.1:5432, user
postgres), in this helper's own database; nothing stands in for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from audits.evaluation import ColumnRoles
from governance.data.sources import Connection, parse_connections
from tests import KNOWN_ANSWER_DATA

PG_HOST, PG_PORT = "127.0.0.1", 5432
SOURCE_DB = os.environ.get("ASSAY_TEST_SOURCE_DB", "assay_h7_src")
CONNECTION = "source"  # the name the source database is declared under

COMPAS_ROLES = ColumnRoles(
    label="two_year_recid",
    protected=("sex", "race", "age_cat"),
    favourable="0",
    prediction="high_risk",
    unknown_values={"race": ("Other",)},
)
GERMAN_ROLES = ColumnRoles(
    label="credit_risk",
    protected=("personal_status", "age_group", "foreign_worker"),
    favourable="1",
    prediction="decision",
)


def _blank_every(column: Any, every: int) -> Any:
    """The column with every ``every``-th value empty (an unknown category)."""
    values = column.to_pylist()
    return pa.array([None if i % every == 0 else v for i, v in enumerate(values)], type=column.type)


def compas_table() -> pa.Table:
    raw = pcsv.read_csv(KNOWN_ANSWER_DATA / "compas-scores-two-years.csv")
    names = raw.column_names
    column = lambda name: raw.column(names.index(name))  # noqa: E731 - the file repeats some names; first wins
    return pa.table(
        {
            "two_year_recid": column("two_year_recid"),
            "high_risk": pc.cast(pc.greater_equal(column("decile_score"), 5), pa.int64()),
            "sex": column("sex"),
            "race": _blank_every(column("race"), 53),
            "age_cat": column("age_cat"),
        }
    )


def german_table() -> pa.Table:
    rows = [line.split() for line in (KNOWN_ANSWER_DATA / "german.data").read_text().splitlines() if line.strip()]
    age = [int(r[12]) for r in rows]
    return pa.table(
        {
            "credit_risk": [int(r[20]) for r in rows],
            "decision": [1 if int(r[1]) <= 24 else 2 for r in rows],
            "personal_status": _blank_every(pa.array([r[8] for r in rows]), 41),
            "age_group": ["<=25" if a <= 25 else ">25" for a in age],
            "foreign_worker": [r[19] for r in rows],
        }
    )


TABLES = {"compas": (compas_table, COMPAS_ROLES), "german": (german_table, GERMAN_ROLES)}


@pytest.fixture(scope="session")
def tables() -> dict[str, pa.Table]:
    return {name: make() for name, (make, _) in TABLES.items()}


def write_parquet(table: pa.Table, folder: Path, *, parts: int = 1) -> Path:
    """``table`` as ``parts`` Parquet files in ``folder`` (one file: the file's path; several: the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    if parts == 1:
        path = folder / "data.parquet"
        pq.write_table(table, path)
        return path
    size = -(-table.num_rows // parts)
    for part in range(parts):
        pq.write_table(table.slice(part * size, size), folder / f"part-{part:03d}.parquet")
    return folder


def admin_connection(dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=dbname, autocommit=True)


_PG_TYPES = {pa.int64(): "bigint", pa.string(): "text"}


def load_pg(table: pa.Table, name: str, *, database: str, order: list[int] | None = None) -> None:
    """``table`` as the PostgreSQL table ``name`` in the source database (its rows in ``order`` when given)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_PG_TYPES[f.type])) for f in table.schema
    )
    rows = table.to_pylist()
    if order is not None:
        rows = [rows[i] for i in order]
    with admin_connection(database) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), columns))
        with connection.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
            for row in rows:
                copy.write_row(list(row.values()))


@pytest.fixture(scope="session")
def source_db(tables: dict[str, pa.Table]) -> Iterator[str]:
    """A database of its own (one per test process: parallel workers, or a SQLite and a PostgreSQL run at once)
    with the COMPAS and German tables; dropped at the end."""
    name = source_db_name()
    try:
        with admin_connection() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {exc}")
    for table_name, table in tables.items():
        load_pg(table, table_name, database=name)
    yield name
    with admin_connection() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def source_db_name() -> str:
    """This test process's source database (see ``source_db``)."""
    return f"{SOURCE_DB}_{os.getpid()}"


def declaration(*, queries: bool = True, password_env: str = "") -> str:
    """The DATA_SOURCE_CONNECTIONS entry that declares this process's source database as ``CONNECTION``."""
    settings = [f"password_env={password_env}"] if password_env else []
    settings += ["queries=true"] if queries else []
    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{source_db_name()}"
    return f"{CONNECTION}={url}" + ("?" + "&".join(settings) if settings else "")


def connections(*, queries: bool = True, password_env: str = "") -> dict[str, Connection]:
    return parse_connections([declaration(queries=queries, password_env=password_env)])


def pg_uri(relation: str) -> str:
    """A source URI on the declared connection: ``table=name`` as a path, or ``query=...`` as the query."""
    kind, _, value = relation.partition("=")
    return f"postgresql://{CONNECTION}/{value}" if kind == "table" else f"postgresql://{CONNECTION}?{relation}"
