"""Ingest an uploaded dataset file (CSV or Parquet): hash it while streaming, then infer its schema, count its rows,
profile its data quality and collect the distinct values of its subject-id column.

Pure and framework-free (no Django). pyarrow is imported inside the functions that parse, so the web process and
the CLI do not pay for it at start-up; hashing and format detection need only the standard library.

Every problem with the file itself is an :class:`IngestError` whose text is meant for the person who uploaded it:
it names the row, column or setting at fault and what was expected. Messages avoid quoting cell values, because a
row may hold personal data and messages end up in logs.

One module per concern: ``limits`` (the refusal, the limits and the settings they come from), ``files`` (hashing and
format detection), ``csv_reader`` and ``parquet_reader`` (parsing each format within the limits), ``inspection``
(:func:`inspect_file`, which reads a file whole or batch by batch by its size), ``profile`` (the whole-table profile,
:func:`read_table` and the measures; the definitions of missing values, duplicate rows, outliers and class balance
are in its docstring), ``streaming``, ``batches`` and ``spill`` (the same profile batch by batch, in bounded memory) and
``findings`` (what a profile reports). This package re-exports
the names its importers use, so ``from governance.data.ingest import ...`` keeps working.
"""

from __future__ import annotations

from governance.data.ingest.csv_reader import delimiter_problem
from governance.data.ingest.files import PARQUET_MAGIC, copy_and_hash, detect_format, hash_file
from governance.data.ingest.findings import IMBALANCE_WARNING_FRACTION, MISSING_WARNING_FRACTION
from governance.data.ingest.inspection import inspect_file
from governance.data.ingest.limits import IngestError, IngestLimits, use_settings
from governance.data.ingest.profile import OUTLIER_IQR_FACTOR, OUTLIER_METHOD, Ingested, read_table

__all__ = [
    "IMBALANCE_WARNING_FRACTION",
    "MISSING_WARNING_FRACTION",
    "OUTLIER_IQR_FACTOR",
    "OUTLIER_METHOD",
    "PARQUET_MAGIC",
    "IngestError",
    "IngestLimits",
    "Ingested",
    "copy_and_hash",
    "delimiter_problem",
    "detect_format",
    "hash_file",
    "inspect_file",
    "read_table",
    "use_settings",
]
