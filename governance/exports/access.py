"""Access to exports and shares: one chokepoint each; not yours and not there both answer 404.

Officers and administrators see every export and share. A regulator sees the shares made to them, and an export
while a share gives it to them: a share of that export, or a share of its model when the export was made for them
(its recipient). Checked on every request against the clock, so expiry and revocation cut access at once.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.access.roles import Role
from governance.access.scoping import get_visible_or_404
from governance.exports.models import Export, Share


def exports_visible_to(user: Any) -> QuerySet[Export]:
    """Exports ``user`` may see (and download)."""
    exports = Export.objects.select_related("model", "version", "recipient", "exporter", "checkpoint")
    if not getattr(user, "is_authenticated", False):
        return exports.none()
    if user.role in (Role.OFFICER, Role.ADMIN):
        return exports
    if user.role == Role.REGULATOR:
        active = Share.objects.active(timezone.now()).filter(regulator=user)
        return exports.filter(
            Q(pk__in=active.filter(export__isnull=False).values("export_id"))
            | Q(recipient=user, model_id__in=active.filter(model__isnull=False).values("model_id"))
        )
    return exports.none()


def access_export(user: Any, pk: int, request: Any = None, *, kind: str = "view") -> Export:
    """Export ``pk`` if ``user`` may see it, else 404 (a regulator's access is recorded as ``kind``)."""
    return get_visible_or_404(exports_visible_to(user), user, request, access_kind=kind, pk=pk)


def shares_visible_to(user: Any) -> QuerySet[Share]:
    """Shares ``user`` may see: all of them (officers, administrators) or those made to them (regulators)."""
    shares = Share.objects.select_related("model", "export", "regulator", "created_by", "revoked_by")
    if not getattr(user, "is_authenticated", False):
        return shares.none()
    if user.role in (Role.OFFICER, Role.ADMIN):
        return shares
    if user.role == Role.REGULATOR:
        return shares.filter(regulator=user)
    return shares.none()


def access_share(user: Any, pk: int, request: Any = None) -> Share:
    """Share ``pk`` if ``user`` may see it, else 404."""
    return get_visible_or_404(shares_visible_to(user), user, request, pk=pk)


def granting_share(user: Any, obj: Any) -> Share | None:
    """The active share through which regulator ``user`` sees ``obj`` (the newest, when several do), or None."""
    active = Share.objects.active(timezone.now()).filter(regulator=user).order_by("-id")
    if isinstance(obj, Share):
        return None  # a regulator reading their own share is not an access to shared evidence
    if isinstance(obj, Export):
        direct = active.filter(export=obj).first()
        if direct is not None or obj.recipient_id != user.pk:
            return direct
        return active.filter(model_id=obj.model_id).first()
    model_id = _model_id_of(obj)
    return None if model_id is None else active.filter(model_id=model_id).first()


def _model_id_of(obj: Any) -> int | None:
    """The registered model an object belongs to: the model itself, a version's, a run's or a report's."""
    label = obj._meta.label_lower
    if label == "registry.registeredmodel":
        return int(obj.pk)
    for path in ("model_id", "model_version.model_id", "run.model_version.model_id", "version.model_id"):
        value: Any = obj
        try:
            for part in path.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        if value is not None:
            return int(value)
    return None


def shared_model_ids(user: Any) -> Any:
    """Ids of the models an active share grants regulator ``user`` (the access layer's hook; a subquery, never
    cached, so an expiry or a revocation takes effect on the very next request)."""
    return Share.objects.active().filter(regulator=user, model__isnull=False).values("model_id")
