""":func:`inspect_file`: the one entry point that profiles a stored dataset file, whole or batch by batch by size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from governance.data.ingest import streaming
from governance.data.ingest.csv_reader import _check_delimiter
from governance.data.ingest.limits import IngestError, IngestLimits
from governance.data.ingest.profile import Ingested, inspect_whole


def inspect_file(
    path: Path,
    *,
    fmt: str,
    subject_id_column: str = "",
    label_column: str = "",
    delimiter: str = ",",
    missing_markers: Sequence[str] = (),
    limits: IngestLimits | None = None,
) -> Ingested:
    """Parse a stored CSV or Parquet file and return its schema, row count, quality profile and findings.

    :param path: the stored file (already size-checked and hashed with :func:`copy_and_hash`).
    :param fmt: ``"csv"`` or ``"parquet"`` (see :func:`detect_format`).
    :param subject_id_column: column that identifies data subjects; its distinct non-missing values, as strings
        with surrounding whitespace stripped, become ``Ingested.subject_ids``. In a CSV file it is read as text, so
        ids such as ``007`` keep their leading zeros. Blank ids count as missing.
    :param label_column: column whose class balance is profiled.
    :param delimiter: CSV field separator, one character (the two characters ``\\t`` are accepted for a tab).
    :param missing_markers: extra CSV/text values that mean "missing", compared after stripping whitespace.
    :param limits: how many columns and how long a value the file may have, and above which size it is read batch
        by batch (default: the configured ones).
    :raises IngestError: the file or one of these settings cannot be accepted (see ``profile``'s docstring).

    The profile is ``{"rows", "columns", "missing": {column: {"count", "fraction"}}, "duplicate_rows",
    "label": {"column", "counts": {value: count}, "minority_fraction"}`` (with a label column only)
    ``, "outliers": {column: {"method", "q1", "q3", "low", "high", "count"}}}``; definitions in ``profile``'s
    docstring. A fraction of an empty table is 0.0. A file over ``limits.stream_above_bytes`` is read batch by batch
    (``streaming``), with the same result.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if path.stat().st_size == 0:
        raise IngestError("The file is empty.")
    limits = limits or IngestLimits.configured()
    if path.stat().st_size > limits.stream_above_bytes:
        try:
            return streaming.inspect_streaming(
                path,
                fmt=fmt,
                subject_id_column=subject_id_column,
                label_column=label_column,
                delimiter=_check_delimiter(delimiter) if fmt == "csv" else delimiter,
                markers=sorted({marker.strip() for marker in missing_markers}),
                limits=limits,
            )
        except streaming.WholeFile:
            pass  # a header without a line break after it: a file that small is read whole
    return inspect_whole(
        path,
        fmt=fmt,
        subject_id_column=subject_id_column,
        label_column=label_column,
        delimiter=delimiter,
        missing_markers=missing_markers,
        limits=limits,
    )
