"""Trail event types of the registry."""

from governance.trail.events import register

_REF = ("model", "version")

MODEL_REGISTERED = register(
    "model.registered", "A model was registered with its risk tier.", fields=("name", "team", "risk_tier")
)
MODEL_UPDATED = register("model.updated", "A model's descriptive fields changed.", fields=("name", "changed"))
MODEL_RISK_CHANGED = register(
    "model.risk_changed",
    "A model's risk classification changed, with the answers and the reason.",
    fields=("name", "old_tier", "new_tier", "answers", "reason_sha256", "text_version"),
)
VERSION_REGISTERED = register(
    "model_version.registered",
    "A version was registered (artifact hash and size, or predictions only).",
    fields=(*_REF, "framework", "artifact_sha256", "artifact_size"),
)
VERSION_SIGNATURE_VERIFIED = register(
    "model_version.signature_verified",
    "A version's artifact came with an OpenSSF model signature that verified against a configured trust root: "
    "how it was signed, the digest signed, the signature bundle's hash, and the SHA-256 of the signer as the version "
    "records it (key:<name> or cert:<kind>:<identity>; the identity itself, which may be a person's e-mail, is on "
    "the version).",
    fields=(*_REF, "method", "digest_algorithm", "digest", "signature_sha256", "signer_sha256"),
)
VERSION_SUBMITTED = register(
    "model_version.submitted",
    "A version was submitted for review.",
    fields=(*_REF, "required_approvals", "reason_sha256"),
)
VERSION_APPROVAL_ADDED = register(
    "model_version.approval_added",
    "A reviewer approved a submitted version (it is approved once enough distinct reviewers have); ``overrides`` "
    "names the failing or missing audits, open findings and gate refusals the reviewer acknowledged approving over.",
    fields=(*_REF, "approvals", "required_approvals", "reason_sha256", "overrides"),
)
VERSION_APPROVED = register(
    "model_version.approved", "A version reached its required approvals.", fields=(*_REF, "approvers")
)
VERSION_RETURNED_TO_REVIEW = register(
    "model_version.returned_to_review",
    "An approved version went back to review because its model's risk tier now needs more approvers.",
    fields=(*_REF, "approvals", "required_approvals"),
)
VERSION_REJECTED = register("model_version.rejected", "A version was rejected.", fields=(*_REF, "reason_sha256"))
VERSION_DEPLOYED = register(
    "model_version.deployed",
    "A version went live in an environment (replacing the one live there, if any).",
    fields=(*_REF, "environment", "artifact_sha256", "replaced_version", "reason_sha256"),
)
VERSION_RETIRED = register(
    "model_version.retired",
    "A version stopped being live in an environment (retired by hand, or replaced).",
    fields=(*_REF, "environment", "replaced_by", "reason_sha256"),
)
MODEL_CARD_EDITED = register(
    "model_card.edited",
    "A version's model card was edited during review (section names and the card's hash).",
    fields=(*_REF, "sections", "card_sha256"),
)
WEBHOOK_ADDED = register("webhook.added", "A webhook was added to a model (its host only).", fields=("model", "host"))
WEBHOOK_REMOVED = register("webhook.removed", "A webhook was removed from a model.", fields=("model", "host"))
