"""Spark's content digest is PostgreSQL's: the same rows give the same row count and digest on both engines.

The digest is defined once (``governance.data.sources.evidence``: sums of the signed 64-bit halves of
``md5(row::text)``); Spark builds PostgreSQL's row text itself. Checked on COMPAS and German credit as loaded in the
PostgreSQL tests, and on values that PostgreSQL's record syntax quotes or escapes, with NULLs, for every type the
Spark module says it writes as PostgreSQL does. Both engines are real (PostgreSQL on the machine, PySpark local).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from psycopg import sql

from governance.data.sources import evidence_of, parse_source
from governance.data.sources.spark import parse_spark_source, spark_evidence
from tests.sources import spark_conftest
from tests.sources.conftest import admin_connection, connections, pg_uri
from tests.sources.spark_conftest import save_table

spark_lake = spark_conftest.spark_lake  # the fixture
pytestmark = [
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

AWKWARD = pa.table(
    {
        "text": ["", "a,b", 'say "hi"', "back\\slash", "two words", "(x)", None, "tab\there", "ünïcödé", "plain"],
        "whole": pa.array([0, -1, 2**62, -(2**63), None, 7, 8, 9, 10, 11], type=pa.int64()),
        "small": pa.array([1, 2, None, -4, 5, 6, 7, 8, 9, 10], type=pa.int32()),
        "flag": [True, False, None, True, True, False, False, True, None, False],
        "day": [dt.date(2026, 12, 6), None, dt.date(1970, 1, 1), *[dt.date(2000, 2, 29)] * 7],
        "amount": pa.array(
            [Decimal("1.50"), Decimal("-0.01"), None, Decimal("12345678.90"), *[Decimal("0.00")] * 6],
            type=pa.decimal128(10, 2),
        ),
        "at": pa.array(
            [dt.datetime(2026, 12, 6, 10, 0, 0, 500000), dt.datetime(2026, 1, 1), None]
            + [dt.datetime(2026, 12, 6, 23, 59, 59, 123)] * 7,
            type=pa.timestamp("us", tz="UTC"),
        ),
        "blob": [b"\x00\x01\xff", b"", None, b"abc", *[b"z"] * 6],
    }
)
PG_TYPES = ("text", "bigint", "integer", "boolean", "date", "numeric(10,2)", "timestamptz", "bytea")


def _pg_table(database: str, name: str, table: pa.Table, types: tuple[str, ...]) -> None:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(field), sql.SQL(kind))
        for field, kind in zip(table.column_names, types, strict=True)
    )
    with admin_connection(database) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), columns))
        with connection.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
            for row in table.to_pylist():
                copy.write_row(list(row.values()))


def _both(name: str, entry: str) -> tuple[dict[str, Any], dict[str, Any]]:
    on_pg = evidence_of(parse_source(pg_uri(f"table={name}"), roots=[], connections=connections()))
    on_spark = parse_spark_source(f"spark://lake/risk.{name}", entries=[entry])
    assert on_spark is not None
    return on_pg, spark_evidence(on_spark)


@pytest.mark.parametrize("name", ["compas", "german"])
def test_the_digest_of_a_table_is_postgresqls(name: str, source_db: str, spark_lake: tuple[str, Any]) -> None:
    on_pg, on_spark = _both(name, spark_lake[0])

    assert (on_spark["rows"], on_spark["digest"]) == (on_pg["rows"], on_pg["digest"])
    assert on_spark["kind"] == "spark"
    assert [c["name"] for c in on_spark["columns"]] == [c["name"] for c in on_pg["columns"]]


def test_quoted_escaped_and_null_values_digest_as_on_postgresql(source_db: str, spark_lake: tuple[str, Any]) -> None:
    entry, session = spark_lake
    _pg_table(source_db, "awkward", AWKWARD, PG_TYPES)
    save_table(session, AWKWARD, "risk.awkward")
    assert [f.dataType.simpleString() for f in session.table("risk.awkward").schema.fields] == [
        "string", "bigint", "int", "boolean", "date", "decimal(10,2)", "timestamp", "binary",
    ]  # fmt: skip

    on_pg, on_spark = _both("awkward", entry)

    assert (on_spark["rows"], on_spark["digest"]) == (on_pg["rows"], on_pg["digest"]) == (10, on_pg["digest"])


def test_any_edited_value_changes_the_digest(spark_lake: tuple[str, Any]) -> None:
    entry, session = spark_lake
    rows = AWKWARD.to_pylist()
    digests = set()
    for column in ("text", "whole", "flag", "day", "amount", "at", "blob"):
        edited = [dict(row) for row in rows]
        edited[0][column], edited[1][column] = edited[1][column], edited[0][column]  # two values swapped in a column
        save_table(session, pa.Table.from_pylist(edited, schema=AWKWARD.schema), "risk.edited")
        source = parse_spark_source("spark://lake/risk.edited", entries=[entry])
        assert source is not None
        digests.add(spark_evidence(source)["digest"])
    save_table(session, AWKWARD, "risk.edited")
    source = parse_spark_source("spark://lake/risk.edited", entries=[entry])
    assert source is not None
    digests.add(spark_evidence(source)["digest"])
    assert len(digests) == 8  # seven edits and the original: all different
