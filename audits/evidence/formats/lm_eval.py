"""lm-evaluation-harness results (``lm_eval --output_path``): ``results`` (per task, ``"metric,filter": value``),
``n-samples`` (per task, ``original`` and ``effective``), ``higher_is_better``, ``versions``, ``config`` and
``lm_eval_version``.

Each task's metric becomes a measurement named ``metric`` (``acc``), or ``metric,filter`` when the filter is not
``none``; its standard error (``acc_stderr``) is kept in its details, not as a measurement of its own. The sample
size is the task's ``effective`` count. The results file has no per-item outcomes (lm-eval writes those to separate
``samples_*.jsonl`` files), so no interval is computed from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    Measurement,
    ParsedEvidence,
    count,
    mapping,
    number,
    optional_mapping,
    read_json_file,
)

TOOL = "lm-eval"
_NOT_METRICS = ("alias", "name", "sample_len", "samples")


def looks_like(document: Any) -> bool:
    """Whether a JSON document is shaped like lm-evaluation-harness results."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("results"), dict)
        and ("n-samples" in document or "versions" in document)
        and "configs" in document
    )


def read(path: Path) -> ParsedEvidence:
    """An lm-evaluation-harness results file."""
    return parse(mapping(read_json_file(path, what="the lm-evaluation-harness results"), what="the results"))


def parse(document: dict[str, Any]) -> ParsedEvidence:
    if not looks_like(document):
        raise EvidenceFormatError("not lm-evaluation-harness results: it needs 'results', 'configs' and 'n-samples'")
    samples = mapping(document.get("n-samples", {}), what="'n-samples'")
    better = optional_mapping(document.get("higher_is_better"))
    measurements = []
    for task, raw in mapping(document["results"], what="'results'").items():
        values = mapping(raw, what=f"'results.{task}'")
        counts = samples.get(task)
        size = (
            count(mapping(counts, what=f"'n-samples.{task}'").get("effective"), what=f"'n-samples.{task}.effective'")
            if counts is not None
            else None
        )
        for key, value in values.items():
            if key in _NOT_METRICS or "_stderr," in key:
                continue
            metric, _, filter_name = key.partition(",")
            if number(value) is None and value != "N/A":
                raise EvidenceFormatError(f"'results.{task}.{key}' must be a number, got {value!r}")
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            direction = (better.get(task) or {}).get(metric) if isinstance(better.get(task), dict) else None
            measurements.append(
                Measurement(
                    task=task,
                    metric=metric if filter_name in ("", "none") else key,
                    value=number(value),
                    sample_size=size,
                    higher_is_better=direction if isinstance(direction, bool) else None,
                    details={"stderr": number(stderr)} if number(stderr) is not None else {},
                )
            )
    config = optional_mapping(document.get("config"))
    return ParsedEvidence(
        tool=TOOL,
        tool_version=str(document.get("lm_eval_version") or "unknown"),
        format="lm-eval-results",
        measurements=measurements,
        summary={"model": str(config.get("model", ""))[:200], "tasks": sorted(document["results"])[:50]},
    )
