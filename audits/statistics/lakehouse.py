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
from governance.data.sources.uris import Source

_READERS = {lakehouse.DELTA: "delta-rs", lakehouse.ICEBERG: "pyiceberg", objectstore.S3: "pyarrow S3"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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

    def _stream(self, columns: Sequence[str]) -> tuple[Any, list[str]]:
        """The source's rows as a pyarrow dataset (or a record batch reader) and the columns of ``columns`` in it."""
        source = self.source
        if isinstance(source, objectstore.StoreSource):
            import pyarrow.dataset as ds

            assert source.store is not None
            system, paths = objectstore.filesystem(source.store), objectstore.parquet_objects(source)
            schema = objectstore.store_schema(system, paths)
            return ds.dataset(paths, schema=schema, filesystem=system, format="parquet"), self._present(schema, columns)
        assert isinstance(source, lakehouse.LakeSource)
        if source.kind == lakehouse.DELTA:
            dataset = lakehouse.open_delta(source, version=source.pin).to_pyarrow_dataset()
            return dataset, self._present(dataset.schema, columns)
        table = lakehouse.open_iceberg(source)
        snapshot = lakehouse.iceberg_snapshot(source, table)
        schema = table.schemas()[snapshot.schema_id] if snapshot.schema_id is not None else table.schema()
        present = self._present(schema.as_arrow(), columns)
        scan = table.scan(snapshot_id=source.pin, selected_fields=tuple(present) or ("*",))
        return scan.to_arrow_batch_reader(), present

    @staticmethod
    def _present(schema: Any, columns: Sequence[str]) -> list[str]:
        names = set(schema.names)
        return [c for c in dict.fromkeys(columns) if c in names]

    def cells(self, columns: Sequence[str]) -> Any:
        import duckdb

        stream, present = self._stream(columns)
        listed = ", ".join(_quoted(c) for c in present)
        config: dict[str, Any] = {"memory_limit": self.memory_limit, "threads": str(self.threads)}
        with duckdb.connect(config=config) as connection:
            connection.register("source_rows", stream)
            query = f"SELECT {listed}, count(*) AS {self.count} FROM source_rows GROUP BY ALL"  # noqa: S608 - quoted names of existing columns
            return self.finish(connection.sql(query).to_arrow_table())

    def rows(self, columns: Sequence[str]) -> Any:
        stream, present = self._stream(columns)
        if hasattr(stream, "read_all"):  # a record batch reader (Iceberg): already projected
            return self.finish(stream.read_all().select(present))
        return self.finish(stream.to_table(columns=present))
