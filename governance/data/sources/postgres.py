"""A read-only connection to a PostgreSQL source, its password from the environment, and its relation as SQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from governance.data.sources.uris import Source, SourceError

# Row text (``row::text``, hashed for the content digest) depends on these session settings: fixed here, so that a
# digest computed by one connection is comparable with another's.
_SESSION = (
    "-c default_transaction_read_only=on -c statement_timeout=3600000 -c DateStyle=ISO,YMD -c TimeZone=UTC "
    "-c extra_float_digits=1 -c IntervalStyle=postgres -c bytea_output=hex"
)


def connect(source: Source) -> psycopg.Connection[Any]:
    """A read-only connection to ``source``'s server. The password is the variable ``password_env`` names, else
    libpq's own environment (PGPASSWORD, ~/.pgpass); never from the URI or the database. Raises SourceError."""
    params: dict[str, Any] = {
        "host": source.host,
        "port": source.port,
        "dbname": source.database,
        "connect_timeout": 10,
        "options": _SESSION,
        "application_name": "assay-source",
    }
    if source.user:
        params["user"] = source.user
    if source.sslmode:
        params["sslmode"] = source.sslmode
    if source.password_env:
        password = os.environ.get(source.password_env)
        if password is None:
            raise SourceError(f"The environment variable {source.password_env} (password_env) is not set.")
        params["password"] = password
    try:
        return psycopg.connect(**params, autocommit=False)
    except psycopg.Error as exc:
        # The server's words, which name the host and user, never the password.
        raise SourceError(f"Cannot connect to {source.host}:{source.port}/{source.database}: {exc}".strip()) from None


def relation(source: Source) -> sql.Composable:  # an Identifier or a Composed
    """The source's rows as a FROM item: the table (quoted as identifiers) or the query as a subquery."""
    if source.table:
        return sql.Identifier(*source.table.split("."))
    return sql.SQL("({})").format(sql.SQL(source.query))  # type: ignore[arg-type]  # checked by parse_source


@contextmanager
def snapshot(source: Source) -> Iterator[psycopg.Connection[Any]]:
    """One read-only REPEATABLE READ transaction on ``source``'s server: every statement run in it sees the same
    rows, so the evidence checked before an audit and the counts the audit reads are of one and the same data."""
    with connect(source) as connection:
        try:
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        except psycopg.Error as exc:
            raise SourceError(f"The source cannot be read: {str(exc).strip()}") from None
        yield connection


def run(
    source: Source,
    statement: sql.Composed,
    params: tuple[Any, ...] = (),
    *,
    connection: psycopg.Connection[Any] | None = None,
) -> tuple[list[Any], list[tuple]]:
    """Run ``statement`` in ``connection`` (a :func:`snapshot`), else on a fresh read-only connection: its columns
    (cursor description) and rows."""
    if connection is not None:
        return _execute(connection, statement, params)
    with connect(source) as fresh:
        return _execute(fresh, statement, params)


def _execute(
    connection: psycopg.Connection[Any], statement: sql.Composed, params: tuple[Any, ...]
) -> tuple[list[Any], list[tuple]]:
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.description or []), cursor.fetchall()
    except psycopg.Error as exc:
        raise SourceError(f"The source cannot be read: {str(exc).strip()}") from None
