"""Trail event types of the audit engine."""

from governance.trail.events import register

POLICY_SAVED = register(
    "policy.saved",
    "A version of an audit policy was stored (its text's hash and its canonical document's hash).",
    fields=("policy", "version", "sha256", "canonical_sha256", "reason_sha256"),
)
AUDIT_STARTED = register(
    "audit.started",
    "An audit run was queued, with the hashes of every input (artifact, dataset, policy, column roles).",
    fields=(
        "run",
        "artifact_sha256",
        "model_version",
        "dataset_sha256",
        "dataset_version",
        "policy_sha256",
        "policy_version",
        "column_roles_sha256",
        "evidence_sha256",
        "inputs_sha256",
        "forced",
    ),
)
AUDIT_COMPLETED = register(
    "audit.completed",
    "An audit run finished: its status, verdict and the hash of its full results.",
    fields=("run", "status", "verdict", "results_sha256", "duration_ms"),
)
GATE_DECIDED = register(
    "gate.decided",
    "The approval gate answered a pipeline: the decision for one version, environment and policy (a pass token's "
    "hash when one was issued).",
    fields=("model", "version", "artifact_sha256", "environment", "decision", "policy", "run", "token_sha256"),
)
REPORT_GENERATED = register(
    "report.generated",
    "A PDF compliance report was generated for an audit run or a model version (the unsigned document's hash).",
    fields=("report", "kind", "run", "model_version", "sha256", "size"),
)
REPORT_SIGNED = register(
    "report.signed",
    "A generated report was PAdES-signed: the hash of the signed PDF (the bytes stored and served), the signing "
    "certificate's hash and the signing time.",
    fields=("report", "sha256", "size", "signer_certificate_sha256", "signing_time"),
)
