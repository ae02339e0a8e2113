"""Exports (evidence bundles, retained byte for byte) and shares (what a regulator may see, until when)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.exports import events as _events  # noqa: F401  (registers the trail event types)


class Export(models.Model):
    """One evidence bundle: its scope, who made it for whom, the stored ZIP and the checkpoint it is proved against."""

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.PROTECT, related_name="exports")
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="exports"
    )
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    exporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    file = models.CharField(max_length=255, help_text="Storage name of the ZIP (content-addressed).")
    manifest_sha256 = models.CharField(max_length=64)
    checkpoint = models.ForeignKey("governance.Checkpoint", on_delete=models.PROTECT, related_name="+")
    # The export to the same recipient whose checkpoint this bundle's consistency proof starts from.
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    events = models.PositiveIntegerField(help_text="Trail events in the bundle.")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.model_id}"


class ShareQuerySet(models.QuerySet["Share"]):
    def active(self, now: dt.datetime | None = None) -> models.QuerySet[Share]:
        """Shares neither revoked nor expired at ``now`` (default: this instant; never cached)."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class Share(models.Model):
    """A model, or one export, shared with a regulator account until ``expires_at`` (revocable)."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, null=True, blank=True, related_name="shares"
    )
    export = models.ForeignKey(Export, on_delete=models.PROTECT, null=True, blank=True, related_name="shares")
    regulator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shares_received")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # Free text stays here (the trail holds its hash), where it can be corrected or erased.
    reason = models.TextField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)

    objects = ShareQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(model__isnull=False, export__isnull=True) | Q(model__isnull=True, export__isnull=False)),
                name="share_of_a_model_or_an_export",
            )
        ]

    def __str__(self) -> str:
        what = f"model {self.model_id}" if self.model_id else f"export {self.export_id}"
        return f"share {self.pk} of {what} with {self.regulator_id}"

    def is_active(self, now: dt.datetime | None = None) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and self.expires_at > (now or timezone.now())
