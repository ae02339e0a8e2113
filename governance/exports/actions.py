"""Actions of exports and regulator access: export a bundle, share, revoke, record a regulator's access.

Each action owns its transaction and appends its trail event inside it (STYLE.md). Building a bundle is slow, so
``do_create_export`` builds and stores the ZIP first, then commits the Export row and its event in one short
transaction, which also checks that no other export to the same recipient committed in between (its consistency
proof would then start from the wrong checkpoint): the loser is refused with 409 and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
from governance.exports import events
from governance.exports.collect import Built, Scope, build_bundle
from governance.exports.models import Export, Share
from governance.storage import store_by_hash
from governance.trail.leaf import format_time, text_commitment
from governance.trail.log import Actor, lock_trail, record_event

EXPORTERS = frozenset({Role.OFFICER, Role.ADMIN})


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


def previous_export(recipient: User | None) -> Export | None:
    """The latest export to ``recipient`` (None: exports made for nobody in particular)."""
    return Export.objects.filter(recipient=recipient).select_related("checkpoint").order_by("-id").first()


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
    """Build, store and record an evidence bundle for ``model`` (optionally one version and a date range)."""
    require_role(user, EXPORTERS, "export evidence bundles", error=ExportError)
    _regulator(recipient, field="recipient")
    if version is not None and version.model_id != model.pk:
        raise ExportError(f"Version {version.number} is not a version of {model.name}.", field="version")
    if date_from and date_to and date_from > date_to:
        raise ExportError("'from' is after 'to'.", field="from")
    previous = previous_export(recipient)
    scope = Scope(model=model, version=version, date_from=date_from, date_to=date_to)
    with tempfile.TemporaryDirectory(prefix="assay-export-") as folder:
        path = Path(folder) / "bundle.zip"
        with path.open("w+b") as target:
            built = build_bundle(
                target,
                scope=scope,
                exporter=user,
                recipient=recipient,
                previous_checkpoint=previous.checkpoint if previous else None,
                actor=actor,
            )
        # Stored before the transaction (see governance.storage): a failure below leaves an unreferenced file only.
        name = store_by_hash(path, folder="exports", sha256=built.sha256, suffix=".zip")
    return _record_export(
        user=user, actor=actor, scope=scope, recipient=recipient, previous=previous, built=built, name=name
    )


def _record_export(
    *, user: User, actor: Actor, scope: Scope, recipient: User | None, previous: Export | None, built: Built, name: str
) -> Export:
    with transaction.atomic():
        lock_trail()  # serialises with every other export's commit, as every export records an event
        latest = previous_export(recipient)
        if (latest.pk if latest else None) != (previous.pk if previous else None):
            raise ExportError(
                "Another export to the same recipient was completed while this one was being built, so this "
                "bundle's consistency proof starts from the wrong checkpoint. Nothing was recorded: export again.",
                code="concurrent_export",
                status=409,
            )
        export = Export.objects.create(
            model=scope.model,
            version=scope.version,
            date_from=scope.date_from,
            date_to=scope.date_to,
            recipient=recipient,
            exporter=user,
            sha256=built.sha256,
            size=built.size,
            file=name,
            manifest_sha256=built.manifest_sha256,
            checkpoint=built.checkpoint,
            previous=previous,
            events=built.events,
        )
        record_event(
            events.EXPORT_CREATED,
            actor=actor,
            obj=export,
            payload={
                "model": scope.model.name,
                "version": scope.version.number if scope.version else None,
                "from": scope.date_from.isoformat() if scope.date_from else None,
                "to": scope.date_to.isoformat() if scope.date_to else None,
                "recipient": recipient.pk if recipient else None,
                "sha256": built.sha256,
                "size": built.size,
                "manifest_sha256": built.manifest_sha256,
                "checkpoint_size": built.checkpoint.tree_size,
                "events": built.events,
                "previous_export": previous.pk if previous else None,
            },
        )
    return export


def open_bundle(export: Export) -> Any:
    """The stored ZIP, exactly the bytes that were exported."""
    return default_storage.open(export.file, "rb")


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
    from governance.exports.access import granting_share

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
