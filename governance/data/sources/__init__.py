"""Data sources: evaluation data read where it lives, named by a URI, with the evidence that it has not changed.

A dataset version may be a **source** instead of an uploaded file: a Parquet file or folder under one of the
folders ``DATA_SOURCE_ROOTS`` allows (``parquet:///data/scores/2026-12``), or a table (or, where allowed, a query)
on a PostgreSQL connection the operator declared in ``DATA_SOURCE_CONNECTIONS``
(``postgresql://warehouse/public.scores``). The declaration, not the URI, fixes the host, port, database, role
and the one environment variable holding the password; libpq's own fallbacks (PGPASSWORD, ~/.pgpass, PGOPTIONS,
...) are not used.

What makes a source version immutable is recorded when it is registered and checked again before every audit
(:func:`evidence_of`, :func:`changes_between`): the SHA-256 and size of every Parquet file, or, for a SQL relation,
its columns, its row count and an order-independent content digest computed by the server (the sums of the two
64-bit halves of ``md5(row::text)`` over all rows). A source whose evidence differs is refused, saying what changed.

``uris`` parses and checks a URI (:func:`parse_source`), ``evidence`` computes and compares the evidence, and
``postgres`` opens a read-only connection to a declared connection. Nothing here imports Django or
the audits: the audit engine (``audits.statistics``) reads a source through these.
"""

from governance.data.sources.evidence import changes_between, evidence_of
from governance.data.sources.uris import KINDS, Connection, Source, SourceError, parse_connections, parse_source

__all__ = [
    "KINDS",
    "Connection",
    "Source",
    "SourceError",
    "changes_between",
    "evidence_of",
    "parse_connections",
    "parse_source",
]
