"""Triggers that keep the sequencing queue honest (``TRAIL_SEQUENCING=batched``), on SQLite and PostgreSQL.

A queued row may be inserted only as pending (no seq, not rejected), changed only once and only by being sequenced
(its seq set) or rejected (a reason set), with every other column as it was; a pending row cannot be deleted (that
would lose a committed event) and PostgreSQL refuses TRUNCATE while any is pending. Sequenced rows may be deleted:
the event lives on in ``governance_event``; the row only told the caller's handle its seq.
"""

# ruff: noqa: S608  (only this module's constants are interpolated into its SQL; no value from outside)
from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "governance_queuedevent"
_DATA = ("id", "queued_at", "action", "actor_kind", "actor_user_id", "actor_token_id", "object_type", "object_id")
_SQLITE_CHANGED = " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in (*_DATA, "payload"))
_PG_CHANGED = "ROW({}) IS DISTINCT FROM ROW({})".format(
    ", ".join(f"NEW.{c}" for c in (*_DATA, "payload")), ", ".join(f"OLD.{c}" for c in (*_DATA, "payload"))
)
_REFUSE_INSERT = "assay: a queued event must be inserted pending (no seq, not rejected, a new id)"
_REFUSE_UPDATE = "assay: a queued event may only be sequenced or rejected, once, and nothing else about it changed"
_REFUSE_DELETE = "assay: a queued event that is not yet sequenced cannot be deleted"

NAMES = {
    "sqlite": [f"{TABLE}_guard_insert", f"{TABLE}_guard_update", f"{TABLE}_guard_delete"],
    "postgresql": [
        f"{TABLE}_guard_insert",
        f"{TABLE}_guard_update",
        f"{TABLE}_guard_delete",
        f"{TABLE}_guard_truncate",
    ],
}


def _sqlite() -> Iterable[str]:
    yield (
        f'CREATE TRIGGER IF NOT EXISTS "{TABLE}_guard_insert" BEFORE INSERT ON "{TABLE}" '
        f"WHEN NEW.seq IS NOT NULL OR NEW.rejected != '' OR EXISTS (SELECT 1 FROM \"{TABLE}\" WHERE id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE_INSERT}'); END"
    )
    yield (
        f'CREATE TRIGGER IF NOT EXISTS "{TABLE}_guard_update" BEFORE UPDATE ON "{TABLE}" '
        f"WHEN OLD.seq IS NOT NULL OR OLD.rejected != '' OR (NEW.seq IS NULL AND NEW.rejected = '') "
        f"OR (NEW.seq IS NOT NULL AND NEW.rejected != '') OR {_SQLITE_CHANGED} "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE_UPDATE}'); END"
    )
    yield (
        f'CREATE TRIGGER IF NOT EXISTS "{TABLE}_guard_delete" BEFORE DELETE ON "{TABLE}" '
        f"WHEN OLD.seq IS NULL AND OLD.rejected = '' BEGIN SELECT RAISE(ABORT, '{_REFUSE_DELETE}'); END"
    )


def _postgresql() -> Iterable[str]:
    yield f"""
    CREATE OR REPLACE FUNCTION assay_queue_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.seq IS NOT NULL OR NEW.rejected <> '' THEN RAISE EXCEPTION '{_REFUSE_INSERT}'; END IF;
            RETURN NEW;
        ELSIF TG_OP = 'UPDATE' THEN
            IF OLD.seq IS NOT NULL OR OLD.rejected <> '' OR (NEW.seq IS NULL AND NEW.rejected = '')
               OR (NEW.seq IS NOT NULL AND NEW.rejected <> '') OR {_PG_CHANGED} THEN
                RAISE EXCEPTION '{_REFUSE_UPDATE}';
            END IF;
            RETURN NEW;
        ELSIF TG_OP = 'DELETE' THEN
            IF OLD.seq IS NULL AND OLD.rejected = '' THEN RAISE EXCEPTION '{_REFUSE_DELETE}'; END IF;
            RETURN OLD;
        END IF;
        -- TRUNCATE (statement level)
        IF EXISTS (SELECT 1 FROM {TABLE} WHERE seq IS NULL AND rejected = '') THEN
            RAISE EXCEPTION '{_REFUSE_DELETE}';
        END IF;
        RETURN NULL;
    END $$
    """
    for op in ("INSERT", "UPDATE", "DELETE"):
        name = f"{TABLE}_guard_{op.lower()}"
        yield f'DROP TRIGGER IF EXISTS "{name}" ON "{TABLE}"'
        yield f'CREATE TRIGGER "{name}" BEFORE {op} ON "{TABLE}" FOR EACH ROW EXECUTE FUNCTION assay_queue_guard()'
    yield f'DROP TRIGGER IF EXISTS "{TABLE}_guard_truncate" ON "{TABLE}"'
    yield (
        f'CREATE TRIGGER "{TABLE}_guard_truncate" BEFORE TRUNCATE ON "{TABLE}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION assay_queue_guard()"
    )


def install_queue_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create (or re-create) the queue's triggers on ``connection``'s database."""
    statements = {"sqlite": _sqlite, "postgresql": _postgresql}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"the queue's triggers are not written for {connection.vendor}")
    with connection.cursor() as cursor:
        for sql in statements():
            cursor.execute(sql)


def drop_queue_triggers(connection: BaseDatabaseWrapper) -> None:
    """Remove them: for migrating backwards, and for tests that act as someone with database access."""
    with connection.cursor() as cursor:
        for name in NAMES.get(connection.vendor, []):
            suffix = "" if connection.vendor == "sqlite" else f' ON "{TABLE}"'
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"{suffix}')
