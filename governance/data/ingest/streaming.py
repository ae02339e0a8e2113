"""Profiling a large upload batch by batch, in bounded memory: the same schema, profile, findings and subject ids as
:func:`governance.data.ingest.profile.inspect_whole` reading the whole table (issue 25: a 1 GiB CSV read whole took
4.4 GiB of a web node's memory). :func:`inspect_file` hands a file over ``IngestLimits.stream_above_bytes`` here.

Each measure keeps only what it needs:

- **Column types.** Arrow's whole-file reader gives a column the first kind of its ladder (:data:`_LADDER`) that
  converts every value; its streaming reader infers from the first block only and fails on a later value that does
  not convert. On that failure the column is given the next kind of the ladder and the pass starts again: the walk
  Arrow makes, so the same type (tested kind by kind against the whole-file reader).
- **Missing counts, label classes, subject ids, the longest value per column**: summed per batch. The subject ids
  are a set of the distinct ids, so memory grows with the distinct subjects (as their index does), not with rows.
- **Duplicate rows**: rows are spilled into partitions by a hash of their grouping key, so equal rows share a
  partition; each partition is then grouped exactly as the whole table was.
- **Tukey's quartiles**: each numeric column's values are spilled to a file; the order statistics that linear
  interpolation needs are found by radix selection over it (four passes of 16 bits), and Arrow interpolates between
  them with the same formula it uses on the whole column, so q1 and q3 are the same floats.
- **Padded missing markers** that leave a text column numeric are decided after the pass, as the whole-table code
  decides them, and the pass runs again with that column cast.

Nothing here is approximate; what differs is only where the intermediate data lives (temporary files, removed at
the end).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from governance.data.ingest.batches import csv_batches, inferred_schema, parquet_batches
from governance.data.ingest.csv_reader import (
    _CSV_BLOCK_SIZE,
    _check_header_width,
    _check_quotes_closed,
    _check_separator,
    _csv_error,
    _sniff_header,
    _utf8_error,
)
from governance.data.ingest.findings import _count_and_fraction, _findings
from governance.data.ingest.limits import IngestError, IngestLimits
from governance.data.ingest.profile import (
    OUTLIER_IQR_FACTOR,
    OUTLIER_METHOD,
    Ingested,
    _as_text,
    _check_column_names,
    _check_declared_column,
    _grouping_key,
    _is_numeric,
    _nan_to_null,
)
from governance.data.ingest.spill import _chunks, _column_hash, _quantiles

if TYPE_CHECKING:
    import pyarrow as pa


# Arrow's message when a later block holds a value the column's type cannot take.
_CONVERSION = re.compile(r"In CSV column #(\d+): Row #-?\d+: CSV conversion error to ")

# Rows per spilled partition are bounded by the file's size over this (a partition is grouped in memory).
_PARTITION_BYTES = 16 << 20

# Arrow's streaming CSV reader reads up to 32 blocks ahead in a background thread whatever the consumer does: 256 MiB
# with the whole-table reader's 8 MiB blocks, 32 MiB with these (measured: a 256 MiB file peaked at 382 MiB RSS with
# 8 MiB blocks, 135 MiB with 1 MiB). A row longer than a block makes the pass start again with 8 MiB blocks.
_STREAM_BLOCK = 1 << 20


def _ladder() -> list[pa.DataType]:
    """Arrow's CSV type inference, in the order it loosens a column's kind (arrow/csv/inference_internal.h)."""
    import pyarrow as pa

    return [
        pa.null(),
        pa.int64(),
        pa.bool_(),
        pa.date32(),
        pa.time32("s"),
        pa.timestamp("s"),
        pa.timestamp("ns"),
        pa.timestamp("s", tz="UTC"),
        pa.timestamp("ns", tz="UTC"),
        pa.float64(),
        pa.string(),
        pa.binary(),
    ]


def _looser(current: pa.DataType) -> pa.DataType:
    ladder = _ladder()
    for i, kind in enumerate(ladder[:-1]):
        if current.equals(kind):
            return ladder[i + 1]
    raise IngestError(f"A column of type {current} could not be read as any type.")


class WholeFile(Exception):
    """A file the streaming reader cannot start on (a header with no line break after it): small by nature, so the
    whole-table reader reads it."""


@dataclass
class _Plan:
    """What a pass reads with: explicit types for loosened columns, and text columns to cast after nulling markers."""

    types: dict[str, Any] = field(default_factory=dict)
    block_size: int = 0  # Arrow's CSV block; grown to the whole-table reader's 8 MiB for a row longer than it
    recast: dict[str, Any] = field(default_factory=dict)  # column -> int64, float64 or null


@dataclass
class _Numeric:
    handle: BinaryIO
    dtype: Any
    count: int = 0


class _Pass:
    """One reading of the file: every measure's accumulator."""

    def __init__(self, workdir: Path, *, size: int, subject_id_column: str, label_column: str, fmt: str) -> None:
        self.workdir = workdir
        self.size = size
        self.subject_id_column = subject_id_column
        self.label_column = label_column
        self.fmt = fmt
        self.schema: pa.Schema | None = None
        self.rows = 0
        self.nulls: list[int] = []
        self.longest: dict[str, tuple[int, int]] = {}  # column -> (bytes, 1-based row of its first occurrence)
        self.ids: set[str] = set()
        self.missing_ids = 0
        self.labels: dict[Any, int] = {}
        self.numeric: dict[str, _Numeric] = {}
        self.hit: dict[str, bool] = {}
        self.castable: dict[str, set[str]] = {}  # text column -> the numeric types all its values cast to so far
        self.last_row: pa.Table | None = None
        self.partitions = max(1, math.ceil(size / _PARTITION_BYTES))
        self.writers: dict[int, Any] = {}

    # --- per batch -------------------------------------------------------------------------------------------------
    def add(self, table: pa.Table, *, markers: Sequence[str], plan: _Plan) -> None:
        if self.schema is None:
            self.nulls = [0] * table.num_columns
        self._cell_sizes(table)
        if table.num_rows:
            self.last_row = table.slice(table.num_rows - 1)  # as parsed: the unclosed-quote check reads it
        if len(set(table.column_names)) < table.num_columns:
            # Refused after the pass (as the whole-table reader refuses it after parsing); nothing to measure.
            self.schema = self.schema or table.schema
            self.rows += table.num_rows
            return
        table = self._markers(table, markers, plan)
        table = _nan_to_null(table)
        if self.schema is None:
            self.schema = table.schema
        elif not table.schema.equals(self.schema):
            table = table.cast(self.schema)  # a column all null in this batch: the reader typed it alike anyway
        n = table.num_rows
        if n == 0:
            return
        for i in range(table.num_columns):
            self.nulls[i] += table.column(i).null_count
        if self.subject_id_column in table.column_names:  # a missing one is refused after the pass
            self._subjects(table.column(self.subject_id_column))
        if self.label_column in table.column_names:
            self._labels(table.column(self.label_column))
        for f in table.schema:
            if _is_numeric(f.type) and f.name not in (self.label_column, self.subject_id_column):
                self._spill_numeric(f.name, table.column(f.name))
        self._spill_rows(table)
        self.rows += n

    def _cell_sizes(self, table: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        for f in table.schema:
            kind = f.type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
                continue
            lengths = pc.binary_length(table.column(f.name))
            longest = pc.max(lengths).as_py()
            if longest is not None and longest > self.longest.get(f.name, (-1, 0))[0]:
                self.longest[f.name] = (longest, self.rows + pc.index(lengths, longest).as_py() + 1)

    def _markers(self, table: pa.Table, markers: Sequence[str], plan: _Plan) -> pa.Table:
        """Null padded markers (as ``profile._markers_to_null``) and note, per text column, whether every value
        left would cast to int64 or float64, which decides after the pass whether the column becomes numeric."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not markers:
            return table
        value_set = pa.array(markers, pa.string())
        for i, f in enumerate(table.schema):
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                continue
            column = table.column(i)
            hit = pc.is_in(pc.utf8_trim_whitespace(column), value_set=value_set)
            if pc.any(hit).as_py():
                self.hit[f.name] = True
                column = pc.if_else(hit, pa.scalar(None, f.type), column)
            if self.fmt == "csv" and f.name != self.subject_id_column:
                trimmed = pc.utf8_trim_whitespace(column).drop_null()
                possible = self.castable.setdefault(f.name, {"int64", "float64"})
                for target in list(possible):
                    try:
                        pc.cast(trimmed, getattr(pa, target)())
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        possible.discard(target)
            if f.name in plan.recast:
                target = plan.recast[f.name]
                column = (
                    pa.chunked_array([pa.nulls(len(column))])
                    if pa.types.is_null(target)
                    else pc.cast(pc.utf8_trim_whitespace(column), target)
                )
            table = table.set_column(i, f.name, column)
        return table

    def recasts(self) -> dict[str, Any]:
        """Text columns the whole-table code would make numeric (``profile._reinfer_numeric``)."""
        import pyarrow as pa

        decided: dict[str, Any] = {}
        assert self.schema is not None
        for i, f in enumerate(self.schema):
            if not self.hit.get(f.name) or f.name not in self.castable:
                continue
            if self.nulls[i] == self.rows:
                decided[f.name] = pa.null()
            elif "int64" in self.castable[f.name]:
                decided[f.name] = pa.int64()
            elif "float64" in self.castable[f.name]:
                decided[f.name] = pa.float64()
        return decided

    def _subjects(self, raw: pa.ChunkedArray) -> None:
        import pyarrow.compute as pc

        ids = pc.utf8_trim_whitespace(_as_text(raw, column=self.subject_id_column))
        present = pc.fill_null(pc.not_equal(ids, ""), False)
        self.missing_ids += len(ids) - (pc.sum(present).as_py() or 0)
        self.ids.update(pc.unique(pc.filter(ids, present)).to_pylist())

    def _labels(self, values: pa.ChunkedArray) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_floating(values.type):
            values = pc.add(values, pa.scalar(0.0, values.type))
        counted = pc.value_counts(values.drop_null())
        for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True):
            self.labels[value] = self.labels.get(value, 0) + count

    def _spill_numeric(self, name: str, column: pa.ChunkedArray) -> None:
        values = column.drop_null().to_numpy()
        spill = self.numeric.get(name)
        if spill is None:
            handle = (self.workdir / f"numeric-{len(self.numeric)}.bin").open("wb")
            spill = self.numeric[name] = _Numeric(handle=handle, dtype=values.dtype)
        spill.handle.write(np.ascontiguousarray(values, dtype=spill.dtype).tobytes())
        spill.count += len(values)

    def _spill_rows(self, table: pa.Table) -> None:
        """Write each row's grouping key to the partition its hash picks (equal rows: equal keys: one partition)."""
        import pyarrow as pa
        from pyarrow import ipc

        keys = pa.table(
            [_grouping_key(column) for column in table.columns], names=[f"c{i}" for i in range(table.num_columns)]
        )
        if self.partitions == 1:
            parts = np.zeros(keys.num_rows, dtype=np.int64)
        else:
            row_hash = np.zeros(keys.num_rows, dtype=np.uint64)
            for column in keys.columns:
                row_hash = (row_hash * np.uint64(0x100000001B3)) ^ _column_hash(column)
            row_hash ^= row_hash >> np.uint64(29)
            parts = (row_hash % np.uint64(self.partitions)).astype(np.int64)
        order = np.argsort(parts, kind="stable")
        counts = np.bincount(parts, minlength=self.partitions)
        ordered = keys.take(pa.array(order))
        start = 0
        for part, count in enumerate(counts.tolist()):
            if count:
                writer = self.writers.get(part)
                if writer is None:
                    sink = pa.OSFile(str(self.workdir / f"rows-{part}.arrow"), "wb")
                    writer = self.writers[part] = (ipc.new_stream(sink, keys.schema), sink)
                writer[0].write_table(ordered.slice(start, count))
            start += count

    # --- after the pass --------------------------------------------------------------------------------------------
    def close(self) -> None:
        for spill in self.numeric.values():
            spill.handle.close()
        for writer, sink in self.writers.values():
            writer.close()
            sink.close()
        self.writers = {}

    def duplicate_rows(self) -> int:
        import pyarrow as pa
        from pyarrow import ipc

        if self.rows < 2:
            return 0
        distinct = 0
        for path in sorted(self.workdir.glob("rows-*.arrow")):
            with pa.OSFile(str(path), "rb") as source:
                keys = ipc.open_stream(source).read_all()
            distinct += keys.group_by(keys.column_names, use_threads=False).aggregate([]).num_rows
            del keys
        return self.rows - distinct

    def tukey(self, name: str) -> dict[str, Any] | None:
        spill = self.numeric[name]
        path = self.workdir / f"numeric-{list(self.numeric).index(name)}.bin"
        q1, q3 = _quantiles(path, spill.dtype, spill.count, self.schema.field(name).type, (0.25, 0.75))  # type: ignore[union-attr]
        if q1 is None or q3 is None or not (math.isfinite(q1) and math.isfinite(q3)):
            return None
        q1, q3 = q1 + 0.0, q3 + 0.0  # -0.0 and 0.0 sort as equals: which one a selection lands on is arbitrary
        iqr = q3 - q1
        low, high = q1 - OUTLIER_IQR_FACTOR * iqr, q3 + OUTLIER_IQR_FACTOR * iqr
        count = 0
        for chunk in _chunks(path, spill.dtype):
            as_double = chunk.astype(np.float64)  # int64 beyond 2**53 rounds, as Arrow's unsafe cast does
            count += int(np.count_nonzero((as_double < low) | (as_double > high)))
        return {"method": OUTLIER_METHOD, "q1": q1, "q3": q3, "low": low, "high": high, "count": count}


# --- the passes ---------------------------------------------------------------------------------------------------
def inspect_streaming(
    path: Path,
    *,
    fmt: str,
    subject_id_column: str,
    label_column: str,
    delimiter: str,
    markers: Sequence[str],
    limits: IngestLimits,
    block_size: int = 0,
) -> Ingested:
    """:func:`inspect_file`'s result, read batch by batch (see the module docstring). ``block_size`` is Arrow's CSV
    block (default :data:`_STREAM_BLOCK`; tests make it small to cross many block boundaries in a small file)."""
    if fmt == "csv":
        header = _sniff_header(path)
        _check_separator(header, delimiter)
        _check_header_width(path, delimiter=delimiter, limits=limits)
    workroot = Path(tempfile.mkdtemp(prefix="assay-ingest-"))
    try:
        plan = _Plan(block_size=block_size or _STREAM_BLOCK)
        attempts = 0
        while True:
            attempts += 1
            workdir = workroot / f"pass-{attempts}"
            workdir.mkdir()
            progress = _Pass(
                workdir,
                size=path.stat().st_size,
                subject_id_column=subject_id_column,
                label_column=label_column,
                fmt=fmt,
            )
            try:
                loosened = _run(
                    progress,
                    path,
                    fmt=fmt,
                    delimiter=delimiter,
                    markers=markers,
                    plan=plan,
                    limits=limits,
                    subject_id_column=subject_id_column,
                )
            finally:
                progress.close()
            if loosened:
                shutil.rmtree(workdir)
                continue
            recast = progress.recasts()
            if recast and not plan.recast:
                plan.recast = recast
                shutil.rmtree(workdir)
                continue
            break
        schema = progress.schema
        assert schema is not None
        _after_pass_checks(progress, path, fmt=fmt, delimiter=delimiter, limits=limits)
        names = schema.names
        _check_column_names(names)
        _check_declared_column(subject_id_column, names, field="subject_id_column", what="subject-id")
        _check_declared_column(label_column, names, field="label_column", what="label")
        return _result(progress, fmt=fmt)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


def _run(
    progress: _Pass,
    path: Path,
    *,
    fmt: str,
    delimiter: str,
    markers: Sequence[str],
    plan: _Plan,
    limits: IngestLimits,
    subject_id_column: str,
) -> bool:
    """Read the file once into ``progress``; True when a column had to be loosened (the pass must start again)."""
    import pyarrow as pa

    if fmt == "parquet":
        try:
            for table in parquet_batches(path, limits):
                progress.add(table, markers=markers, plan=plan)
        except (pa.ArrowException, OSError, ValueError) as exc:
            detail = re.sub(r"^Could not open Parquet input source '[^']*': ", "", str(exc).strip())
            detail = detail.replace(str(path), "<file>").splitlines()[0] if detail else type(exc).__name__
            raise IngestError(f"The Parquet file is corrupt or incomplete and cannot be read ({detail}).") from None
        if progress.schema is not None and len(progress.schema) == 0:
            raise IngestError("The Parquet file has no columns.")
        return False
    text_columns = [subject_id_column] if subject_id_column else []
    seen: dict[str, pa.Schema] = {}
    batches = csv_batches(
        path,
        delimiter=delimiter,
        markers=markers,
        text_columns=text_columns,
        column_types=plan.types,
        block_size=plan.block_size,
        seen=seen,
    )
    try:
        for table in batches:
            progress.add(table, markers=markers, plan=plan)
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except pa.ArrowInvalid as exc:
        conversion = _CONVERSION.search(str(exc))
        if conversion:
            # Failing in the first block (opening the reader) means a column typed by an earlier loosening: its
            # name comes from a reader that infers every type (inference itself never fails).
            schema = seen.get("schema") or inferred_schema(path, delimiter=delimiter, block_size=plan.block_size)
            names = schema.names
            name = names[int(conversion.group(1))]
            if name not in text_columns:
                current = plan.types[name] if name in plan.types else seen["schema"].field(name).type
                plan.types[name] = _looser(current)
                return True
        if "straddling object" in str(exc) and plan.block_size < _CSV_BLOCK_SIZE:
            plan.block_size = _CSV_BLOCK_SIZE  # a row longer than a small block: read as the whole-table reader does
            return True
        if "Empty CSV file or block" in str(exc):
            raise WholeFile from None
        raise _csv_error(exc, path=path) from None
    return False


def _after_pass_checks(progress: _Pass, path: Path, *, fmt: str, delimiter: str, limits: IngestLimits) -> None:
    """The whole-table reader's checks after parsing, in its order."""
    import pyarrow as pa

    schema = progress.schema
    assert schema is not None
    if fmt == "csv":
        if len(schema) == 1:
            _check_separator(schema.names[0], delimiter)
        undecodable = [f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
        if undecodable:
            raise _utf8_error(path, columns=undecodable)
        if progress.last_row is not None:
            _check_quotes_closed(path, progress.last_row, delimiter=delimiter)
    for f in schema:
        longest, row = progress.longest.get(f.name, (-1, 0))
        if longest > limits.max_cell_bytes:
            raise IngestError(
                f"Column {f.name!r} holds a value of {longest:,} bytes (row {row}); Assay accepts values of at "
                f"most {limits.max_cell_bytes:,} bytes (DATASET_MAX_CELL_BYTES)."
            )


def _result(progress: _Pass, *, fmt: str) -> Ingested:
    import pyarrow as pa

    schema = progress.schema
    assert schema is not None
    rows = progress.rows
    names = schema.names
    subject_ids: frozenset[str] | None = None
    every_row_distinct = False
    if progress.subject_id_column:
        subject_ids = frozenset(progress.ids)
        kind = schema.field(progress.subject_id_column).type
        exact = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        every_row_distinct = (exact or pa.types.is_integer(kind)) and len(subject_ids) == rows
    profile: dict[str, Any] = {
        "rows": rows,
        "columns": len(names),
        "missing": {name: _count_and_fraction(progress.nulls[i], rows) for i, name in enumerate(names)},
        "duplicate_rows": 0 if every_row_distinct else progress.duplicate_rows(),
    }
    if progress.label_column:
        kind = schema.field(progress.label_column).type
        values = list(progress.labels)
        classes = _as_text(pa.chunked_array([pa.array(values, type=kind)]), column=progress.label_column).to_pylist()
        counts = [progress.labels[value] for value in values]
        pairs = sorted(zip(classes, counts, strict=True), key=lambda pair: (-pair[1], pair[0]))
        labelled = sum(counts)
        profile["label"] = {
            "column": progress.label_column,
            "counts": dict(pairs),
            "minority_fraction": pairs[-1][1] / labelled if labelled else None,
        }
    profile["outliers"] = {name: stats for name in progress.numeric if (stats := progress.tukey(name)) is not None}
    findings = _findings(profile, subject_id_column=progress.subject_id_column, missing_ids=progress.missing_ids)
    return Ingested(
        format=fmt,
        row_count=rows,
        schema=[
            {"name": f.name, "dtype": str(f.type), "nullable": progress.nulls[i] > 0} for i, f in enumerate(schema)
        ],
        profile=profile,
        findings=findings,
        subject_ids=subject_ids,
    )
