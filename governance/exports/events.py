"""Trail event types of exports and regulator access. People appear by user id only; free text by its hash."""

from governance.trail.events import register

EXPORT_CREATED = register(
    "export.created",
    "An evidence bundle was exported: its sha256, its manifest's sha256, its scope and the checkpoint it is proved "
    "against.",
    fields=(
        "model",
        "version",
        "from",
        "to",
        "recipient",
        "sha256",
        "size",
        "manifest_sha256",
        "checkpoint_size",
        "events",
        "previous_export",
    ),
)
EXPORT_REQUESTED = register(
    "export.requested",
    "An evidence bundle was asked for (its scope, for whom, and the previous export to the same recipient its "
    "consistency proof will start from); ``export.created`` or ``export.failed`` on the same export follows.",
    fields=("model", "version", "from", "to", "recipient", "previous_export"),
)
EXPORT_FAILED = register(
    "export.failed",
    "An evidence bundle could not be built, or its build was abandoned (the message's hash; the text is on the "
    "export).",
    fields=("error_sha256",),
)
SHARE_CREATED = register(
    "share.created",
    "A model or an export was shared with a regulator account until an expiry (the reason's hash).",
    fields=("model", "export", "regulator", "expires_at", "reason_sha256"),
)
SHARE_REVOKED = register(
    "share.revoked", "A share was revoked before its expiry (the reason's hash).", fields=("reason_sha256",)
)
SHARE_ACCESSED = register(
    "share.accessed",
    "A regulator viewed or downloaded something a share gives them (the object and how).",
    fields=("object_type", "object_id", "kind"),
)
