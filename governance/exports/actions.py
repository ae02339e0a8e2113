"""Actions of exports and regulator access: ask for a bundle, the job that builds it, share, revoke, record a
regulator's access.

Each action owns its transaction and appends its trail event inside it (STYLE.md). Building a bundle is slow (seconds
to a minute), so ``do_create_export`` only checks the request and records it (an Export row, ``queued``, and its
``export.requested`` event), then queues ``execute_export`` once that commits: in process without a broker (the
request waits for it), on a worker with one. The job builds and stores the ZIP outside any transaction, updating the
row's progress, then records the bundle and its ``export.created`` event (sha256, checkpoint) in one short
transaction. A build that fails ends in ``error`` with the reason (and an ``export.failed`` event), never stuck.

Chaining: each bundle's consistency proof starts from the checkpoint of the previous ready export to the same
recipient (``previous``, fixed when it is asked for). So exports to one recipient are built one at a time: a request
while another to the same recipient is queued or building is refused (409 ``concurrent_export``), and the job checks
again, as it records its bundle, that no other export to that recipient became ready in between.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audits.models import AuditRun, RunStatus
from audits.reports.service import report_for_run, report_for_version
from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
from governance.exports import events
from governance.exports.access import granting_share
from governance.exports.collect import Built, Scope, build_bundle
from governance.exports.models import Export, ExportStatus, Share
from governance.jobs import enqueue
from governance.storage import open_stream, store_by_hash
from governance.trail.checkpoints import CheckpointRefused
from governance.trail.leaf import format_time, text_commitment
from governance.trail.log import Actor, lock_trail, record_event

logger = logging.getLogger("assay.exports")

EXPORTERS = frozenset({Role.OFFICER, Role.ADMIN})
IN_FLIGHT = (ExportStatus.QUEUED, ExportStatus.BUILDING)


class ExportError(ActionError):
    """An export or share refused, with a message for the person who asked."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _regulator(user: User | None, *, field: str) -> User | None:
    if user is None:
        return None
    if user.role != Role.REGULATOR or not user.is_active:
        raise ExportError(
            f"{user.username!r} is not an active regulator account: evidence is shared with regulators only.",
            field=field,
        )
    return user


def previous_export(recipient: User | None, *, exclude: int | None = None) -> Export | None:
    """The latest ready export to ``recipient`` (None: exports made for nobody in particular)."""
    exports = Export.objects.filter(recipient=recipient, status=ExportStatus.READY)
    if exclude is not None:
        exports = exports.exclude(pk=exclude)
    return exports.select_related("checkpoint").order_by("-id").first()


def is_stale(export: Export, now: dt.datetime | None = None) -> bool:
    """Queued, or building without a progress report, for longer than any build step takes
    (``EXPORT_STALE_BUILD_SECONDS``): its worker was lost."""
    if export.status not in IN_FLIGHT:
        return False
    if export.status == ExportStatus.BUILDING:
        since = max(filter(None, (export.started_at, export.progress_at)), default=None)
    else:
        since = export.created_at
    limit = dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS)
    return since is None or (now or timezone.now()) - since > limit


def lost_builds(now: dt.datetime | None = None) -> list[int]:
    """Ids of the exports whose build was lost (``is_stale``), oldest first: what the periodic sweep queues again."""
    in_flight = Export.objects.filter(status__in=IN_FLIGHT).order_by("id")
    return [export.pk for export in in_flight if is_stale(export, now)]


def do_create_export(
    *,
    user: User,
    actor: Actor,
    model: Any,
    version: Any = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    recipient: User | None = None,
) -> Export:
    """Ask for an evidence bundle of ``model`` (optionally one version and a date range): check and record the
    request, and queue its build. Without a broker the build runs before this returns (see ``Export.status``)."""
    require_role(user, EXPORTERS, "export evidence bundles", error=ExportError)
    _regulator(recipient, field="recipient")
    if version is not None and version.model_id != model.pk:
        raise ExportError(f"Version {version.number} is not a version of {model.name}.", field="version")
    for name, day in (("from", date_from), ("to", date_to)):
        # The window's end is the day after 'to': a date at the calendar's edge cannot be a window's bound.
        if day is not None and not 1900 <= day.year <= 9998:
            raise ExportError(f"'{name}' must be a date between the years 1900 and 9998, not {day}.", field=name)
    if date_from and date_to and date_from > date_to:
        raise ExportError("'from' is after 'to'.", field="from")
    with transaction.atomic():
        lock_trail()  # serialises with every other export's request and commit (each records an event)
        _refuse_while_in_flight(recipient)
        previous = previous_export(recipient)
        export = Export.objects.create(
            model=model,
            version=version,
            date_from=date_from,
            date_to=date_to,
            recipient=recipient,
            exporter=user,
            previous=previous,
            progress_note="Waiting for a worker.",
        )
        record_event(
            events.EXPORT_REQUESTED,
            actor=actor,
            obj=export,
            payload={
                "model": model.name,
                "version": version.number if version is not None else None,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
                "recipient": recipient.pk if recipient else None,
                "previous_export": previous.pk if previous else None,
            },
        )
        transaction.on_commit(lambda: _queue(export.pk))
    export.refresh_from_db()  # in process, the build has run by now
    return export


def _refuse_while_in_flight(recipient: User | None) -> None:
    """409 while another export to ``recipient`` is queued or building; a stale one is abandoned instead."""
    now = timezone.now()
    for other in Export.objects.select_for_update().filter(recipient=recipient, status__in=IN_FLIGHT).order_by("id"):
        if is_stale(other, now):
            _abandon(
                other, "Its build stopped (the worker was lost) and a new export to the same recipient replaced it."
            )
            continue
        raise ExportError(
            f"Export {other.pk} to the same recipient is still being built ({other.progress}%). Each bundle's "
            "consistency proof starts from the previous one, so they are built one at a time: wait until it is "
            "ready (or has failed), then export again.",
            code="concurrent_export",
            status=409,
        )


def _abandon(export: Export, error: str) -> None:
    """End an in-flight export in error (inside the caller's transaction)."""
    export.status = ExportStatus.ERROR
    export.error = error
    export.progress_note = ""
    export.finished_at = timezone.now()
    export.save(update_fields=["status", "error", "progress_note", "finished_at"])
    record_event(
        events.EXPORT_FAILED, actor=Actor.system(), obj=export, payload={"error_sha256": text_commitment(error)}
    )


def _queue(export_id: int) -> None:
    enqueue("exports.build_export", export_id)  # governance.exports.tasks runs it (by name: it imports this module)


# --- the job ----------------------------------------------------------------------------------------------------


class _Progress:
    """Writes a build's progress to its row, only while the row is still this job's (same ``started_at``)."""

    def __init__(self, export: Export, claim: dt.datetime) -> None:
        self.export_id, self.claim = export.pk, claim

    def __call__(self, percent: int, note: str) -> None:
        Export.objects.filter(pk=self.export_id, status=ExportStatus.BUILDING, started_at=self.claim).update(
            progress=max(0, min(99, percent)), progress_note=note[:200], progress_at=timezone.now()
        )


class _WatchedFile:
    """The bundle's file, reporting the phases ``build_bundle`` goes through by how it is used: the first write
    (the documents and the trail are being written), growth (throttled), and the first read (the manifest is signed
    and the ZIP closed; its hash is being taken)."""

    def __init__(self, target: IO[bytes], progress: Callable[[int, str], None]) -> None:
        self._target, self._progress = target, progress
        self._written, self._last, self._reading = 0, 0.0, False

    def write(self, data: Any) -> int:
        first = self._written == 0
        self._written += len(data)
        now = time.monotonic()
        if first or now - self._last >= 1.0:
            self._last = now
            megabytes = self._written / (1 << 20)
            # 70% once writing starts, creeping up with the size written (a bundle's size is not known ahead).
            self._progress(
                70 + min(19, int(megabytes)),
                f"Writing the documents, reports, trail events and inclusion proofs ({megabytes:.1f} MB so far).",
            )
        return int(self._target.write(data))

    def read(self, *args: Any) -> bytes:
        if not self._reading:
            self._reading = True
            self._progress(92, "Manifest signed; taking the bundle's sha256.")
        return self._target.read(*args)

    def __getattr__(self, name: str) -> Any:  # seek, tell, flush, seekable: the file's own
        return getattr(self._target, name)


def execute_export(export_id: int) -> Export:
    """The job: build the bundle of a queued export, store it and record it (``export.created``). An export left
    ``building`` longer than ``EXPORT_STALE_BUILD_SECONDS`` lost its worker and is taken over. A build that fails ends
    in ``error`` with the reason."""
    with transaction.atomic():
        export = Export.objects.select_for_update().get(pk=export_id)
        stale = export.status == ExportStatus.BUILDING and is_stale(export)
        if export.status != ExportStatus.QUEUED and not stale:
            return export  # a redelivered job (acks late) finds the export already taken, built or failed
        export.status = ExportStatus.BUILDING
        export.started_at = timezone.now()
        export.progress = 1
        export.progress_note = "Taken over: building again from the start." if stale else "Starting."
        export.save(update_fields=["status", "started_at", "progress", "progress_note"])
    progress = _Progress(export, export.started_at)
    try:
        built, name = _build(export, progress)
    except (ActionError, CheckpointRefused) as exc:  # refused: the trail does not verify since its last checkpoint
        return _fail(export, progress, str(exc))
    except Exception:  # a bug must end the build visibly, not leave it building for ever
        logger.exception("export %s failed", export_id)
        return _fail(export, progress, "The bundle could not be built; the error is in the server log.")
    try:
        return _record_built(export, progress, built=built, name=name)
    except ActionError as exc:
        return _fail(export, progress, str(exc))
    except Exception:
        logger.exception("export %s could not be recorded", export_id)
        return _fail(
            export, progress, "The bundle was built but could not be recorded; the error is in the server log."
        )


def _build(export: Export, progress: _Progress) -> tuple[Built, str]:
    export = Export.objects.select_related("model", "version", "recipient", "exporter", "previous__checkpoint").get(
        pk=export.pk
    )
    # The job acts for the person who asked (reports it builds are theirs); ``export.requested`` holds who and how.
    actor = Actor.for_user(export.exporter)
    scope = Scope(model=export.model, version=export.version, date_from=export.date_from, date_to=export.date_to)
    progress(3, "Collecting the model's versions and audit runs.")
    _build_reports(scope, actor=actor, progress=progress)
    progress(60, "Issuing a checkpoint; selecting the trail events in scope and their inclusion proofs.")
    previous = export.previous
    with tempfile.TemporaryDirectory(prefix="assay-export-") as folder:
        path = Path(folder) / "bundle.zip"
        with path.open("w+b") as target:
            built = build_bundle(
                _WatchedFile(target, progress),  # type: ignore[arg-type]  # a file in all but name
                scope=scope,
                exporter=export.exporter,
                recipient=export.recipient,
                previous_checkpoint=previous.checkpoint if previous else None,
                actor=actor,
            )
        progress(96, "Storing the bundle.")
        # Stored before the transaction (see governance.storage): a failure below leaves an unreferenced file only.
        name = store_by_hash(path, folder="exports", sha256=built.sha256, suffix=".zip")
    return built, name


def _build_reports(scope: Scope, *, actor: Actor, progress: _Progress) -> None:
    """Build (or find, when still current) the signed report of every completed run and every version in scope, one
    at a time so the progress can say which. ``build_bundle`` then finds them stored; any this missed it builds."""
    versions = [scope.version] if scope.version is not None else list(scope.model.versions.order_by("number"))
    runs = AuditRun.objects.filter(model_version__in=versions, status=RunStatus.DONE).select_related(
        "model_version__model"
    )
    start, end = scope.window()
    if start:
        runs = runs.filter(created_at__gte=start)
    if end:
        runs = runs.filter(created_at__lt=end)
    work: list[tuple[str, Callable[[], Any]]] = [
        (f"audit run {run.pk}", partial(report_for_run, run, actor=actor)) for run in runs.order_by("id")
    ]
    work += [
        (f"{scope.model.name} v{version.number}", partial(report_for_version, version, actor=actor))
        for version in versions
    ]
    for done, (what, make) in enumerate(work):
        progress(5 + 50 * done // len(work), f"Signed report {done + 1} of {len(work)}: {what}.")
        make()
    progress(55, f"{len(work)} signed report{'s' if len(work) != 1 else ''} ready.")


def _record_built(export: Export, progress: _Progress, *, built: Built, name: str) -> Export:
    with transaction.atomic():
        lock_trail()  # serialises with every other export's request and commit
        row = Export.objects.select_for_update(of=("self",)).select_related("model", "version").get(pk=export.pk)
        if row.status != ExportStatus.BUILDING or row.started_at != progress.claim:
            return row  # taken over or abandoned while this job built: the other outcome stands
        latest = previous_export(row.recipient, exclude=row.pk)
        if (latest.pk if latest else None) != row.previous_id:
            raise ExportError(
                "Another export to the same recipient became ready while this one was being built, so this "
                "bundle's consistency proof starts from the wrong checkpoint. It was not recorded: export again.",
                code="concurrent_export",
                status=409,
            )
        row.status = ExportStatus.READY
        row.progress = 100
        row.progress_note = "Ready."
        row.finished_at = timezone.now()
        row.sha256 = built.sha256
        row.size = built.size
        row.file = name
        row.manifest_sha256 = built.manifest_sha256
        row.checkpoint = built.checkpoint
        row.events = built.events
        row.save()
        record_event(
            events.EXPORT_CREATED,
            actor=Actor.for_user(row.exporter),
            obj=row,
            payload={
                "model": row.model.name,
                "version": row.version.number if row.version else None,
                "from": row.date_from.isoformat() if row.date_from else None,
                "to": row.date_to.isoformat() if row.date_to else None,
                "recipient": row.recipient_id,
                "sha256": built.sha256,
                "size": built.size,
                "manifest_sha256": built.manifest_sha256,
                "checkpoint_size": built.checkpoint.tree_size,
                "events": built.events,
                "previous_export": row.previous_id,
            },
        )
    return row


def _fail(export: Export, progress: _Progress, error: str) -> Export:
    with transaction.atomic():
        row = Export.objects.select_for_update().get(pk=export.pk)
        if row.status == ExportStatus.BUILDING and row.started_at == progress.claim:
            _abandon(row, error)
    return row


def open_bundle(export: Export) -> Any:
    """The stored ZIP, exactly the bytes that were exported."""
    return open_stream(export.file)


def do_create_share(
    *,
    user: User,
    actor: Actor,
    regulator: User,
    expires_at: dt.datetime,
    reason: str,
    model: Any = None,
    export: Export | None = None,
) -> Share:
    """Share a model (and what hangs off it) or one export with a regulator account until ``expires_at``."""
    require_role(user, EXPORTERS, "share evidence with regulators", error=ExportError)
    _regulator(regulator, field="regulator")
    if (model is None) == (export is None):
        raise ExportError("Share either a model or an export, not both and not neither.", field="model")
    if export is not None and export.status != ExportStatus.READY:
        what = "failed: it has no bundle" if export.status == ExportStatus.ERROR else f"is still {export.status}"
        raise ExportError(f"Export {export.pk} {what} to share; share it once it is ready.", field="export")
    now = timezone.now()
    if expires_at <= now:
        raise ExportError("expires_at must be in the future.", field="expires_at")
    if expires_at > now + dt.timedelta(days=settings.EXPORT_SHARE_MAX_DAYS):
        raise ExportError(
            f"expires_at may be at most {settings.EXPORT_SHARE_MAX_DAYS} days from now.", field="expires_at"
        )
    if not reason.strip():
        raise ExportError("Say why it is shared (reason).", field="reason")
    with transaction.atomic():
        share = Share.objects.create(
            model=model, export=export, regulator=regulator, created_by=user, expires_at=expires_at, reason=reason
        )
        record_event(
            events.SHARE_CREATED,
            actor=actor,
            obj=share,
            payload={
                "model": model.name if model is not None else None,
                "export": export.pk if export is not None else None,
                "regulator": regulator.pk,
                "expires_at": format_time(expires_at),
                "reason_sha256": text_commitment(reason),
            },
        )
    return share


def do_revoke_share(*, share: Share, user: User, actor: Actor, reason: str) -> Share:
    """End a share now; the regulator's very next request is refused."""
    require_role(user, EXPORTERS, "revoke shares", error=ExportError)
    if not reason.strip():
        raise ExportError("Say why it is revoked (reason).", field="reason")
    with transaction.atomic():
        locked = Share.objects.select_for_update().get(pk=share.pk)
        if locked.revoked_at is not None:
            raise ExportError("This share is already revoked.", code="already_revoked", status=409)
        if not locked.is_active():
            raise ExportError("This share has already expired.", code="already_expired", status=409)
        locked.revoked_at = timezone.now()
        locked.revoked_by = user
        locked.revoke_reason = reason
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        record_event(events.SHARE_REVOKED, actor=actor, obj=locked, payload={"reason_sha256": text_commitment(reason)})
    return locked


def do_record_share_access(*, user: User, obj: Any, request: Any = None, kind: str = "view") -> None:
    """Record a regulator's access to shared evidence, on the share that grants it (nothing if none does)."""
    share = granting_share(user, obj)
    if share is None:
        return
    actor = Actor.from_request(request) if request is not None else Actor.for_user(user)
    with transaction.atomic():
        record_event(
            events.SHARE_ACCESSED,
            actor=actor,
            obj=share,
            payload={"object_type": obj._meta.label_lower, "object_id": str(obj.pk), "kind": kind},
        )
