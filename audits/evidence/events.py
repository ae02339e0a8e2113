"""Trail event types of evidence imports."""

from governance.trail.events import register

EVIDENCE_IMPORTED = register(
    "evidence.imported",
    "Another tool's result file was imported as evidence for a model version: the tool, its version, the file's "
    "hash and size, and how many measurements were read from it (``tool_version_stated``: the version is the "
    "uploader's word, for a file that records none).",
    fields=("model_version", "tool", "tool_version", "tool_version_stated", "format", "sha256", "size", "measurements"),
)
