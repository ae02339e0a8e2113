"""Issuing signed checkpoints of the trail.

A checkpoint is a C2SP signed note: origin, tree size, base64 root, and an extension line with the issue time
(signed, so a reader can tell how fresh it is). One is issued every ``TRAIL_CHECKPOINT_EVERY_EVENTS`` events,
whenever ``TRAIL_CHECKPOINT_EVERY_SECONDS`` have passed with new events, on demand, and for every export. Each new
checkpoint is sent to the witnesses of ``TRAIL_WITNESSES`` for their cosignatures (:mod:`governance.trail.witnesses`).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.trail.keys import ensure_key_registered, load_signing_key
from governance.trail.leaf import format_time
from governance.trail.log import TrailError, current_root, lock_trail, on_append, tree_size
from governance.trail.models import Checkpoint
from governance.trail.note import checkpoint_body, sign_note
from governance.trail.verify import problem_since_last_checkpoint
from governance.trail.witnesses import collect_cosignatures


class CheckpointRefused(TrailError):
    """A checkpoint that would make the log look smaller or older than one already issued, or vouch for a trail
    that does not verify since the last one."""


def issue_checkpoint(*, reason: str = "on-demand", only_if_due: bool = False) -> Checkpoint | None:
    """Sign and store a checkpoint of the trail as it is now.

    With ``only_if_due``, returns None when, once the lock is held, no checkpoint is due any more (another
    process issued one first).
    """
    key = load_signing_key()
    with transaction.atomic():
        lock_trail()
        if only_if_due and not checkpoint_is_due():
            return None
        key_row = ensure_key_registered(key)  # may append a key event, so read the head afterwards
        problem = problem_since_last_checkpoint()
        if problem is not None:
            message, seq = problem
            where = f" (first bad event: {seq})" if seq is not None else ""
            raise CheckpointRefused(
                f"the trail does not verify since its last checkpoint{where}: {message}. Nothing was signed; run "
                "'python manage.py verify_trail' for the whole report."
            )
        size, root = current_root()
        now = timezone.now()
        latest = Checkpoint.objects.order_by("-id").first()
        if latest is not None:
            if size < latest.tree_size:
                raise CheckpointRefused(
                    f"the trail has {size} events but checkpoint {latest.id} covers {latest.tree_size}"
                )
            if now < latest.issued_at:
                raise CheckpointRefused(f"the clock reads {now.isoformat()}, before the last checkpoint's time")
        body = checkpoint_body(
            origin=settings.TRAIL_ORIGIN, tree_size=size, root=root, extensions=(f"time {format_time(now)}",)
        )
        note = sign_note(body, signers=[(key.name, key.private_key)])
        checkpoint = Checkpoint.objects.create(
            tree_size=size, root_hash=root, note=note, key=key_row, issued_at=now, reason=reason
        )
        if settings.TRAIL_WITNESSES:
            # After the commit (never hold the trail's lock over HTTP); when this is the outermost transaction that
            # is before this function returns, so an export's bundle already carries the cosignatures.
            transaction.on_commit(lambda: collect_cosignatures(checkpoint))
        return checkpoint


def latest_checkpoint() -> Checkpoint | None:
    """The most recently issued checkpoint."""
    return Checkpoint.objects.order_by("-id").first()


def checkpoint_is_due(now: dt.datetime | None = None, *, size: int | None = None) -> bool:
    """True when enough events or enough time have accumulated since the last checkpoint.

    ``size``: the trail's size if the caller knows it (an append just committed), saving a query.
    """
    size = tree_size() if size is None else size
    latest = _latest_size_and_time()
    if latest is None:
        return size > 0
    latest_size, issued_at = latest
    new_events = size - latest_size
    if new_events <= 0:
        return False
    if new_events >= settings.TRAIL_CHECKPOINT_EVERY_EVENTS:
        return True
    return ((now or timezone.now()) - issued_at).total_seconds() >= settings.TRAIL_CHECKPOINT_EVERY_SECONDS


_ISSUED_AT = Checkpoint._meta.get_field("issued_at")


def _latest_size_and_time() -> tuple[int, dt.datetime] | None:
    """The last checkpoint's size and issue time.

    Raw SQL: this runs after every append, where compiling the ORM query cost more than running it. The time goes
    through the field's converters (SQLite returns text), as the ORM would do.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT tree_size, issued_at FROM governance_checkpoint ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return None
    issued_at = row[1]
    column = _ISSUED_AT.get_col(Checkpoint._meta.db_table)
    for converter in connection.ops.get_db_converters(column) + _ISSUED_AT.get_db_converters(connection):
        issued_at = converter(issued_at, column, connection)
    return int(row[0]), issued_at


@shared_task(name="governance.issue_checkpoint")
def issue_checkpoint_task(reason: str = "scheduled", only_if_due: bool = True) -> int | None:
    """Issue a trail checkpoint (by default only if one is still due); returns its tree size, or None."""
    checkpoint = issue_checkpoint(reason=reason, only_if_due=only_if_due)
    return None if checkpoint is None else checkpoint.tree_size


def checkpoint_if_due(size: int | None = None) -> None:
    """Queue a checkpoint when one is due (runs in process unless a Celery broker is configured)."""
    if checkpoint_is_due(size=size):
        issue_checkpoint_task.delay(reason="scheduled")


on_append(checkpoint_if_due)  # after every committed append (the log cannot import this module)
