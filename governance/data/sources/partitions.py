"""One partition of a source, read where it is: a day's rows of a PostgreSQL table with a date column, or a day's
Hive-style folder of Parquet files (``.../scores/date=2026-12-05/``). Monitoring reads production batches this way.

A partition is the source (a table, or the folder that holds the ``column=value`` folders), the partition column and
its value. Nothing an operator or a caller types becomes SQL: the column must be a plain identifier (quoted as one),
the value is a date sent as a query parameter, and the table is the source's (already checked by ``parse_source``).

Its immutability evidence is the source's kind of evidence over the partition alone, with the partition named:
for Parquet the folder's files (path, size, SHA-256, rows); for PostgreSQL the relation's columns, the partition's
row count and the order-independent content digest of its rows, computed by the server with ``WHERE column = $1``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from governance.data.sources.evidence import DIGEST_METHOD, _parquet_evidence, written_parquet
from governance.data.sources.uris import PARQUET, POSTGRESQL, Source, SourceError

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_column(column: str) -> str:
    """``column`` if it is a plain identifier (letters, digits, underscores; at most 63), else SourceError."""
    if not _COLUMN.match(column or ""):
        raise SourceError(
            "partition_column must be a plain column name (letters, digits and underscores, at most 63 characters)."
        )
    return column


@dataclass(frozen=True)
class Partition:
    """The rows of ``source`` whose ``column`` is ``value``: a folder ``column=value`` under a Parquet source's
    folder, or ``WHERE column = value`` on a PostgreSQL table."""

    source: Source
    column: str
    value: dt.date

    @property
    def parquet(self) -> Source:
        """The partition's folder as a Parquet source of its own (a Parquet partition only)."""
        assert self.source.kind == PARQUET
        assert self.source.path is not None
        folder = self.source.path / f"{self.column}={self.value.isoformat()}"
        return Source(kind=PARQUET, uri=f"parquet://{folder}", path=folder)

    @property
    def uri(self) -> str:
        """What the batch's dataset version records: the folder's ``parquet://`` URI (a source of its own, which
        an audit can read), or the table's URI with ``?partition=column=value``, which ``parse_source`` refuses by
        name, so an audit of it says why instead of reading the whole table."""
        if self.source.kind == PARQUET:
            return self.parquet.uri
        return f"{self.source.location}?partition={self.column}={self.value.isoformat()}"

    @property
    def location(self) -> str:
        """Where the partition is, for people: the folder, or ``postgresql://<connection>/<table>#column=value``."""
        if self.source.kind == PARQUET:
            return self.parquet.location
        return f"{self.source.location}#{self.column}={self.value.isoformat()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "of": self.source.location,
            "column": self.column,
            "value": self.value.isoformat(),
            "location": self.location,
        }


def partition_of(source: Source, column: str, value: dt.date) -> Partition:
    """The partition of ``source`` (a Parquet folder or a PostgreSQL table, not a query) where ``column`` is
    ``value``. Raises SourceError."""
    check_column(column)
    if source.kind == POSTGRESQL and not source.table:
        raise SourceError("A partitioned source is a table (postgresql://<connection>/<schema.table>), not a query.")
    if source.kind == PARQUET and (source.path is None or not source.path.is_dir()):
        raise SourceError("A partitioned Parquet source is a folder holding <column>=<date> folders.")
    if source.kind not in (PARQUET, POSTGRESQL):
        raise SourceError(f"Partitions are read from Parquet folders and PostgreSQL tables, not {source.kind}.")
    return Partition(source=source, column=column, value=value)


def relation(partition: Partition) -> tuple[Any, tuple[Any, ...]]:
    """A PostgreSQL partition's rows as a FROM item and its parameters: ``(SELECT * FROM t WHERE col = %s)``."""
    from psycopg import sql  # noqa: PLC0415 - the driver loads only when a SQL source is read

    from governance.data.sources import postgres  # noqa: PLC0415 - likewise

    statement = sql.SQL("(SELECT * FROM {} AS p WHERE {} = %s)").format(
        postgres.relation(partition.source), sql.Identifier(partition.column)
    )
    return statement, (partition.value,)


def present(partition: Partition, *, connection: Any = None) -> bool:
    """Whether the partition has arrived: its folder holds a Parquet file, or the table has a row for the value."""
    if partition.source.kind == PARQUET:
        folder = partition.parquet.path
        assert folder is not None
        return folder.is_dir() and any(written_parquet(folder))  # not a writer's _temporary/ files
    from psycopg import sql  # noqa: PLC0415 - the driver loads only when a SQL source is read

    from governance.data.sources import postgres  # noqa: PLC0415 - likewise

    rel, params = relation(partition)
    _, rows = postgres.run(
        partition.source, sql.SQL("SELECT EXISTS (SELECT 1 FROM {} AS t)").format(rel), params, connection=connection
    )
    return bool(rows[0][0])


def partition_evidence(partition: Partition, *, connection: Any = None) -> dict[str, Any]:
    """The partition's immutability evidence (see the module docstring), naming the partition. Raises
    SourceError."""
    if partition.source.kind == PARQUET:
        return {**_parquet_evidence(partition.parquet), "partition": partition.as_json()}
    from psycopg import sql  # noqa: PLC0415 - the driver loads only when a SQL source is read

    from governance.data.sources import postgres  # noqa: PLC0415 - likewise

    rel, params = relation(partition)
    columns, _ = postgres.run(
        partition.source, sql.SQL("SELECT * FROM {} AS t LIMIT 0").format(rel), params, connection=connection
    )
    statement = sql.SQL(
        "SELECT count(*),"
        " coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)::text,"
        " coalesce(sum(('x' || substr(md5(t::text), 17, 16))::bit(64)::bigint::numeric), 0)::text"
        " FROM {} AS t"
    ).format(rel)
    _, rows = postgres.run(partition.source, statement, params, connection=connection)
    count, high, low = rows[0]
    return {
        "kind": POSTGRESQL,
        "columns": [{"name": column.name, "type_oid": column.type_code} for column in columns],
        "rows": int(count),
        "digest": f"{high}:{low}",
        "method": DIGEST_METHOD + f", over the rows WHERE {partition.column} = the partition's date",
        "partition": partition.as_json(),
    }
