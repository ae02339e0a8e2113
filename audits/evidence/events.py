"""Trail event types of evidence imports."""

from governance.trail.events import register

EVIDENCE_IMPORTED = register(
    "evidence.imported",
    "Another tool's result file was imported as evidence for a model version: the tool, its version, the file's "
    "hash and size, and how many measurements were read from it.",
    fields=("model_version", "tool", "tool_version", "format", "sha256", "size", "measurements"),
)
