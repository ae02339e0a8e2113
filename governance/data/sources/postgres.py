"""A read-only connection to a declared PostgreSQL connection, its password from the one variable the operator named,
and a source's relation as SQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq, sql

from governance.data.sources.uris import Source, SourceError

# Row text (``row::text``, hashed for the content digest) depends on these session settings: fixed here, so that a
# digest computed by one connection is comparable with another's.
_SESSION = (
    "-c default_transaction_read_only=on -c statement_timeout=3600000 -c DateStyle=ISO,YMD -c TimeZone=UTC "
    "-c extra_float_digits=1 -c IntervalStyle=postgres -c bytea_output=hex"
)


# No password file: a path that cannot exist (/dev/null is not a folder), so libpq finds no ~/.pgpass and, unlike
# /dev/null itself, prints no warning about it.
_NO_PASSFILE = "/dev/null/assay-no-passfile"


def _explicit_defaults() -> dict[str, str]:
    """Every libpq setting that libpq would otherwise take from the environment (PGUSER, PGPASSWORD, PGPASSFILE,
    PGOPTIONS, PGSSLCERT, ...), given explicitly: libpq's own compiled default, else empty. An explicit setting is
    never looked up in the environment, nor filled from a PGSERVICE entry. ``service`` is the one left out (an
    empty name is an error): a service can then only fill settings left unset, and none is."""
    explicit = {}
    for option in pq.Conninfo.get_defaults():
        keyword = option.keyword.decode()
        if option.envvar and keyword != "service":
            explicit[keyword] = option.compiled.decode() if option.compiled is not None else ""
    # Settings whose empty value libpq refuses or reads as "look further": what libpq does without them, pinned.
    explicit.update(min_protocol_version="3.0", max_protocol_version="3.0", passfile=_NO_PASSFILE)
    # No client certificate (Assay's own ~/.postgresql/postgresql.crt) and no Kerberos ticket of the process.
    explicit.update(sslcertmode="disable", gssencmode="disable", gssdelegation="0")
    return explicit


def connect(source: Source) -> psycopg.Connection[Any]:
    """A read-only connection to ``source``'s declared connection: its host, port, database and role, the password
    from the one environment variable the declaration names (none: no password). Nothing comes from the URI or
    from libpq's environment and files (PGPASSWORD, ~/.pgpass, PGOPTIONS, ...). Raises SourceError."""
    declared = source.connection
    assert declared is not None
    password = ""
    if declared.password_env:
        found = os.environ.get(declared.password_env)
        if found is None:
            raise SourceError(
                f"The environment variable {declared.password_env} that connection {declared.name} names is not set."
            )
        password = found
    params: dict[str, Any] = _explicit_defaults() | {
        "host": declared.host,
        "port": str(declared.port),
        "dbname": declared.database,
        "user": declared.user,
        "password": password,
        "connect_timeout": "10",
        "options": _SESSION,
        "application_name": "assay-source",
        "client_encoding": "UTF8",
    }
    if declared.sslmode:
        params["sslmode"] = declared.sslmode
    if declared.sslrootcert:
        params["sslrootcert"] = declared.sslrootcert
    try:
        return psycopg.connect(**params, autocommit=False)
    except psycopg.Error as exc:
        # The server's words, which name the host and user, never the password.
        raise SourceError(f"Cannot connect to the source connection {declared.name}: {str(exc).strip()}") from None


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
