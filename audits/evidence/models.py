"""Imported result files and the measurements read from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion


class Tool(models.TextChoices):
    INSPECT = "inspect", "Inspect (UK AISI)"
    GARAK = "garak", "garak (NVIDIA)"
    PROMPTFOO = "promptfoo", "promptfoo"
    LM_EVAL = "lm-eval", "lm-evaluation-harness"
    EVIDENTLY = "evidently", "Evidently"
    GISKARD = "giskard", "Giskard"


class EvidenceImport(models.Model):
    """One result file of another tool, imported as evidence for one model version (stored by its sha256)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="evidence_imports")
    tool = models.CharField(max_length=20, choices=Tool.choices)
    tool_version = models.CharField(max_length=200)
    # The version was stated by the uploader (the file does not record it: Evidently, Giskard), not read from the file.
    tool_version_stated = models.BooleanField(default=False)
    format = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField()
    path = models.CharField(max_length=500)  # storage name (governance.storage.store_by_hash)
    original_name = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["version", "sha256"], name="evidence_file_once_per_version")]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} evidence for {self.version} ({self.sha256[:12]})"


class EvidenceMeasurement(models.Model):
    """One metric of one task or probe read from an imported file, in the normalised form the policies judge."""

    evidence = models.ForeignKey(EvidenceImport, on_delete=models.CASCADE, related_name="measurements")
    task = models.CharField(max_length=200)
    metric = models.CharField(max_length=200)
    value = models.FloatField(null=True, blank=True)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    successes = models.PositiveIntegerField(null=True, blank=True)
    higher_is_better = models.BooleanField(null=True, blank=True)
    # Per-item outcomes when the file lists them: [[item id, passed], ...] (the counts above are their tally).
    outcomes = models.JSONField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["evidence", "task", "metric", "id"]

    def __str__(self) -> str:
        return f"{self.task} {self.metric} = {self.value}"
