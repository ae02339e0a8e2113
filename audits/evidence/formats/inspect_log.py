"""Inspect (UK AI Security Institute) eval logs: ``.json`` (one JSON document) or ``.eval`` (a zip of
``header.json``, ``summaries.json`` and one file per sample), as ``inspect_ai.log`` writes them (log version 2).

Each metric of each scorer in ``results.scores`` becomes a measurement of the task (``eval.task``), named by the
metric (``accuracy``), or ``scorer/metric`` when the log has several scorers. ``accuracy`` carries the per-sample
outcomes when every sample's score is binary (``C``/``I``/``N`` or 1/0 or true/false): an item is a sample and
epoch, a hit when correct; the outcomes are kept only when their mean is the log's own accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    count,
    loads,
    mapping,
    number,
    optional_mapping,
    read_json_file,
)
from audits.evidence.formats.zipped import BoundedZip

TOOL = "inspect"
_STATUSES = ("started", "success", "cancelled", "error")
_CORRECT, _INCORRECT, _NOANSWER = "C", "I", "N"


def looks_like(document: Any) -> bool:
    """Whether a JSON document is shaped like an Inspect log (for recognising an upload)."""
    return (
        isinstance(document, dict)
        and {"version", "status", "eval"} <= document.keys()
        and "task" in (document.get("eval") or {})
    )


def read_json(path: Path) -> ParsedEvidence:
    """An Inspect ``.json`` log."""
    document = mapping(read_json_file(path, what="the Inspect log"), what="an Inspect log")
    return parse(document, document.get("samples"), fmt="inspect-json")


def read_eval(path: Path) -> ParsedEvidence:
    """An Inspect ``.eval`` log (a zip archive), read with bounds (see ``zipped``)."""
    with BoundedZip(path) as archive:
        if "header.json" not in archive.names:
            raise EvidenceFormatError("the archive has no header.json: it is not a finished Inspect .eval log")
        header = mapping(loads(archive.read("header.json"), what="header.json"), what="header.json")
        summaries = None
        if "summaries.json" in archive.names:
            summaries = loads(archive.read("summaries.json"), what="summaries.json")
    return parse(header, summaries, fmt="inspect-eval")


def parse(header: dict[str, Any], samples: Any, *, fmt: str) -> ParsedEvidence:
    """Measurements from a log's header (``version``, ``status``, ``eval``, ``results``) and its samples (or sample
    summaries; None when the log has none)."""
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EvidenceFormatError(f"not an Inspect log: 'version' must be a log version number, got {version!r}")
    status = header.get("status")
    if status not in _STATUSES:
        raise EvidenceFormatError(f"not an Inspect log: 'status' must be one of {', '.join(_STATUSES)}, got {status!r}")
    if status != "success":
        raise EvidenceFormatError(f"the eval did not finish (status {status!r}): only a successful run is evidence")
    spec = mapping(header.get("eval"), what="'eval'")
    task = spec.get("task")
    if not isinstance(task, str) or not task:
        raise EvidenceFormatError("not an Inspect log: 'eval.task' must name the task")
    packages = optional_mapping(spec.get("packages"))
    results = mapping(header.get("results"), what="'results'")
    scores = results.get("scores")
    if not isinstance(scores, list) or not scores:
        raise EvidenceFormatError("the log has no scores ('results.scores' is empty or missing)")
    outcomes_by_scorer = _outcomes(samples) if samples is not None else {}
    completed = results.get("completed_samples")
    measurements = []
    for index, raw in enumerate(scores):
        score = mapping(raw, what=f"'results.scores[{index}]'")
        scorer = str(score.get("name") or score.get("scorer") or "")
        metrics = mapping(score.get("metrics"), what=f"'results.scores[{index}].metrics'")
        scored = score.get("scored_samples", completed)
        size = count(scored, what=f"'results.scores[{index}].scored_samples'") if scored is not None else None
        for name, raw_metric in metrics.items():
            metric = mapping(raw_metric, what=f"the metric {name!r}")
            value = number(metric.get("value"))
            outcomes = outcomes_by_scorer.get(scorer) if name == "accuracy" else None
            if outcomes is not None and not _agrees(outcomes, value):
                outcomes = None  # epochs reduced otherwise, say: the tally would not be the tool's accuracy
            measurements.append(
                Measurement(
                    task=task,
                    metric=name if len(scores) == 1 else f"{scorer}/{name}",
                    value=value,
                    sample_size=size,
                    outcomes=outcomes,
                    higher_is_better=True if name == "accuracy" else None,
                    details={"scorer": scorer, "model": str(spec.get("model", ""))[:200]},
                )
            )
    return ParsedEvidence(
        tool=TOOL,
        tool_version=str(packages.get("inspect_ai", "unknown")),
        format=fmt,
        measurements=measurements,
        summary={
            "task": task,
            "model": str(spec.get("model", ""))[:200],
            "created": str(spec.get("created", ""))[:64],
            "log_version": version,
            "samples": completed if isinstance(completed, int) else None,
        },
    )


def _agrees(outcomes: list[ItemOutcome], value: float | None) -> bool:
    if value is None or not outcomes:
        return False
    return math.isclose(sum(o.hit for o in outcomes) / len(outcomes), value, rel_tol=0, abs_tol=1e-9)


def _binary(value: Any) -> bool | None:
    """A sample's score as correct (True) or not (False); None when it is not binary (partial credit, a number)."""
    if value in (_CORRECT, True) or (type(value) in (int, float) and value == 1):
        return True
    if value in (_INCORRECT, _NOANSWER, False) or (type(value) in (int, float) and value == 0):
        return False
    return None


def _outcomes(samples: Any) -> dict[str, list[ItemOutcome] | None]:
    """Per scorer, each sample's binary outcome; None for a scorer with a non-binary score anywhere."""
    if not isinstance(samples, list):
        raise EvidenceFormatError("the log's samples must be a list")
    found: dict[str, list[ItemOutcome] | None] = {}
    for index, raw in enumerate(samples):
        sample = mapping(raw, what=f"sample {index}")
        item = f"{sample.get('id')}#{sample.get('epoch', 1)}"
        for scorer, raw_score in (sample.get("scores") or {}).items():
            if found.get(scorer, []) is None:
                continue
            hit = _binary(raw_score.get("value") if isinstance(raw_score, dict) else None)
            if hit is None:
                found[scorer] = None
                continue
            found.setdefault(scorer, []).append(ItemOutcome(item=item, hit=hit))  # type: ignore[union-attr]
    return found
