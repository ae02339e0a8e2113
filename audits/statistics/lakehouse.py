"""Cells and rows of a Delta table, an Iceberg table (each at its pinned version) or Parquet objects in a bucket.

The table format's own reader (delta-rs, pyiceberg, pyarrow's S3 file system) lists the pinned version's data files
and hands them over as Arrow, one record batch at a time; DuckDB counts the cells over that stream (one GROUP BY,
one thread, bounded memory), so no DuckDB extension is needed and nothing is downloaded at run time. ``engine_for``
(``audits.statistics.engines``) builds this engine with its own names for the count column and the plain types, so
that its tables read exactly as the other engines'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from governance.data.sources import lakehouse, objectstore
from governance.data.sources.uris import Source, SourceError

_READERS = {lakehouse.DELTA: "delta-rs", lakehouse.ICEBERG: "pyiceberg", objectstore.S3: "pyarrow S3"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scanner(dataset: Any, columns: list[str]) -> Any:
    """The dataset's ``columns`` as a record batch reader that reads one file and one batch ahead at most (pyarrow's
    default reads several files ahead: memory that grows with the files' size, not the audit's needs)."""
    return dataset.scanner(columns=columns, batch_readahead=1, fragment_readahead=1, use_threads=False).to_reader()


def _numeric(duckdb_type: str) -> tuple[bool, bool]:
    """(numeric, floating) for a DuckDB column type, as the profile reads them."""
    floating = duckdb_type in {"FLOAT", "DOUBLE"}
    integer = duckdb_type in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    }
    return integer or floating, floating


@dataclass
class LakehouseEngine:
    """See the module docstring. ``count``: the name of the count column; ``finish``: the plain-types cast."""

    source: Source
    count: str
    finish: Callable[[Any], Any]
    memory_limit: str = "512MB"
    threads: int = 1

    @property
    def name(self) -> str:
        return f"duckdb ({_READERS[self.source.kind]})"

    def _stream(self, columns: Sequence[str] | None) -> tuple[Any, list[str]]:
        """The source's rows as a pyarrow dataset (or a record batch reader) and the columns of ``columns`` in it
        (None: all of them)."""
        source = self.source
        if isinstance(source, objectstore.StoreSource):
            import pyarrow.dataset as ds

            assert source.store is not None
            system, paths = objectstore.filesystem(source.store), objectstore.parquet_objects(source)
            schema = objectstore.store_schema(system, paths)
            present = self._present(schema, columns)
            return _scanner(ds.dataset(paths, schema=schema, filesystem=system, format="parquet"), present), present
        assert isinstance(source, lakehouse.LakeSource)
        if source.kind == lakehouse.DELTA:
            table = lakehouse.open_delta(source, version=source.pin)
            try:
                dataset = table.to_pyarrow_dataset()
            except Exception as exc:  # delta-rs refuses features its Arrow reader lacks (deletion vectors, say)
                raise SourceError(f"delta-rs cannot read version {source.pin} as Arrow: {exc}") from None
            present = self._present(dataset.schema, columns)
            return _scanner(dataset, present), present
        table = lakehouse.open_iceberg(source)
        snapshot = lakehouse.iceberg_snapshot(source, table)
        schema = table.schemas()[snapshot.schema_id] if snapshot.schema_id is not None else table.schema()
        present = self._present(schema.as_arrow(), columns)
        scan = table.scan(snapshot_id=source.pin, selected_fields=tuple(present) or ("*",))
        return scan.to_arrow_batch_reader(), present

    @staticmethod
    def _present(schema: Any, columns: Sequence[str] | None) -> list[str]:
        if columns is None:
            return list(schema.names)
        names = set(schema.names)
        return [c for c in dict.fromkeys(columns) if c in names]

    def _connection(self) -> Any:
        import duckdb

        return duckdb.connect(config={"memory_limit": self.memory_limit, "threads": str(self.threads)})

    def profile_reader(self) -> LakehouseProfileReader:
        """What ``audits.statistics.profile`` asks of an engine to compute a source's quality profile in SQL."""
        return LakehouseProfileReader(self)

    def cells(self, columns: Sequence[str]) -> Any:
        stream, present = self._stream(columns)
        listed = ", ".join(_quoted(c) for c in present)
        with self._connection() as connection:
            connection.register("source_rows", stream)
            query = f"SELECT {listed}, count(*) AS {self.count} FROM source_rows GROUP BY ALL"  # noqa: S608 - quoted names of existing columns
            return self.finish(connection.sql(query).to_arrow_table())

    def rows(self, columns: Sequence[str]) -> Any:
        stream, present = self._stream(columns)
        return self.finish(stream.read_all().select(present))  # a record batch reader, already projected


class LakehouseProfileReader:
    """The profile's statements (``audits.statistics.profile``: ``columns``, ``single``, ``query``, ``is_nan``,
    ``close``) run by DuckDB over the engine's Arrow stream, a fresh stream for each statement (a record batch reader
    is read once). Its DuckDB SQL is the Parquet reader's, over ``source_rows`` instead of ``read_parquet``."""

    def __init__(self, engine: LakehouseEngine) -> None:
        self.engine = engine
        self.connection = engine._connection()
        self._register()
        described = self.connection.sql("DESCRIBE SELECT * FROM source_rows").fetchall()
        self.columns = [(row[0], *_numeric(row[1])) for row in described]
        self.single = frozenset(row[0] for row in described if row[1] == "FLOAT")

    def _register(self) -> None:
        self.connection.register("source_rows", self.engine._stream(None)[0])

    def query(self, text: str, names: Sequence[str], params: Sequence[Any] = ()) -> list[tuple]:
        self._register()
        named = {f"c{i}": _quoted(name) for i, name in enumerate(names)}
        pieces = text.format(rel="source_rows", **named).split("%s")  # the values' places: $p0, $p1 ...
        statement = pieces[0] + "".join(f"$p{i}{piece}" for i, piece in enumerate(pieces[1:]))
        values = {f"p{i}": value for i, value in enumerate(params)}
        return self.connection.sql(statement, params=values or None).fetchall()

    def is_nan(self, column: str) -> str:
        # As the Parquet reader's (``profile.duckdb_is_nan``): not isnan, which DuckDB may answer from statistics.
        return f"(NOT isfinite({column}) AND NOT isinf({column}))"

    def close(self) -> None:
        self.connection.close()
