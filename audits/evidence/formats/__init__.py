"""Readers of other tools' result files, and recognising which tool wrote one (pure: no Django).

:func:`read_evidence` takes a file (and its upload name, and optionally the tool the uploader says wrote it) and
returns :class:`ParsedEvidence` or raises :class:`EvidenceFormatError` naming the problem. A file is recognised by
its shape, not only its name: ``.eval`` is an Inspect zip, ``.jsonl`` a garak report or
lm-evaluation-harness samples, ``.xml`` Giskard's JUnit, and a
``.json`` document is Inspect's, promptfoo's, lm-evaluation-harness's, Evidently's or Giskard's by the fields each
tool writes. When the uploader names a tool and the file is another's (or no tool's), it is refused as such.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from audits.evidence.formats import evidently, garak, giskard, inspect_log, lm_eval, lm_eval_samples, promptfoo
from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    loads,
    read_json_file,
)

__all__ = ["TOOLS", "EvidenceFormatError", "ItemOutcome", "Measurement", "ParsedEvidence", "read_evidence"]

#: The tools whose files Assay reads, by the name a policy and the API use.
TOOLS = {
    "inspect": "Inspect eval log (.eval or .json)",
    "garak": "garak report (.report.jsonl)",
    "promptfoo": "promptfoo JSON output",
    "lm-eval": "lm-evaluation-harness results JSON or samples JSONL",
    "evidently": "Evidently snapshot JSON",
    "giskard": "Giskard scan report JSON or test-suite JUnit XML",
}

# JSON documents: (tool, looks_like, parse), tried in this order.
_JSON: list[tuple[str, Callable[[Any], bool], Callable[[Any], ParsedEvidence]]] = [
    ("inspect", inspect_log.looks_like, lambda d: inspect_log.parse(d, d.get("samples"), fmt="inspect-json")),
    ("promptfoo", promptfoo.looks_like, promptfoo.parse),
    ("lm-eval", lm_eval.looks_like, lm_eval.parse),
    ("evidently", evidently.looks_like, evidently.parse),
    ("giskard", giskard.looks_like, giskard.parse_scan),
]


def read_evidence(path: Path, *, name: str, tool: str = "") -> ParsedEvidence:
    """The measurements of the result file at ``path`` (uploaded as ``name``); ``tool``, when given, must be the tool
    that wrote it."""
    if tool and tool not in TOOLS:
        raise EvidenceFormatError(f"unknown tool {tool!r}; one of {', '.join(TOOLS)}")
    parsed = _read(path, name=name)
    if tool and parsed.tool != tool:
        raise EvidenceFormatError(f"the file is {parsed.tool}'s ({TOOLS[parsed.tool]}), not {tool}'s")
    return parsed


def _read(path: Path, *, name: str) -> ParsedEvidence:
    suffix = name.lower()
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK"):
        if not suffix.endswith(".eval"):
            raise EvidenceFormatError("a zip archive is accepted only as an Inspect .eval log")
        return inspect_log.read_eval(path)
    if suffix.endswith(".eval"):
        raise EvidenceFormatError("an Inspect .eval log is a zip archive, and this file is not one")
    if suffix.endswith(".jsonl"):
        if lm_eval_samples.looks_like(_first_line(path)):
            return lm_eval_samples.read(path, name=name)
        return garak.read(path)
    if suffix.endswith(".xml"):
        return giskard.read_junit(path)
    document = read_json_file(path, what="the file")
    for _tool, looks_like, parse in _JSON:
        if looks_like(document):
            return parse(document)
    raise EvidenceFormatError(
        "not a result file of a supported tool (Inspect, garak, promptfoo, lm-evaluation-harness, Evidently, "
        "Giskard): its fields match none of their formats"
    )


def _first_line(path: Path) -> Any:
    """The first line of a JSON Lines file as a value (None when it is not JSON), to tell whose file it is."""
    with path.open("rb") as handle:
        line = handle.readline(1 << 20)
    try:
        return loads(line, what="the first line")
    except EvidenceFormatError:
        return None
