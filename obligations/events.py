"""Trail event types of the obligations app. Free text (reasons) enters the trail as its hash only."""

from governance.trail.events import register

CATALOGUE_SAVED = register(
    "obligation_catalogue.saved",
    "A version of an obligation catalogue was stored (its text's hash and its canonical document's hash).",
    fields=("catalogue", "version", "sha256", "canonical_sha256", "reason_sha256"),
)
SCOPE_SET = register(
    "obligation_scope.set",
    "An officer set which roles the organisation holds for a model (provider, deployer) and which catalogues apply.",
    fields=("model", "roles", "catalogues", "reason_sha256"),
)
OBLIGATION_ATTESTED = register(
    "obligation.attested",
    "An officer attested that a model version meets an obligation, with the hash of the document that shows it.",
    fields=("model", "version", "catalogue", "catalogue_version", "obligation", "document_sha256", "reason_sha256"),
)
OBLIGATION_NOT_APPLICABLE = register(
    "obligation.not_applicable",
    "An officer declared an obligation not applicable to a model version (the reason's hash).",
    fields=("model", "version", "catalogue", "catalogue_version", "obligation", "reason_sha256"),
)
TECHNICAL_DOCUMENTATION_GENERATED = register(
    "technical_documentation.generated",
    "A version's Annex IV technical documentation was generated and PAdES-signed: the signed PDF's hash, the hash of "
    "the document before signing, the number of gaps shown, and the signing certificate's hash.",
    fields=("model", "version", "sha256", "unsigned_sha256", "gaps", "signer_certificate_sha256"),
)
MONITORING_PLAN_GENERATED = register(
    "monitoring_plan.generated",
    "A version's post-market monitoring plan (Art. 72) was generated and PAdES-signed: the signed PDF's hash, the "
    "hash of the plan's JSON, the number of gaps shown, and the signing certificate's hash.",
    fields=("model", "version", "sha256", "plan_sha256", "gaps", "signer_certificate_sha256"),
)
INCIDENT_RECORDED = register(
    "incident.recorded",
    "A serious incident of a model was recorded (Art. 73): its kind, when the organisation became aware of it, the "
    "reporting deadline that follows, and the description's hash.",
    fields=("model", "version", "incident", "kind", "aware_at", "deadline", "description_sha256"),
)
INCIDENT_REMINDER_DUE = register(
    "incident.reminder_due",
    "A serious incident's report to the authority is due soon or overdue (the reminder, and the deadline).",
    fields=("model", "incident", "reminder", "deadline"),
)
INCIDENT_STEP_RECORDED = register(
    "incident.step_recorded",
    "An officer recorded a step taken about a serious incident (investigation, risk assessment, corrective action, "
    "contact with the authority): its kind, the note's hash and the supporting document's hash.",
    fields=("model", "incident", "step", "kind", "note_sha256", "document_sha256"),
)
INCIDENT_REPORTED = register(
    "incident.reported",
    "A serious incident was reported to the market surveillance authority with an evidence bundle (its export).",
    fields=("model", "incident", "export", "deadline", "late"),
)
SOA_ENTRY_SET = register(
    "soa_entry.set",
    "An officer decided on one ISO/IEC 42001 Annex A control in the statement of applicability: applicable or not, "
    "its implementation status, the justification's hash and the supporting document's hash.",
    fields=("control", "applicable", "implementation", "justification_sha256", "document_sha256"),
)
