"""Datasets and their versions, lineage runs, consent records and data subjects.

Subjects are known only by a pseudonym (a keyed HMAC of their external id; the key lives in settings, never here).
Personal data that Assay must hold is sealed with AES-GCM under a per-subject key; erasure deletes the key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.access.models import Team
from governance.access.scoping import filter_by_team


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def visible_to(self, user: object) -> models.QuerySet[Dataset]:
        """Datasets the user may see (team scope; see governance.access.scoping)."""
        return filter_by_team(self, user)


class Dataset(models.Model):
    """A named collection of data owned by a team; its content lives in numbered versions."""

    name = models.SlugField(unique=True, max_length=100)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="datasets")
    description = models.TextField(blank=True)
    # How OpenLineage producers (Airflow, Spark, dbt) name this dataset; their events are mapped through it.
    openlineage_namespace = models.CharField(max_length=500, blank=True)
    openlineage_name = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["openlineage_namespace", "openlineage_name"],
                condition=~Q(openlineage_namespace=""),
                name="openlineage_name_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class DataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    EXTERNAL = "external", "External (not stored by Assay)"
    SOURCE = "source", "Source (read where it lives)"


class DatasetVersion(models.Model):
    """One immutable version of a dataset: its content hash, schema, profile and where it lives."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    format = models.CharField(max_length=10, choices=DataFormat.choices)
    file = models.FileField(upload_to="datasets/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    # The CSV field separator the file was read with on upload (audits read it the same way).
    delimiter = models.CharField(max_length=4, blank=True, default="")
    external_uri = models.CharField(max_length=2000, blank=True)
    # A source read where it lives (governance.data.sources): its URI (never a credential) and the evidence that it
    # is unchanged (file hashes, or a SQL relation's row count and content digest), checked before every audit.
    source_uri = models.CharField(max_length=2000, blank=True)
    source_evidence = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    schema = models.JSONField(default=list, blank=True)  # [{"name", "dtype", "nullable"}]
    source = models.CharField(max_length=500, blank=True)
    licence = models.CharField(max_length=200, blank=True)
    collected_from = models.DateField(null=True, blank=True)
    collected_to = models.DateField(null=True, blank=True)
    subject_id_column = models.CharField(max_length=200, blank=True)
    label_column = models.CharField(max_length=200, blank=True)
    profile = models.JSONField(default=dict, blank=True)
    subject_count = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Being profiled"
    DONE = "done", "Registered"
    REFUSED = "refused", "Refused"


class DatasetUpload(models.Model):
    """A large dataset file a web node has stored and a worker is profiling into the next version: the web node's
    memory does not depend on the file it receives (docs/data.md). It becomes a version, or a refusal saying why."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    status = models.CharField(max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED)
    file = models.CharField(max_length=500)  # the stored object's name (content-addressed)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    original_name = models.CharField(max_length=255, blank=True)
    # The registration's settings as given (column roles, delimiter, markers, provenance), JSON-safe.
    metadata = models.JSONField(default=dict)
    actor = models.JSONField(default=dict)  # the trail actor of the request (ids only), used for the version's event
    version = models.OneToOneField(DatasetVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.TextField(blank=True)
    error_field = models.CharField(max_length=64, blank=True)
    # The worker profiling it (governance.leases identity) and since when: a job delivered again takes over only
    # when that worker is gone or its lease ran out.
    holder = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"upload {self.pk} of {self.dataset_id} ({self.status})"


class QualityFinding(models.Model):
    """One data-quality observation made when a version was profiled (missing values, duplicates, ...)."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="quality_findings")
    kind = models.CharField(max_length=32)
    column = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10)  # "info" or "warning"
    measured = models.JSONField(default=dict)
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.column} in {self.version_id}"


class DatasetSubject(models.Model):
    """A subject (by pseudonym) whose rows are in a dataset version: indexed on upload so a withdrawal finds
    the versions that hold a subject without rescanning any file."""

    # No index of its own on version: the unique constraint's index starts with it and serves every lookup by
    # version; a second index cost a sixth of a million-subject upload's time (issue 20).
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="+", db_index=False)
    pseudonym = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "pseudonym"], name="dataset_subject_unique")]

    def __str__(self) -> str:
        return f"{self.pseudonym[:12]} in {self.version_id}"


# --- lineage ---------------------------------------------------------------------------------------------------


class RunState(models.TextChoices):
    START = "START", "Started"
    RUNNING = "RUNNING", "Running"
    COMPLETE = "COMPLETE", "Completed"
    FAIL = "FAIL", "Failed"
    ABORT = "ABORT", "Aborted"
    OTHER = "OTHER", "Other"


class LineageRunQuerySet(models.QuerySet["LineageRun"]):
    def visible_to(self, user: object) -> models.QuerySet[LineageRun]:
        """Runs the user may see (team scope); runs that no team owns are visible organisation-wide only."""
        return filter_by_team(self, user)


class LineageRun(models.Model):
    """A job run that read some dataset versions and wrote others, or trained model versions."""

    run_id = models.UUIDField(unique=True, default=uuid.uuid4)
    job_namespace = models.CharField(max_length=500, default="assay")
    job_name = models.CharField(max_length=500)
    code_ref = models.CharField(max_length=500, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.COMPLETE)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, default="api")  # api, openlineage or registry
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, blank=True, related_name="lineage_runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = LineageRunQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.job_namespace}/{self.job_name} run {self.run_id}"


class Direction(models.TextChoices):
    INPUT = "input", "Input"
    OUTPUT = "output", "Output"


class LineageLink(models.Model):
    """One input or output of a run: a dataset version, or (as an output) a model version."""

    run = models.ForeignKey(LineageRun, on_delete=models.PROTECT, related_name="links")
    direction = models.CharField(max_length=6, choices=Direction.choices)
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="lineage_links"
    )
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="lineage_links"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dataset_version__isnull=False, model_version__isnull=True)
                | Q(dataset_version__isnull=True, model_version__isnull=False, direction="output"),
                name="link_is_one_dataset_or_one_output_model",
            ),
            models.UniqueConstraint(fields=["run", "direction", "dataset_version"], name="link_dataset_once"),
            models.UniqueConstraint(fields=["run", "direction", "model_version"], name="link_model_once"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} of run {self.run_id}"


class OpenLineageEvent(models.Model):
    """An OpenLineage RunEvent exactly as received, with what could not be mapped to Assay datasets."""

    run = models.ForeignKey(LineageRun, on_delete=models.PROTECT, related_name="openlineage_events")
    event_type = models.CharField(max_length=10)
    event_time = models.DateTimeField()
    sha256 = models.CharField(max_length=64, unique=True)
    body = models.JSONField()
    unmapped = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"OpenLineage {self.event_type} for run {self.run_id}"


# --- consent and subjects --------------------------------------------------------------------------------------


class LegalBasis(models.TextChoices):
    # GDPR Article 6(1)(a)-(f).
    CONSENT = "consent", "Consent (Art. 6(1)(a))"
    CONTRACT = "contract", "Contract (Art. 6(1)(b))"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
    VITAL_INTERESTS = "vital_interests", "Vital interests (Art. 6(1)(d))"
    PUBLIC_TASK = "public_task", "Public task (Art. 6(1)(e))"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art. 6(1)(f))"


class Purpose(models.Model):
    """A purpose of processing (``model_training``, say) with its legal basis under GDPR Art. 6."""

    code = models.SlugField(unique=True, max_length=64)
    description = models.TextField()
    legal_basis = models.CharField(max_length=24, choices=LegalBasis.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Subject(models.Model):
    """A data subject, known only by pseudonym (HMAC-SHA256 of the external id under PSEUDONYM_KEY)."""

    pseudonym = models.CharField(max_length=64, primary_key=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.pseudonym


class SubjectKey(models.Model):
    """The per-subject data key, wrapped under a key derived from settings; deleting it is the erasure."""

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, primary_key=True, related_name="key")
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"key of {self.subject_id[:12]}"


class PersonalRecord(models.Model):
    """Personal data about a subject (contact details for a request, say), sealed with AES-GCM."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="personal_records")
    category = models.SlugField(max_length=64)
    ciphertext = models.BinaryField()  # nonce (12 bytes) || AES-GCM ciphertext and tag
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.category} of {self.subject_id[:12]}"


class ConsentKind(models.TextChoices):
    GIVEN = "given", "Given"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


class ConsentImport(models.Model):
    """One bulk import of consent events: the file's hash and counts (one trail event covers the batch)."""

    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=255, blank=True)
    row_count = models.BigIntegerField()
    subject_count = models.BigIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"consent import {self.pk} ({self.row_count} rows)"


class ConsentEvent(models.Model):
    """A consent given, withdrawn or expired for one subject and purpose, with its consent-receipt fields
    (Kantara Consent Receipt / ISO/IEC TS 27560)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="consent_events")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consent_events")
    kind = models.CharField(max_length=10, choices=ConsentKind.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)
    notice_version = models.CharField(max_length=100, blank=True)
    controller = models.CharField(max_length=200, blank=True)
    pii_categories = models.JSONField(default=list, blank=True)
    collection_method = models.CharField(max_length=100, blank=True)
    jurisdiction = models.CharField(max_length=20, blank=True)
    batch = models.ForeignKey(ConsentImport, on_delete=models.PROTECT, null=True, blank=True, related_name="events")

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["purpose", "subject", "occurred_at"], name="consent_state_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.purpose_id} by {self.subject_id[:12]}"


class RequestKind(models.TextChoices):
    ACCESS = "access", "Access (Art. 15)"
    ERASURE = "erasure", "Erasure (Art. 17)"


class SubjectRequest(models.Model):
    """A data-subject request that was handled: who handled it and when."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=8, choices=RequestKind.choices)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} request of {self.subject_id[:12]}"


class KeyFingerprint(models.Model):
    """A one-way fingerprint of a configured secret (HMAC of a fixed label under it), recorded at first start so a
    different key is caught at every start instead of silently changing every pseudonym."""

    name = models.CharField(max_length=64, primary_key=True)
    fingerprint = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
