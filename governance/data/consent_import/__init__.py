"""Bulk import of consent events from a CSV file: the whole file is checked, then written in one transaction.

A row is one consent event, with the rules of ``do_record_consent`` (the one-event path): the subject by
``external_id`` (hashed here) or by ``pseudonym``, a known ``purpose``, a ``kind`` of given, withdrawn or expired,
an ``occurred_at`` with a timezone offset, ``expires_at`` only on a consent given, and a withdrawal or expiry only
for a consent given before it (earlier in the file by ``occurred_at``, or in the database). An erased subject
cannot give consent again. Every problem is collected before anything is written, and the first few are reported
with their row and column; one problem and nothing is written.

The batch is written at once: its ``ConsentImport`` row (the file's SHA-256 and counts), the subjects not seen
before, every event, one trail event for the whole batch, and the findings that the withdrawals open on models
trained on the withdrawn subjects' data. A million rows take seconds, not hours
(``benchmarks/bench_consent_import.py``), because the file is parsed and checked column by column with pyarrow,
each distinct subject id is hashed once, and the rows go to the database in large batches (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) that store exactly what the ORM would have stored.

One module per concern: ``header`` (the columns, the problems found, reading the file), ``rows`` (checking the rows
column by column), ``write`` (the batched inserts) and ``action`` (the import, in one transaction). This package
re-exports the names its importers use, so ``from governance.data.consent_import import ...`` keeps working.
"""

from __future__ import annotations

from governance.data.consent_import.action import ImportOutcome, do_import_consent_csv, import_consent_file
from governance.data.consent_import.header import (
    COLUMNS,
    ID_COLUMNS,
    MAX_REPORTED_PROBLEMS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TEXT_COLUMNS,
    _read_header,  # tests/data/test_hostile_files.py and benchmarks/bench_hostile_inputs.py call it alone
)
from governance.data.consent_import.rows import (
    PII_SEPARATOR,
    ParsedConsent,
    parse_consent_csv,
    pii_categories,
    pseudonyms_of,
)

__all__ = [
    "COLUMNS",
    "ID_COLUMNS",
    "MAX_REPORTED_PROBLEMS",
    "OPTIONAL_COLUMNS",
    "PII_SEPARATOR",
    "REQUIRED_COLUMNS",
    "TEXT_COLUMNS",
    "ImportOutcome",
    "ParsedConsent",
    "_read_header",
    "do_import_consent_csv",
    "import_consent_file",
    "parse_consent_csv",
    "pii_categories",
    "pseudonyms_of",
]
