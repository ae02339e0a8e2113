"""Audit policies (versioned YAML) and audit runs with their check results."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Policy(models.Model):
    """A named audit policy; its content lives in numbered, immutable versions."""

    name = models.SlugField(unique=True, max_length=64)
    title = models.CharField(max_length=200)
    builtin = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> PolicyVersion | None:
        """The newest version (what an audit uses unless told otherwise)."""
        return self.versions.order_by("-number").first()


class PolicyVersion(models.Model):
    """One version of a policy: the YAML exactly as written, its parsed document and hashes."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    document = models.JSONField()
    sha256 = models.CharField(max_length=64)  # of the text as written
    canonical_sha256 = models.CharField(max_length=64)  # of the parsed document (key order, comments do not count)
    change_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy", "number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    ERROR = "error", "Error (could not run)"


class Verdict(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    INSUFFICIENT = "insufficient_evidence", "Insufficient evidence"


class AuditRun(models.Model):
    """One audit: a model version against an evaluation dataset version under a policy version, with the column
    roles; its checks' full results, verdict, and what reproduces it (library versions, seeds, input hashes)."""

    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="audit_runs")
    dataset_version = models.ForeignKey(
        "governance.DatasetVersion", on_delete=models.PROTECT, related_name="audit_runs"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="audit_runs")
    column_roles = models.JSONField()
    # sha256 over the artifact, dataset and policy hashes and the column roles: the same inputs, the same run.
    inputs_sha256 = models.CharField(max_length=64, db_index=True)
    input_hashes = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    progress_note = models.CharField(max_length=200, blank=True)
    verdict = models.CharField(max_length=24, choices=Verdict.choices, blank=True)
    verdict_reasons = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=dict, blank=True)
    results_sha256 = models.CharField(max_length=64, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    seeds = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    forced = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # The lease of a running run (see audits.actions.is_stale): who runs it (governance.leases.worker_identity),
    # when it last said it was alive, and how many times it was started (1, then each take-over of a lost run).
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model_version", "status"], name="audit_run_by_version")]
        constraints = [
            # One live (queued or running) run per inputs: two identical submissions cannot both start one.
            models.UniqueConstraint(
                fields=["inputs_sha256"],
                condition=Q(status__in=["queued", "running"]),
                name="one_live_audit_per_inputs",
            )
        ]

    def __str__(self) -> str:
        return f"audit {self.pk} of {self.model_version_id} ({self.status})"


class CheckResult(models.Model):
    """One check's outcome in a run: pass, fail or insufficient evidence, the reason in words, every number."""

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="checks")
    check_name = models.CharField(max_length=40)
    outcome = models.CharField(max_length=24, choices=Verdict.choices)
    required = models.BooleanField(default=True)
    reason = models.TextField()
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "check_name"], name="one_result_per_check")]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.outcome}"


class ReportKind(models.TextChoices):
    RUN = "run", "One audit run"
    VERSION = "version", "A model version (all its completed runs)"


class Report(models.Model):
    """A signed PDF compliance report of an audit run or a model version, stored once under its sha256."""

    # A random id: it is printed on the report's cover before the row exists, and it is not guessable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=ReportKind.choices)
    run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, null=True, blank=True, related_name="reports")
    # Set for both kinds (a run's report names its run's version), so visibility follows the model.
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    sha256 = models.CharField(max_length=64, db_index=True)  # of the signed PDF, the bytes stored
    size = models.BigIntegerField()
    path = models.CharField(max_length=500)  # storage name (governance.storage.store_by_hash)
    unsigned_sha256 = models.CharField(max_length=64)  # of the document before it was signed
    signer_certificate_sha256 = models.CharField(max_length=64)  # of the signing certificate's DER bytes
    signed_at = models.DateTimeField()
    pages = models.PositiveIntegerField(default=0)
    verdict = models.CharField(max_length=24, blank=True)
    # sha256 over what the report states (results, approvals, deployments...): equal means it is still current.
    inputs_sha256 = models.CharField(max_length=64, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="run") & Q(run__isnull=False)) | (Q(kind="version") & Q(run__isnull=True)),
                name="report_run_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.kind})"

    def read_bytes(self) -> bytes:
        """The signed PDF exactly as stored."""
        with default_storage.open(self.path, "rb") as handle:
            return bytes(handle.read())


class ReportBuildStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    ERROR = "error", "Failed"


class ReportBuild(models.Model):
    """A run's signed report asked for in the portal and made by a worker (never in the request): its state and
    progress, shown on the run's page while it builds (``audits.tasks.build_run_report``)."""

    run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="report_builds")
    status = models.CharField(max_length=8, choices=ReportBuildStatus.choices, default=ReportBuildStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    report = models.ForeignKey(Report, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"report build {self.pk} of run {self.run_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in (ReportBuildStatus.QUEUED, ReportBuildStatus.BUILDING)


class BatchSource(models.Model):
    """Where a monitored version's production batches live: a partitioned source (a PostgreSQL table with a date
    column, or a folder of Hive-style ``column=date`` Parquet folders) read one day's partition at a time, on the
    schedule, as each day becomes due (``lag_days`` after it)."""

    version = models.OneToOneField("registry.ModelVersion", on_delete=models.PROTECT, related_name="batch_source")
    # The table or folder (postgresql://<connection>/<schema.table>, parquet:///...): no credentials, ever.
    uri = models.CharField(max_length=2000)
    partition_column = models.CharField(max_length=63)
    lag_days = models.PositiveSmallIntegerField(default=1)  # 1: yesterday's partition is due today (UTC)
    start = models.DateField(null=True, blank=True)  # the first day, as configured (null: configured before 0006)
    next_partition = models.DateField()  # the next day to read
    enabled = models.BooleanField(default=True)
    waiting = models.TextField(blank=True)  # why the last sweep did not read the next partition (not there yet)
    configured_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    configured_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"batch source of {self.version_id}"


class TakenPartition(models.Model):
    """One day's partition of a source taken as one of a version's batches: the database refuses a second batch of
    the same version, source (table or folder, and partition column) and day."""

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    # sha256 of the source's location and partition column (``audits.monitoring.actions.sources.source_key``): the
    # location alone may be 2,000 characters, too long for a unique index.
    source_key = models.CharField(max_length=64)
    uri = models.CharField(max_length=2000)
    partition_column = models.CharField(max_length=63)
    day = models.DateField()
    batch = models.OneToOneField("registry.MonitoringBatch", on_delete=models.PROTECT, related_name="taken_partition")
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "day"]
        constraints = [
            models.UniqueConstraint(fields=["version", "source_key", "day"], name="partition_taken_once_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.uri}#{self.partition_column}={self.day.isoformat()} taken by {self.version_id}"
