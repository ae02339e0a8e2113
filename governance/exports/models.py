"""Exports (evidence bundles, retained byte for byte) and shares (what a regulator may see, until when)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.exports import events as _events  # noqa: F401  (registers the trail event types)


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    ERROR = "error", "Error (not built)"


class Export(models.Model):
    """One evidence bundle: its scope, who asked for it for whom, its build's progress, and once built the stored ZIP
    and the checkpoint it is proved against (empty until ``status`` is ``ready``)."""

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
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the build done.")
    progress_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # Set when a job takes the build; also the job's claim: a job finds out it was taken over when this changed.
    started_at = models.DateTimeField(null=True, blank=True)
    # The build's heartbeat: every progress report moves it. A build is judged lost by it, not by when it started,
    # so a long build that keeps reporting is never taken over.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size = models.BigIntegerField(null=True, blank=True)
    file = models.CharField(max_length=255, blank=True, help_text="Storage name of the ZIP (content-addressed).")
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    checkpoint = models.ForeignKey(
        "governance.Checkpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The export to the same recipient whose checkpoint this bundle's consistency proof starts from.
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    events = models.PositiveIntegerField(null=True, blank=True, help_text="Trail events in the bundle.")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.READY)
                | (Q(checkpoint__isnull=False, size__isnull=False, events__isnull=False) & ~Q(sha256="") & ~Q(file="")),
                name="export_ready_has_its_bundle",
            )
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.model_id}"

    @property
    def is_ready(self) -> bool:
        return self.status == ExportStatus.READY

    @property
    def is_live(self) -> bool:
        """Still being built (queued or building): the portal keeps polling it."""
        return self.status in (ExportStatus.QUEUED, ExportStatus.BUILDING)


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
