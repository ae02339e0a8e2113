"""Writing a checked file: the new subjects and every event in large batches (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), in an order that keeps index inserts sequential, storing exactly what the ORM would have stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
from django.db import connection

from governance.data.consent_import.header import TEXT_COLUMNS
from governance.data.consent_import.rows import ParsedConsent
from governance.data.models import ConsentEvent, ConsentImport, Subject

_CHUNK = 50_000  # rows per executemany / per slice written to COPY: bounded memory, few round trips


def _insert_subjects(subjects: Any, *, now: datetime) -> None:
    """Insert-or-ignore a Subject row for each pseudonym, as ``Subject.objects.create`` would have stored it."""
    quote = connection.ops.quote_name
    table = quote(Subject._meta.db_table)
    first_seen = connection.ops.adapt_datetimefield_value(now)
    pseudonyms = subjects.to_pylist()
    with connection.cursor() as cursor:
        for start in range(0, len(pseudonyms), _CHUNK):
            chunk = pseudonyms[start : start + _CHUNK]
            if connection.vendor == "postgresql":
                # One array literal (pseudonyms are hex: nothing to quote), not a list the driver would adapt item
                # by item.
                cursor.execute(
                    f"INSERT INTO {table} (pseudonym, first_seen_at, erased_at) "  # noqa: S608 - names from the model
                    "SELECT p, %s, NULL FROM unnest(%s::varchar[]) AS p ON CONFLICT (pseudonym) DO NOTHING",
                    [first_seen, "{" + ",".join(chunk) + "}"],
                )
            else:
                cursor.executemany(
                    f"INSERT INTO {table} (pseudonym, first_seen_at, erased_at) VALUES (%s, %s, NULL) "  # noqa: S608
                    "ON CONFLICT (pseudonym) DO NOTHING",
                    list(zip(chunk, repeat(first_seen), strict=False)),
                )


_EVENT_FIELDS = (
    "subject",
    "purpose",
    "kind",
    "occurred_at",
    "recorded_at",
    "expires_at",
    *TEXT_COLUMNS,
    "pii_categories",
    "batch",
)


def _insert_events(parsed: ParsedConsent, *, batch: ConsentImport, now: datetime) -> None:
    """Every row as the ORM would store it: COPY on PostgreSQL, executemany elsewhere, a slice at a time."""
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    table = quote(ConsentEvent._meta.db_table)
    column_of = {field.name: str(field.column) for field in ConsentEvent._meta.concrete_fields}
    names = ", ".join(quote(column_of[name]) for name in _EVENT_FIELDS)
    recorded_at = now.isoformat() if postgres else str(connection.ops.adapt_datetimefield_value(now))
    slices = _ordered_slices(parsed, recorded_at=recorded_at, batch=batch.pk, postgres=postgres)
    with connection.cursor() as cursor:
        if postgres:
            # Django's foreign keys are checked at commit; checking them row by row as COPY goes costs less than
            # queueing a million deferred checks. They are deferred again afterwards, as the rest expects.
            constraints = connection.introspection.get_constraints(cursor, ConsentEvent._meta.db_table)
            foreign_keys = ", ".join(quote(name) for name, c in sorted(constraints.items()) if c["foreign_key"])
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} IMMEDIATE")
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for columns in slices:
                    copy.write(_copy_text(columns))
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} DEFERRED")
            return
        placeholders = ", ".join(["%s"] * len(_EVENT_FIELDS))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 - names from the model
        for columns in slices:
            size = max(len(column) for column in columns if not isinstance(column, str | int))
            values = [repeat(c, size) if isinstance(c, str | int) else c.to_pylist() for c in columns]
            cursor.executemany(sql, list(zip(*values, strict=False)))


def _ordered_slices(parsed: ParsedConsent, *, recorded_at: str, batch: int, postgres: bool) -> Iterator[list[Any]]:
    """The rows, _CHUNK at a time, as the values of _EVENT_FIELDS: an arrow array per column, or one value (str or
    int) that every row shares.

    Rows go in by (subject, purpose, occurred_at, file order): every index on the table leads with the subject or
    the purpose, so this order turns a million random index inserts into a few sequential runs (several times
    faster on SQLite). For one subject and purpose, ids still follow occurred_at and then the file, so the event
    that decides a state (the latest, ties going to the higher id) is the one a row-by-row import would pick.
    """
    import pyarrow as pa

    subject_index = parsed.subject_index.to_numpy()
    purpose_index = parsed.purpose_index.to_numpy()
    order = np.lexsort(
        (np.arange(parsed.rows), parsed.occurred_at.cast("int64").to_numpy(), purpose_index, subject_index)
    )
    purpose_pks = np.asarray(parsed.purpose_pks, dtype=np.int64)
    for start in range(0, parsed.rows, _CHUNK):
        rows = order[start : start + _CHUNK]
        taken = pa.array(rows)
        yield [
            parsed.subjects.take(pa.array(subject_index[rows])),
            pa.array(purpose_pks[purpose_index[rows]]),
            parsed.kind.take(taken),
            _stored_times(parsed.occurred_at.take(taken), postgres=postgres),
            recorded_at,
            _stored_times(parsed.expires_at.take(taken), postgres=postgres),
            *(parsed.text[name].take(taken) if name in parsed.text else "" for name in TEXT_COLUMNS),
            parsed.pii_json.take(taken),
            batch,
        ]


def _copy_text(columns: list[Any]) -> str:
    """Rows in COPY's text format: tab-separated, ``\\N`` for NULL, and the backslash, tab, line feed and carriage
    return inside a value escaped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = []
    for column in columns:
        if isinstance(column, str | int):
            fields.append(pa.scalar(str(column)))
            continue
        part = pc.cast(column, pa.string()) if pa.types.is_integer(column.type) else column
        for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            part = pc.replace_substring(part, pattern=char, replacement=escaped)
        fields.append(pc.fill_null(part, "\\N"))
    lines = pc.binary_join_element_wise(*fields, "\t").to_pylist()
    return "\n".join(lines) + "\n"


def _stored_times(moments: Any, *, postgres: bool) -> Any:
    """Timestamps as the text the database is given: for SQLite exactly Django's ``str()`` of the UTC time
    (no fraction when it is zero); for PostgreSQL the UTC time with its offset."""
    import pyarrow.compute as pc

    text = pc.strftime(moments, format="%Y-%m-%d %H:%M:%S")  # %S carries the microseconds: 09:30:00.000000
    if postgres:
        return pc.binary_join_element_wise(text, "+00:00", "")
    return pc.replace_substring_regex(text, pattern=r"\.000000$", replacement="")
