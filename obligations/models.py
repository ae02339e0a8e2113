"""Stored catalogues (numbered, immutable versions, as policies are), each model's obligation scope, and the
officers' decisions on single obligations of a version."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Catalogue(models.Model):
    """A named obligation catalogue; its content lives in numbered, immutable versions."""

    name = models.SlugField(unique=True, max_length=64)
    title = models.CharField(max_length=200)
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CatalogueVersion(models.Model):
    """One version of a catalogue: the YAML exactly as written, its parsed document and hashes."""

    catalogue = models.ForeignKey(Catalogue, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    document = models.JSONField()
    sha256 = models.CharField(max_length=64)  # of the text as written
    canonical_sha256 = models.CharField(max_length=64)  # of the parsed document
    change_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["catalogue", "number"]
        constraints = [models.UniqueConstraint(fields=["catalogue", "number"], name="catalogue_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.catalogue.name} v{self.number}"


class ObligationScope(models.Model):
    """Which roles the organisation holds for a model (the Act's provider and deployer) and which catalogues apply:
    the classification cannot tell either, so an officer sets them (until then, the defaults in obligations.status)."""

    model = models.OneToOneField("registry.RegisteredModel", on_delete=models.PROTECT, related_name="obligation_scope")
    roles = models.JSONField()
    catalogues = models.JSONField()
    reason = models.TextField(blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
    event_seq = models.BigIntegerField()

    def __str__(self) -> str:
        return f"obligation scope of {self.model_id}"


class DecisionKind(models.TextChoices):
    ATTESTED = "attested", "Attested by an officer"
    NOT_APPLICABLE = "not_applicable", "Not applicable (an officer's reason)"


class ObligationDecision(models.Model):
    """An officer's decision on one obligation of one version: attested (with a document's hash) or not applicable
    (with a reason). The latest decision on an obligation is the one in force; earlier ones stay as history."""

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="obligation_decisions")
    catalogue = models.CharField(max_length=64)
    catalogue_version = models.PositiveIntegerField()
    obligation = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    reason = models.TextField()
    document_name = models.CharField(max_length=255, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    event_seq = models.BigIntegerField()

    class Meta:
        ordering = ["decided_at", "id"]
        indexes = [models.Index(fields=["version", "catalogue", "obligation"], name="obligation_decision_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.catalogue}/{self.obligation} on {self.version_id}"


class IncidentKind(models.TextChoices):
    """The kinds of serious incident whose reporting clock differs (Art. 73(2)-(4))."""

    DEATH = "death", "The death of a person (10 days, Art. 73(4))"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure", "Serious, irreversible disruption of critical infrastructure"
    WIDESPREAD_INFRINGEMENT = "widespread_infringement", "A widespread infringement (2 days, Art. 73(3))"
    OTHER = "other", "Another serious incident (15 days, Art. 73(2))"


class Incident(models.Model):
    """A serious incident of a model (Art. 73): when the organisation became aware of it, the clock that applies,
    the reminders sent, and the evidence bundle sent to the market surveillance authority once reported."""

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.PROTECT, related_name="incidents")
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    kind = models.CharField(max_length=32, choices=IncidentKind.choices)
    description = models.TextField()
    aware_at = models.DateTimeField()
    deadline = models.DateTimeField()
    reminders = models.JSONField(default=list, blank=True)  # the reminders sent: "1-day", "overdue"
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(null=True, blank=True)
    report_export = models.ForeignKey(
        "governance.Export", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return f"incident {self.pk} of {self.model_id}"


class StepKind(models.TextChoices):
    """What an officer did about an incident after recording it (Assay's reading of Art. 73(6): investigate, assess
    the risk, correct, cooperate with the authority)."""

    INVESTIGATION = "investigation", "Investigation of the incident and the system"
    RISK_ASSESSMENT = "risk_assessment", "Risk assessment"
    CORRECTIVE_ACTION = "corrective_action", "Corrective action"
    AUTHORITY_CONTACT = "authority_contact", "Contact with the authority"
    NOTE = "note", "Other step"


class IncidentStep(models.Model):
    """One step taken about a serious incident, recorded by an officer (its trail event holds the note's hash)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="steps")
    kind = models.CharField(max_length=32, choices=StepKind.choices)
    note = models.TextField()
    document_name = models.CharField(max_length=255, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    event_seq = models.BigIntegerField()

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"step {self.pk} of incident {self.incident_id}"


class Implementation(models.TextChoices):
    IMPLEMENTED = "implemented", "Implemented"
    PARTIAL = "partial", "Partly implemented"
    PLANNED = "planned", "Planned"
    NOT_IMPLEMENTED = "not_implemented", "Not implemented"


class SoaEntry(models.Model):
    """One decision of the organisation's ISO/IEC 42001 statement of applicability on one Annex A control: whether
    it applies, why, how far it is implemented, and the document that shows it. The latest per control is in force."""

    control = models.CharField(max_length=16)
    applicable = models.BooleanField()
    justification = models.TextField()
    implementation = models.CharField(max_length=16, choices=Implementation.choices, blank=True)
    document_name = models.CharField(max_length=255, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    event_seq = models.BigIntegerField()

    class Meta:
        ordering = ["decided_at", "id"]
        indexes = [models.Index(fields=["control"], name="soa_entry_control")]

    def __str__(self) -> str:
        return f"SoA {self.control}: {'applicable' if self.applicable else 'excluded'}"
