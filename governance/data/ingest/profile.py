"""Inspecting a stored CSV or Parquet file: its schema, row count, quality profile and subject ids
(:func:`inspect_file`), and reading it as an Arrow table as on upload (:func:`read_table`).

Definitions used by the profile (:func:`inspect_file`):

missing
    A value that is null after parsing. For CSV, a cell is null when it equals one of Arrow's default null markers
    (``""``, ``NA``, ``N/A``, ``NULL``, ``NaN``, ``null``, ``#N/A`` and the others in
    ``pyarrow.csv.ConvertOptions().null_values``), in any column including text columns, or when, after stripping
    surrounding whitespace, it equals one of the caller's ``missing_markers`` (the UCI Adult data uses ``"?"``).
    A floating-point NaN (which Parquet can store) also counts as missing, as in pandas ``isna``.
duplicate rows
    Rows identical across all columns to an earlier row; missing values are equal to each other (pandas
    ``DataFrame.duplicated().sum()``).
outliers
    For each numeric (integer or floating-point) column other than the label and subject-id columns: values below
    ``Q1 - 1.5 * IQR`` or above ``Q3 + 1.5 * IQR`` (Tukey's fences), where Q1 and Q3 are the 25th and 75th
    percentiles of the non-missing values by linear interpolation (the numpy and pandas default), IQR = Q3 - Q1.
class balance
    Counts of each non-missing value of the label column; the minority fraction is the smallest count divided by
    the number of labelled rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.data.ingest.csv_reader import _check_delimiter, _read_csv
from governance.data.ingest.findings import _count_and_fraction, _findings
from governance.data.ingest.limits import IngestError, IngestLimits
from governance.data.ingest.parquet_reader import _read_parquet

if TYPE_CHECKING:
    import pyarrow as pa


OUTLIER_METHOD = "tukey_iqr_1.5"


OUTLIER_IQR_FACTOR = 1.5


_MAX_LISTED_COLUMNS = 40


@dataclass(frozen=True)
class Ingested:
    """What :func:`inspect_file` learnt about a dataset file (every value is plain Python and JSON-serialisable)."""

    format: str  # "csv" or "parquet"
    row_count: int
    schema: list[dict[str, Any]]  # [{"name", "dtype" (Arrow type as text), "nullable" (a value is missing)}]
    profile: dict[str, Any]
    findings: list[dict[str, Any]]  # [{"kind", "column" ("" for the whole table), "severity", "measured", "message"}]
    subject_ids: frozenset[str] | None  # distinct non-missing subject ids, or None without a subject-id column


# --- inspection ---------------------------------------------------------------------------------------------------
def inspect_whole(
    path: Path,
    *,
    fmt: str,
    subject_id_column: str = "",
    label_column: str = "",
    delimiter: str = ",",
    missing_markers: Sequence[str] = (),
    limits: IngestLimits | None = None,
) -> Ingested:
    """:func:`inspect_file` reading the file as one table (files up to ``limits.stream_above_bytes``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if path.stat().st_size == 0:
        raise IngestError("The file is empty.")
    markers = sorted({marker.strip() for marker in missing_markers})
    if fmt == "csv":
        sep = _check_delimiter(delimiter)
        table = _read_csv(
            path,
            delimiter=sep,
            markers=markers,
            text_columns=[subject_id_column] if subject_id_column else [],
            limits=limits,
        )
    else:
        table = _read_parquet(path, limits=limits)
    names = table.column_names
    _check_column_names(names)
    _check_declared_column(subject_id_column, names, field="subject_id_column", what="subject-id")
    _check_declared_column(label_column, names, field="label_column", what="label")

    table = _markers_to_null(table, markers, reinfer=fmt == "csv", keep_text={subject_id_column})
    table = _nan_to_null(table)

    rows = table.num_rows
    subject_ids: frozenset[str] | None = None
    missing_ids = 0
    every_row_distinct = False  # a distinct subject id on every row: then no row repeats another
    if subject_id_column:
        raw_ids = table.column(subject_id_column)
        ids = pc.utf8_trim_whitespace(_as_text(raw_ids, column=subject_id_column))
        present = pc.fill_null(pc.not_equal(ids, ""), False)
        missing_ids = rows - (pc.sum(present).as_py() or 0)
        distinct_ids = pc.unique(pc.filter(ids, present))
        subject_ids = frozenset(distinct_ids.to_pylist())
        # Text (trimmed) and integers (as text) that differ were different values; floats were not (-0.0 is 0.0).
        exact = pa.types.is_string(raw_ids.type) or pa.types.is_large_string(raw_ids.type)
        every_row_distinct = (exact or pa.types.is_integer(raw_ids.type)) and len(distinct_ids) == rows
    schema = [
        {"name": field.name, "dtype": str(field.type), "nullable": table.column(i).null_count > 0}
        for i, field in enumerate(table.schema)
    ]
    missing = {name: _count_and_fraction(table.column(name).null_count, rows) for name in names}
    profile: dict[str, Any] = {
        "rows": rows,
        "columns": len(names),
        "missing": missing,
        "duplicate_rows": 0 if every_row_distinct else _duplicate_rows(table),
    }
    if label_column:
        profile["label"] = _label_balance(table.column(label_column), label_column)
    numeric = [
        field.name
        for field in table.schema
        if _is_numeric(field.type) and field.name not in (label_column, subject_id_column)
    ]
    profile["outliers"] = {
        name: stats for name in numeric if (stats := _tukey_outliers(table.column(name))) is not None
    }

    findings = _findings(profile, subject_id_column=subject_id_column, missing_ids=missing_ids)
    return Ingested(
        format=fmt, row_count=rows, schema=schema, profile=profile, findings=findings, subject_ids=subject_ids
    )


# --- reading --------------------------------------------------------------------------------------------------------
def read_table(
    path: Path,
    *,
    fmt: str,
    delimiter: str = ",",
    text_columns: Sequence[str] = (),
    limits: IngestLimits | None = None,
) -> pa.Table:
    """A stored CSV or Parquet file as an Arrow table, parsed as on upload (``text_columns`` kept as text, as
    written: only an empty cell is missing there), within the same ``limits``."""
    if fmt == "csv":
        sep = _check_delimiter(delimiter)
        return _read_csv(path, delimiter=sep, markers=[], text_columns=list(text_columns), verbatim=True, limits=limits)
    if fmt == "parquet":
        return _read_parquet(path, limits=limits)
    raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")


# --- checks on columns ----------------------------------------------------------------------------------------------
def _check_column_names(names: Sequence[str]) -> None:
    empty = [str(i + 1) for i, name in enumerate(names) if not name.strip()]
    if empty:
        which = "column " + empty[0] if len(empty) == 1 else "columns " + ", ".join(empty)
        raise IngestError(f"The header has an empty column name ({which}); every column needs a name.")
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i + 1)
    repeated = [
        f"{name!r} (columns {', '.join(map(str, where))})" for name, where in positions.items() if len(where) > 1
    ]
    if repeated:
        raise IngestError(f"The header repeats column names: {', '.join(repeated)}; each column needs a unique name.")


def _check_declared_column(column: str, names: Sequence[str], *, field: str, what: str) -> None:
    if not column or column in names:
        return
    hint = ""
    close = [name for name in names if name.strip().casefold() == column.strip().casefold()]
    if close:
        hint = f" Did you mean {close[0]!r}?"
    listed = ", ".join(repr(name) for name in names[:_MAX_LISTED_COLUMNS])
    if len(names) > _MAX_LISTED_COLUMNS:
        listed += f" and {len(names) - _MAX_LISTED_COLUMNS} more"
    raise IngestError(
        f"The {what} column {column!r} is not in the file.{hint} The file's columns are: {listed}.", field=field
    )


# --- normalising values ---------------------------------------------------------------------------------------------
def _markers_to_null(table: pa.Table, markers: Sequence[str], *, reinfer: bool, keep_text: set[str]) -> pa.Table:
    """Null every text value equal to a marker once whitespace is stripped.

    Arrow already nulled exact matches while parsing (so numeric columns keep their types); this catches padded
    ones such as ``" ?"`` in a file separated by ``", "``. With ``reinfer`` (CSV), a text column that only
    contained numbers besides its markers becomes int64 or double, as Arrow would have typed it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not markers:
        return table
    value_set = pa.array(markers, pa.string())
    for i, field in enumerate(table.schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        column = table.column(i)
        hit = pc.is_in(pc.utf8_trim_whitespace(column), value_set=value_set)
        if not pc.any(hit).as_py():
            continue
        column = pc.if_else(hit, pa.scalar(None, field.type), column)
        if reinfer and field.name not in keep_text:
            column = _reinfer_numeric(column)
        table = table.set_column(i, field.name, column)
    return table


def _reinfer_numeric(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column))])
    trimmed = pc.utf8_trim_whitespace(column)
    sample = trimmed.drop_null().slice(0, 100)  # a failing cast of a whole column is slow; most are text
    for target in (pa.int64(), pa.float64()):
        try:
            pc.cast(sample, target)
            return pc.cast(trimmed, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


def _nan_to_null(table: pa.Table) -> pa.Table:
    """Floating-point NaN counts as missing (pandas ``isna``), so make it null once for every measure."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if not pa.types.is_floating(field.type):
            continue
        column = table.column(i)
        nan = pc.is_nan(column)
        if pc.any(nan).as_py():
            table = table.set_column(i, field.name, pc.if_else(nan, pa.scalar(None, field.type), column))
    return table


def _as_text(values: pa.ChunkedArray, *, column: str) -> pa.ChunkedArray:
    """The column as strings (numbers as Arrow writes them: 42, 1.5), for subject ids and label classes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        raise IngestError(f"Column {column!r} holds bytes that are not UTF-8 text.", field="file")
    return pa.chunked_array([pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())])


def _is_numeric(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


# --- measures ---------------------------------------------------------------------------------------------------------
def _duplicate_rows(table: pa.Table) -> int:
    """Rows equal to an earlier row across all columns: rows minus distinct rows (Arrow's hash grouping treats
    nulls as equal, like pandas ``duplicated``). :func:`inspect_file` skips it when every row has a distinct subject
    id: equal rows are equal in every column, and grouping all of them is most of a large profile's time."""
    import pyarrow as pa

    if table.num_rows < 2:
        return 0
    keys = pa.table(
        [_grouping_key(column) for column in table.columns], names=[f"c{i}" for i in range(table.num_columns)]
    )
    distinct = keys.group_by(keys.column_names, use_threads=False).aggregate([]).num_rows
    return table.num_rows - int(distinct)


def _grouping_key(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column Arrow can group by whose values are equal exactly when the original values are equal."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))  # -0.0 + 0.0 is 0.0: pandas treats -0.0 == 0.0
    try:
        pa.table({"k": column.slice(0, 0)}).group_by(["k"], use_threads=False).aggregate([])
    except pa.ArrowNotImplementedError:
        # Nested values (lists, structs, maps from Parquet) cannot be grouped; their Python repr can. Rare and slow.
        return pa.chunked_array([pa.array([None if v is None else repr(v) for v in column.to_pylist()], pa.string())])
    return column


def _label_balance(values: pa.ChunkedArray, column: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(values.type):
        values = pc.add(values, pa.scalar(0.0, values.type))  # -0.0 and 0.0 are one class
    counted = pc.value_counts(values.drop_null())
    classes = _as_text(counted.field("values"), column=column).to_pylist() if len(counted) else []
    counts = counted.field("counts").to_pylist() if len(counted) else []
    pairs = sorted(zip(classes, counts, strict=True), key=lambda pair: (-pair[1], pair[0]))
    labelled = sum(counts)
    return {
        "column": column,
        "counts": dict(pairs),
        "minority_fraction": pairs[-1][1] / labelled if labelled else None,
    }


def _tukey_outliers(values: pa.ChunkedArray) -> dict[str, Any] | None:
    """Tukey's fences on one numeric column; None when it has no non-missing value or its quartiles are infinite."""
    import pyarrow as pa
    import pyarrow.compute as pc

    q1, q3 = pc.quantile(values, q=[0.25, 0.75], interpolation="linear").to_pylist()
    if q1 is None or q3 is None or not (math.isfinite(q1) and math.isfinite(q3)):
        return None
    q1, q3 = q1 + 0.0, q3 + 0.0  # -0.0 and 0.0 sort as equals: which one a selection lands on is arbitrary
    iqr = q3 - q1
    low, high = q1 - OUTLIER_IQR_FACTOR * iqr, q3 + OUTLIER_IQR_FACTOR * iqr
    as_double = pc.cast(values, pa.float64(), safe=False)  # int64 beyond 2**53 rounds, as in pandas
    outside = pc.or_(pc.less(as_double, low), pc.greater(as_double, high))
    count = pc.sum(outside).as_py() or 0
    return {"method": OUTLIER_METHOD, "q1": q1, "q3": q3, "low": low, "high": high, "count": int(count)}
