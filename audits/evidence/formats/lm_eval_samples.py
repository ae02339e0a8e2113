"""lm-evaluation-harness per-sample logs (``lm_eval --log_samples``): ``samples_<task>_<date>.jsonl``, one JSON object
a line per document: ``doc_id``, ``doc``, ``target``, ``resps``, ``filtered_resps``, ``filter``, ``metrics`` (the
metric names) and each metric's value for that document.

Each metric becomes a measurement of the task (named by the file, as lm-eval names it) with the per-document
outcomes when every value is 0 or 1 (``acc``, ``exact_match``): an item is a document, a hit when its value is 1.
For a metric with other values the mean and the count are kept, without outcomes. The file records neither the
task's name inside it nor lm-eval's version: the name comes from the file name lm-eval gave it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    json_lines,
    mapping,
    number,
)

TOOL = "lm-eval"
_NAME = re.compile(r"^samples_(?P<task>.+)_\d{4}-\d{2}-\d{2}T[\d.:\-]+\.jsonl$")


def looks_like(first: Any) -> bool:
    """Whether the first line of a JSON Lines file is shaped like an lm-eval sample."""
    return isinstance(first, dict) and {"doc_id", "metrics"} <= first.keys() and "filtered_resps" in first


def read(path: Path, *, name: str) -> ParsedEvidence:
    """An lm-eval samples file uploaded as ``name``."""
    found = _NAME.match(Path(name).name)
    if found is None:
        raise EvidenceFormatError(
            "an lm-evaluation-harness samples file is named samples_<task>_<date>.jsonl, as lm_eval writes it: "
            "the task's name is not inside the file"
        )
    task = found.group("task")
    values: dict[str, list[tuple[str, float]]] = {}
    for line, raw in json_lines(path, what="the lm-eval samples"):
        sample = mapping(raw, what=f"line {line}")
        if not looks_like(sample):
            raise EvidenceFormatError(f"line {line}: an lm-eval sample has 'doc_id', 'metrics' and 'filtered_resps'")
        metrics = sample["metrics"]
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise EvidenceFormatError(f"line {line}: 'metrics' must list the metric names")
        for metric in metrics:
            value = number(sample.get(metric))
            if value is None:
                raise EvidenceFormatError(f"line {line}: the metric {metric!r} has no number for this document")
            values.setdefault(metric, []).append((f"doc{sample['doc_id']}", value))
    measurements = []
    for metric, scored in values.items():
        binary = all(value in (0.0, 1.0) for _item, value in scored)
        measurements.append(
            Measurement(
                task=task,
                metric=metric,
                value=sum(value for _item, value in scored) / len(scored),
                sample_size=len(scored),
                outcomes=[ItemOutcome(item=item, hit=value == 1.0) for item, value in scored] if binary else None,
            )
        )
    return ParsedEvidence(
        tool=TOOL,
        tool_version="unknown",
        format="lm-eval-samples-jsonl",
        measurements=measurements,
        summary={"task": task, "documents": max((len(v) for v in values.values()), default=0)},
    )
