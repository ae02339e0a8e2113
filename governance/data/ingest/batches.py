"""The batches a streaming profile reads (``ingest.streaming``): Arrow's streaming CSV reader with the types a pass
settled on, and a Parquet file's row groups in batches, each checked as the whole-table readers check them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.data.ingest.limits import IngestLimits
from governance.data.ingest.parquet_reader import _check_parquet_footer, _check_parquet_metadata

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_BATCH_ROWS = 64 * 1024


def csv_batches(
    path: Path,
    *,
    delimiter: str,
    markers: Sequence[str],
    text_columns: Sequence[str],
    column_types: dict[str, Any],
    block_size: int,
    seen: dict[str, pa.Schema],
) -> Iterator[pa.Table]:
    """The file's batches, read with ``column_types`` (the rest inferred from the first block); ``seen["schema"]`` is
    the reader's schema as soon as it is open."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    convert_options = pacsv.ConvertOptions(
        null_values=[*pacsv.ConvertOptions().null_values, *markers],
        strings_can_be_null=True,
        column_types={**{name: pa.string() for name in text_columns}, **column_types},
    )
    with pa.input_stream(str(path), compression=None) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=convert_options,
        )
        schema = seen["schema"] = reader.schema
        schema.names  # noqa: B018 - decoded (and refused when not UTF-8) only when asked
        empty = True
        for batch in reader:
            empty = False
            yield pa.Table.from_batches([batch], schema=schema)
        if empty:
            yield schema.empty_table()


def parquet_batches(path: Path, limits: IngestLimits) -> Iterator[pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_parquet_footer(path, limits)
    with pq.ParquetFile(str(path)) as parquet:
        _check_parquet_metadata(parquet.metadata, limits)
        schema = parquet.schema_arrow
        schema.names  # noqa: B018
        empty = True
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=False):
            batch.validate(full=True)
            empty = False
            yield pa.Table.from_batches([batch])
        if empty:
            yield schema.empty_table()


def inferred_schema(path: Path, *, delimiter: str, block_size: int) -> pa.Schema:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with pa.input_stream(str(path), compression=None) as stream:
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        ).schema
