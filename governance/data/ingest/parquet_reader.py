"""Reading a Parquet file with Arrow, once its footer and metadata are within the limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.data.ingest.limits import IngestError, IngestLimits, _check_cell_sizes, _too_many_columns

if TYPE_CHECKING:
    import pyarrow as pa


def _check_parquet_footer(path: Path, limits: IngestLimits) -> None:
    """Refuse a Parquet file whose metadata alone is larger than a table of the allowed width needs, before it is
    parsed (Arrow builds objects for every column of every row group it describes)."""
    size = path.stat().st_size
    if size < 12:
        return  # too short to be Parquet: the reader says so
    with path.open("rb") as f:
        f.seek(size - 8)
        footer = int.from_bytes(f.read(4), "little")
    allowed = 16 * 1024 * 1024 + 8 * 1024 * limits.max_columns
    if footer > allowed:
        raise IngestError(
            f"The Parquet file's metadata is {footer:,} bytes, more than a table of at most {limits.max_columns:,} "
            "columns (DATASET_MAX_COLUMNS) needs. Write it with fewer columns or fewer row groups."
        )


def _check_parquet_metadata(metadata: Any, limits: IngestLimits) -> None:
    """Refuse a Parquet file with too many columns, or that would unpack to more than ``limits`` allow, from its
    metadata, before a column is read."""
    if metadata.num_columns > limits.max_columns:
        raise _too_many_columns(f"{metadata.num_columns:,}", limits)
    unpacked = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        chunks = sum(group.column(j).total_uncompressed_size for j in range(group.num_columns))
        unpacked += max(group.total_byte_size, chunks)
    if unpacked > limits.max_table_bytes:
        raise IngestError(
            f"The Parquet file would unpack to {unpacked:,} bytes, above Assay's limit of {limits.max_table_bytes:,} "
            "(DATASET_MAX_BYTES). Register larger data by external_uri."
        )


def _read_parquet(path: Path, *, limits: IngestLimits | None = None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    limits = limits or IngestLimits.configured()
    _check_parquet_footer(path, limits)
    try:
        with pq.ParquetFile(str(path)) as parquet:
            _check_parquet_metadata(parquet.metadata, limits)
            table = parquet.read(use_threads=False)
        # Parquet readers do not check that text is UTF-8 or that offsets are sane; a damaged file would fail later.
        table.validate(full=True)
        table.column_names  # noqa: B018 - decoded (and refused when not UTF-8) only when asked
    except (pa.ArrowException, OSError, ValueError) as exc:  # ValueError: names in the metadata are not UTF-8
        detail = re.sub(r"^Could not open Parquet input source '[^']*': ", "", str(exc).strip())
        detail = detail.replace(str(path), "<file>").splitlines()[0] if detail else type(exc).__name__
        raise IngestError(f"The Parquet file is corrupt or incomplete and cannot be read ({detail}).") from None
    if table.num_columns == 0:
        raise IngestError("The Parquet file has no columns.")
    _check_cell_sizes(table, limits)
    return table
