"""Database triggers that make the trail's tables append-only, on SQLite and PostgreSQL.

UPDATE and DELETE are refused on every trail table (and TRUNCATE of a non-empty one on PostgreSQL). On the
event table, an insert must also extend the chain: its ``seq`` is exactly one more than the last, and its
``prev_hash`` is the last event's leaf hash. SQLite's ``INSERT OR REPLACE`` deletes the conflicting row
without firing delete triggers unless ``recursive_triggers`` is on, so inserts that collide with an existing
row are refused before the replace can happen, whatever the connection's pragmas.

Triggers stop mistakes and casual tampering. Someone with full database access can drop them; what catches
that person is a signed checkpoint held outside the server (see README, "What the trail promises").
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper

TABLES = ("governance_event", "governance_merklenode", "governance_checkpoint", "governance_signingkey")

# Conflict columns per table for the INSERT OR REPLACE guard (every UNIQUE column or constraint).
_SQLITE_UNIQUE = {
    "governance_event": ["seq", "prev_hash"],
    "governance_merklenode": ["id", "level, index"],
    "governance_checkpoint": ["id"],
    "governance_signingkey": ["id", "key_id"],
}


def trigger_names(vendor: str) -> set[str]:
    """Every trigger that must exist for ``vendor``; the system check compares this with the database."""
    names = set()
    for table in TABLES:
        names |= {f"{table}_no_update", f"{table}_no_delete"}
        if vendor == "sqlite":
            names.add(f"{table}_no_replace")
        if vendor == "postgresql":
            names.add(f"{table}_no_truncate")
    names.add("governance_event_chain")
    if vendor in ("sqlite", "postgresql"):
        names.add("governance_checkpoint_monotonic")
    return names


def _sqlite_statements() -> Iterable[str]:
    for table in TABLES:
        for op in ("UPDATE", "DELETE"):
            yield (
                f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{op.lower()}" BEFORE {op} ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, 'assay: {table} is append-only ({op} refused)'); END"
            )
        conflicts = " OR ".join(
            'EXISTS (SELECT 1 FROM "{t}" WHERE {cond})'.format(
                t=table,
                cond=" AND ".join(f'"{c.strip()}" = NEW."{c.strip()}"' for c in columns.split(",")),
            )
            for columns in _SQLITE_UNIQUE[table]
        )
        yield (
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_replace" BEFORE INSERT ON "{table}" WHEN {conflicts} '
            f"BEGIN SELECT RAISE(ABORT, 'assay: {table} is append-only (insert over an existing row refused)'); END"
        )
    yield (
        'CREATE TRIGGER IF NOT EXISTS "governance_event_chain" BEFORE INSERT ON "governance_event" '
        'WHEN NEW."seq" != (SELECT COALESCE(MAX("seq") + 1, 0) FROM "governance_event") '
        'OR (NEW."seq" = 0 AND length(NEW."prev_hash") != 0) '
        'OR (NEW."seq" > 0 AND NEW."prev_hash" IS NOT '
        '(SELECT "leaf_hash" FROM "governance_event" WHERE "seq" = NEW."seq" - 1)) '
        "BEGIN SELECT RAISE(ABORT, 'assay: an event must extend the chain (next seq, previous leaf hash)'); END"
    )
    yield (
        'CREATE TRIGGER IF NOT EXISTS "governance_checkpoint_monotonic" BEFORE INSERT ON "governance_checkpoint" '
        'WHEN NEW."tree_size" < (SELECT COALESCE(MAX("tree_size"), 0) FROM "governance_checkpoint") '
        "BEGIN SELECT RAISE(ABORT, 'assay: a checkpoint may not cover fewer events than an earlier one'); END"
    )


_PG_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION assay_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'assay: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION assay_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE has_rows boolean;
    BEGIN
        -- Truncating an empty table changes nothing (and is what test-database flushes do).
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO has_rows;
        IF has_rows THEN
            RAISE EXCEPTION 'assay: % is append-only (TRUNCATE refused)', TG_TABLE_NAME;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION assay_event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE last_seq bigint; last_hash bytea;
    BEGIN
        SELECT seq, leaf_hash INTO last_seq, last_hash FROM governance_event ORDER BY seq DESC LIMIT 1;
        IF (last_seq IS NULL AND (NEW.seq <> 0 OR length(NEW.prev_hash) <> 0))
           OR (last_seq IS NOT NULL AND (NEW.seq <> last_seq + 1 OR NEW.prev_hash <> last_hash)) THEN
            RAISE EXCEPTION 'assay: an event must extend the chain (next seq, previous leaf hash)';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION assay_checkpoint_monotonic() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.tree_size < (SELECT COALESCE(MAX(tree_size), 0) FROM governance_checkpoint) THEN
            RAISE EXCEPTION 'assay: a checkpoint may not cover fewer events than an earlier one';
        END IF;
        RETURN NEW;
    END $$
    """,
]


def _postgresql_statements() -> Iterable[str]:
    yield from _PG_FUNCTIONS
    for table in TABLES:
        for op in ("UPDATE", "DELETE"):
            name = f"{table}_no_{op.lower()}"
            yield f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"'
            yield (
                f'CREATE TRIGGER "{name}" BEFORE {op} ON "{table}" FOR EACH ROW EXECUTE FUNCTION assay_refuse_change()'
            )
        yield f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"'
        yield (
            f'CREATE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION assay_refuse_truncate()"
        )
    yield 'DROP TRIGGER IF EXISTS "governance_event_chain" ON "governance_event"'
    yield (
        'CREATE TRIGGER "governance_event_chain" BEFORE INSERT ON "governance_event" '
        "FOR EACH ROW EXECUTE FUNCTION assay_event_chain()"
    )
    yield 'DROP TRIGGER IF EXISTS "governance_checkpoint_monotonic" ON "governance_checkpoint"'
    yield (
        'CREATE TRIGGER "governance_checkpoint_monotonic" BEFORE INSERT ON "governance_checkpoint" '
        "FOR EACH ROW EXECUTE FUNCTION assay_checkpoint_monotonic()"
    )


def install_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create (or re-create) every protective trigger on ``connection``'s database."""
    statements = {"sqlite": _sqlite_statements, "postgresql": _postgresql_statements}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"append-only triggers are not written for {connection.vendor}")
    with connection.cursor() as cursor:
        for sql in statements():
            cursor.execute(sql)


def drop_triggers(connection: BaseDatabaseWrapper) -> None:
    """Remove the triggers: for tests that simulate an attacker, and for test-database teardown only."""
    with connection.cursor() as cursor:
        for name in sorted(trigger_names(connection.vendor)):
            if connection.vendor == "sqlite":
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            else:
                table = next(t for t in TABLES if name.startswith(t))
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')


def installed_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    """Names of the protective triggers present in the database now."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            return set()
        return {row[0] for row in cursor.fetchall()}
