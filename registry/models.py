"""Registered models, their versions, approvals and deployments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.access.models import Team
from governance.access.scoping import filter_by_team

MODEL_CARD_SECTIONS = (
    # The sections of "Model Cards for Model Reporting" (Mitchell et al., 2019).
    "model_details",
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
)


class RiskTier(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited (Art. 5)"
    HIGH = "high", "High risk (Art. 6, Annex III)"
    LIMITED = "limited", "Limited risk (Art. 50 transparency)"
    MINIMAL = "minimal", "Minimal risk"


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    DEPLOYED = "deployed", "Deployed"
    RETIRED = "retired", "Retired"


class Framework(models.TextChoices):
    ONNX = "onnx", "ONNX"
    SKOPS = "skops", "skops (scikit-learn)"
    PREDICTIONS = "predictions-only", "Predictions only (model lives elsewhere)"


class Environment(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class RegisteredModelQuerySet(models.QuerySet["RegisteredModel"]):
    def visible_to(self, user: object) -> models.QuerySet[RegisteredModel]:
        """Models the user may see (team scope; see governance.access.scoping)."""
        return filter_by_team(self, user)


class RegisteredModel(models.Model):
    """A model an organisation builds or buys: its purpose, owner team and EU AI Act risk tier."""

    name = models.SlugField(unique=True, max_length=100)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    purpose = models.TextField()
    intended_use = models.TextField(blank=True)
    out_of_scope_uses = models.TextField(blank=True)
    business_kpis = models.JSONField(default=list, blank=True)
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    risk_answers = models.JSONField(default=dict)
    risk_rationale = models.TextField()
    # What the tier rests on (registry.risk.Classification.basis): provisions cited by catalogue id, the Art. 50
    # duties (a separate fact from the tier), the duties named, and the text version of the Act classified under.
    risk_basis = models.JSONField(default=dict, blank=True)
    # Why the tier last changed (the trail holds only this text's hash, so it can be corrected or erased here).
    risk_change_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One numbered version of a model: its artifact (or none), metadata, model card and lifecycle state."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=VersionState.choices, default=VersionState.DRAFT)
    framework = models.CharField(max_length=20, choices=Framework.choices)
    artifact = models.FileField(upload_to="artifacts/%Y/%m/", blank=True)
    artifact_name = models.CharField(max_length=255, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    artifact_details = models.JSONField(default=dict, blank=True)
    input_schema = models.JSONField(default=list, blank=True)
    output_schema = models.JSONField(default=list, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=64, blank=True)
    # References to training dataset versions; the data-governance issue turns these into links.
    training_datasets = models.JSONField(default=list, blank=True)
    model_card = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submit_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["model", "number"]
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="version_number_unique_per_model")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.number}"

    @property
    def signed_by(self) -> str:
        """Who signed the artifact, with the method (``key:<trusted key's name>``, or ``cert:<kind>:<identity>`` of the
        signing certificate: registry.signing); "" if unsigned."""
        record = self._signature_record()
        return record.signer if record else ""

    @property
    def signature(self) -> dict[str, str]:
        """What the verified signature established (method, signer, digest, bundle hash and file); {} if unsigned."""
        record = self._signature_record()
        if record is None:
            return {}
        fields = ("method", "signer", "digest_algorithm", "digest", "signature_sha256", "file")
        return {name: str(getattr(record, name)) for name in fields}

    def _signature_record(self) -> VersionSignature | None:
        try:
            return self.signature_record  # type: ignore[no-any-return]
        except VersionSignature.DoesNotExist:
            return None


class VersionSignature(models.Model):
    """The OpenSSF model signature verified when a version's artifact was uploaded (registry.signing): who signed,
    how, the digest they signed, and the signature bundle stored by its hash.

    A table of its own, not columns of ModelVersion: migration 0006 re-classifies stored models with the current
    ModelVersion, so a column added to it later would be read before it exists on a database upgraded from 0005.
    """

    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="signature_record")
    method = models.CharField(max_length=16)  # "key", "certificate" or "sigstore"
    # "key:<name>" or "cert:<kind>:<identity>" (0009); registry.signing.MAX_SIGNER_LENGTH refuses longer ones
    signer = models.CharField(max_length=300, db_index=True)
    digest_algorithm = models.CharField(max_length=16)
    digest = models.CharField(max_length=128)
    signature_sha256 = models.CharField(max_length=64)
    file = models.CharField(max_length=300)  # the stored bundle's storage name
    verified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"signature of {self.version_id} by {self.signer}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Review(models.Model):
    """One reviewer's decision on one submission of a version."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at"]
        # The database, not only the action, guarantees that nobody reviews the same version twice.
        constraints = [models.UniqueConstraint(fields=["version", "reviewer"], name="one_review_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.decision} {self.version} by {self.reviewer_id}"


class Deployment(models.Model):
    """A version live in one environment, from ``deployed_at`` until ``retired_at``."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    deployed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deployed_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    retire_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["deployed_at"]
        constraints = [
            # At most one live version per model and environment: two concurrent deploys cannot both win.
            models.UniqueConstraint(
                fields=["model", "environment"], condition=Q(retired_at__isnull=True), name="one_live_per_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} in {self.environment}"


class Webhook(models.Model):
    """An HTTPS endpoint told about a model's lifecycle transitions, signed with a shared secret."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    # The HMAC key: shown once when the webhook is created; needed in clear to sign, so not hashed (unlike tokens).
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} of {self.model_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One notification to one webhook, with every attempt's outcome."""

    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    event_seq = models.BigIntegerField()
    event_action = models.CharField(max_length=64)
    body = models.TextField(help_text="The exact JSON bytes sent (and signed).")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class FindingResolution(models.TextChoices):
    RETRAIN = "retrain", "Retrain (a new version replaces this one)"
    ACCEPT = "accept", "Accept, with a recorded reason"
    RETIRE = "retire", "Retire the version"


class Finding(models.Model):
    """Something about a model version that a person must decide on (a consent withdrawal in its training data,
    an erasure, later drift or a failed audit): open until a reviewer or officer resolves it with a reason."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    # One open finding per cause: the same withdrawal reported twice does not open a second finding (once resolved,
    # the same cause arising again, say after a new consent and a new withdrawal, opens a new one).
    cause = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    resolution = models.CharField(max_length=10, choices=FindingResolution.choices, blank=True)
    resolution_reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "cause"], condition=Q(status="open"), name="one_open_finding_per_cause"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.version_id} ({self.status})"


# --- monitoring after deployment (audits/monitoring) ----------------------------------------------------------


class ReferenceKind(models.TextChoices):
    TRAINING = "training", "The version's training dataset version"
    EVALUATION = "evaluation", "An evaluation dataset version"


class MonitorConfig(models.Model):
    """How a version is monitored: its reference dataset version (profiled once), its batches' column roles, the
    policy whose monitoring thresholds apply, and the performance baseline that decay is measured from."""

    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="monitor")
    reference = models.ForeignKey("governance.DatasetVersion", on_delete=models.PROTECT, related_name="+")
    reference_kind = models.CharField(max_length=16, choices=ReferenceKind.choices)
    # The batches' column roles: {"features": [{"name", "kind"}], "prediction", "score", "threshold", "favourable",
    # "label", "protected", "reference_groups"} (audits.monitoring.batch.BatchSpec).
    spec = models.JSONField()
    policy = models.CharField(max_length=64, blank=True)  # blank: the one the risk tier requires, else baseline
    profile = models.JSONField()
    profile_sha256 = models.CharField(max_length=64)
    baseline = models.JSONField(default=dict, blank=True)  # {"accuracy", "recall", "roc_auc", "source"}
    # The dataset that holds this model's production batches (one per model, owned by the model's team).
    batches_dataset = models.ForeignKey("governance.Dataset", on_delete=models.PROTECT, related_name="+")
    configured_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    configured_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"monitoring of {self.version_id}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Waiting for its check"
    RUNNING = "running", "Being checked"
    CHECKED = "checked", "Checked"
    ERROR = "error", "The check failed (an error finding is open)"


class MonitoringBatch(models.Model):
    """One production batch of a version: its data (a dataset version), late labels, and its check's results."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="batches")
    number = models.PositiveIntegerField()
    data = models.ForeignKey("governance.DatasetVersion", on_delete=models.PROTECT, related_name="+")
    labels = models.ForeignKey(
        "governance.DatasetVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rows = models.BigIntegerField()
    # Whether the version was live when the batch arrived (a batch for a version not deployed is kept, and flagged).
    deployed = models.BooleanField()
    environments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    results_sha256 = models.CharField(max_length=64, blank=True)
    profile_sha256 = models.CharField(max_length=64, blank=True)
    policy_version = models.CharField(max_length=80, blank=True)
    alerts = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["version", "number"]
        constraints = [models.UniqueConstraint(fields=["version", "number"], name="batch_number_unique_per_version")]
        indexes = [models.Index(fields=["status"], name="batch_by_status")]

    def __str__(self) -> str:
        return f"batch {self.number} of {self.version_id}"


class DriftStatistic(models.Model):
    """One statistic of one batch (a feature's PSI, a group's impact ratio...): the rows of the time series."""

    batch = models.ForeignKey(MonitoringBatch, on_delete=models.CASCADE, related_name="statistics")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=300)  # feature name, "(prediction)", "(score)", "(label)", a group
    kind = models.CharField(max_length=16)  # feature, prediction, score, label, group, performance
    statistic = models.CharField(max_length=32)
    value = models.FloatField(null=True)
    p_value = models.FloatField(null=True)
    level = models.CharField(max_length=24)  # ok, warning, alert, insufficient_evidence, info

    class Meta:
        ordering = ["batch", "id"]
        indexes = [models.Index(fields=["version", "subject", "statistic"], name="drift_series")]

    def __str__(self) -> str:
        return f"{self.statistic} of {self.subject} in {self.batch_id}"
