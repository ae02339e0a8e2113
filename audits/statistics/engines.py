"""Engines that count cells (one GROUP BY) or hand back rows: in memory (pyarrow), DuckDB over Parquet, PostgreSQL.

Every engine answers the same two questions, so the audit does not care where the data is:

- ``cells(columns)``: the distinct combinations of ``columns``' raw values and how many rows hold each (a pyarrow
  table with the extra column ``COUNT``). NULLs form their own combination, as in SQL's GROUP BY.
- ``rows(columns)``: the columns' values for every row (what a check that needs rows reads).

Values come back with their types (text as text, integers as integers), so that the evaluation reads them exactly
as it reads an uploaded file's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from audits.statistics.lakehouse import LakehouseEngine
from audits.statistics.spark_engine import SparkEngine
from governance.data.sources import Source, postgres
from governance.data.sources.evidence import parquet_files
from governance.data.sources.lakehouse import KINDS as LAKE_KINDS
from governance.data.sources.spark import SparkSource
from governance.data.sources.uris import PARQUET

COUNT = "__assay_rows"
# DuckDB's limit for one audit's GROUP BY and scans: it spills to disk past this instead of growing.
DUCKDB_MEMORY_LIMIT = "512MB"


def _plain_types(table: Any) -> Any:
    """Text as pyarrow ``string`` whatever the engine's flavour (string views, large strings), and columns of
    NULLs only as text, so that every engine's table reads like a file's."""
    import pyarrow as pa

    fields = []
    for column in table.schema:
        kind = column.type
        if pa.types.is_string_view(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
            kind = pa.string()
        fields.append(pa.field(column.name, kind))
    return table.cast(pa.schema(fields))


@dataclass
class ArrowEngine:
    """Cells and rows of a pyarrow table already in memory (pyarrow's hash aggregation)."""

    table: Any
    name: str = "in-memory (pyarrow)"

    def cells(self, columns: Sequence[str]) -> Any:
        present = [c for c in dict.fromkeys(columns) if c in self.table.column_names]
        grouped = self.table.select(present).group_by(present, use_threads=False).aggregate([([], "count_all")])
        return _plain_types(grouped.rename_columns([*present, COUNT]))

    def rows(self, columns: Sequence[str]) -> Any:
        return self.table.select([c for c in dict.fromkeys(columns) if c in self.table.column_names])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class DuckDBEngine:
    """Cells and rows of Parquet files, read by DuckDB where they lie (the files the evidence hashed, no others)."""

    source: Source
    name: str = "duckdb"
    threads: int = 1

    def _connection(self) -> Any:
        import duckdb

        return duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT, "threads": str(self.threads)})

    def _files(self) -> list[str]:
        assert self.source.path is not None
        return [str(path) for path in parquet_files(self.source.path)]

    def _present(self, connection: Any, columns: Sequence[str]) -> list[str]:
        described = connection.sql(
            "DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)", params={"files": self._files()}
        ).fetchall()
        names = {row[0] for row in described}
        return [c for c in dict.fromkeys(columns) if c in names]

    def cells(self, columns: Sequence[str]) -> Any:
        with self._connection() as connection:
            present = self._present(connection, columns)
            listed = ", ".join(_quoted(c) for c in present)
            query = (
                f"SELECT {listed}, count(*) AS {COUNT} FROM read_parquet($files, union_by_name = true) "  # noqa: S608 - quoted names of existing columns
                f"GROUP BY ALL"
            )
            return _plain_types(connection.sql(query, params={"files": self._files()}).to_arrow_table())

    def rows(self, columns: Sequence[str]) -> Any:
        with self._connection() as connection:
            listed = ", ".join(_quoted(c) for c in self._present(connection, columns))
            query = f"SELECT {listed} FROM read_parquet($files, union_by_name = true)"  # noqa: S608 - as above
            return _plain_types(connection.sql(query, params={"files": self._files()}).to_arrow_table())


@dataclass
class PostgresEngine:
    """Cells and rows of a table or query on a PostgreSQL server, counted by the server (read-only session)."""

    source: Source
    name: str = "postgresql"
    connection: Any = None  # a postgres.snapshot: the evidence and the counts read the same rows

    def _present(self, columns: Sequence[str]) -> list[str]:
        described, _ = postgres.run(
            self.source,
            sql.SQL("SELECT * FROM {} AS t LIMIT 0").format(postgres.relation(self.source)),
            connection=self.connection,
        )
        names = {column.name for column in described}
        return [c for c in dict.fromkeys(columns) if c in names]

    def _table(self, statement: Any, names: list[str]) -> Any:
        import pyarrow as pa

        _, found = postgres.run(self.source, statement, connection=self.connection)
        arrays = [pa.array([row[i] for row in found]) for i in range(len(names))]
        return _plain_types(pa.table(arrays, names=names))

    def cells(self, columns: Sequence[str]) -> Any:
        present = self._present(columns)
        listed = sql.SQL(", ").join(sql.Identifier(c) for c in present)
        statement = sql.SQL("SELECT {cols}, count(*) FROM {rel} AS t GROUP BY {cols}").format(
            cols=listed, rel=postgres.relation(self.source)
        )
        return self._table(statement, [*present, COUNT])

    def rows(self, columns: Sequence[str]) -> Any:
        present = self._present(columns)
        listed = sql.SQL(", ").join(sql.Identifier(c) for c in present)
        statement = sql.SQL("SELECT {cols} FROM {rel} AS t").format(cols=listed, rel=postgres.relation(self.source))
        return self._table(statement, present)


def engine_for(source: Source) -> DuckDBEngine | PostgresEngine | LakehouseEngine | SparkEngine:
    """The engine that reads ``source`` where it is: DuckDB for Parquet, the server itself for PostgreSQL, and
    DuckDB over the table format's Arrow stream for Delta, Iceberg and object-store Parquet; Spark for its tables."""
    if isinstance(source, SparkSource):
        return SparkEngine(source, count=COUNT, finish=_plain_types)
    if source.kind in LAKE_KINDS:
        return LakehouseEngine(source, count=COUNT, finish=_plain_types, memory_limit=DUCKDB_MEMORY_LIMIT)
    return DuckDBEngine(source) if source.kind == PARQUET else PostgresEngine(source)
