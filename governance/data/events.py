"""Trail event types of data governance. Subjects appear by pseudonym only; free text by its hash."""

from governance.trail.events import register

DATASET_REGISTERED = register(
    "dataset.registered", "A dataset was registered for a team.", fields=("name", "team", "openlineage")
)
DATASET_VERSION_REGISTERED = register(
    "dataset_version.registered",
    "A dataset version was registered: its content hash, size, rows, format, and how many subjects it holds.",
    fields=("dataset", "version", "sha256", "size", "rows", "format", "external_uri", "subjects", "findings"),
)
LINEAGE_RUN_RECORDED = register(
    "lineage_run.recorded",
    "A run linking input dataset versions to outputs (dataset or model versions) was recorded or extended.",
    fields=("run_id", "job", "state", "source", "inputs", "outputs", "openlineage_sha256"),
)
PURPOSE_CREATED = register(
    "purpose.created", "A purpose of processing was defined with its legal basis.", fields=("code", "legal_basis")
)
CONSENT_RECORDED = register(
    "consent.recorded",
    "Consent was given, withdrawn or expired for a subject (pseudonym) and purpose.",
    fields=("subject", "purpose", "kind", "occurred_at", "notice_version", "source_sha256"),
)
CONSENT_IMPORTED = register(
    "consent.imported",
    "A batch of consent events was imported: the file's hash and counts stand for every row.",
    fields=("batch", "sha256", "rows", "subjects", "withdrawals"),
)
SUBJECT_DATA_STORED = register(
    "subject.data_stored",
    "Personal data about a subject was stored, sealed under the subject's key (its category only).",
    fields=("subject", "category", "record"),
)
SUBJECT_ACCESS_EXPORTED = register(
    "subject.access_exported",
    "An access request (GDPR Art. 15) was answered; the export's hash stands for what was handed over.",
    fields=("subject", "sha256"),
)
SUBJECT_ERASED = register(
    "subject.erased",
    "A subject's key was destroyed (GDPR Art. 17): their sealed personal data can no longer be read.",
    fields=("subject", "records"),
)
FINDING_OPENED = register(
    "finding.opened",
    "A finding was opened on a model version for a person to decide on.",
    fields=("model", "version", "finding", "kind", "cause"),
)
FINDING_RESOLVED = register(
    "finding.resolved",
    "A finding was resolved: retrain, accept (with a reason) or retire.",
    fields=("model", "version", "finding", "resolution", "reason_sha256"),
)
