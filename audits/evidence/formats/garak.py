"""garak report files (``<prefix>.report.jsonl``): one JSON object a line, each with an ``entry_type``: ``start_run
setup`` (the configuration, ``_config.version``), ``init`` (``garak_version``), ``attempt`` (a prompt, its outputs
and, once judged, ``status`` 2 and ``detector_results``: a score per output from each detector), ``eval`` (per
probe and detector: ``passed``, ``fails``, ``nones``, ``total_evaluated``; older reports give ``passed`` and
``total``), ``completion`` and ``digest``.

Each ``eval`` entry becomes a measurement of the task named by the probe (``promptinject.HijackHateHumans``) with
the metric ``attack_success_rate``: ``fails`` of ``total_evaluated`` outputs were hits, as garak counts them
(outputs a detector could not score are left out). The per-item outcomes come from the judged attempts: an item is
an output under one detector, a hit when its score is at least garak's default ``eval_threshold`` (0.5). They are
kept only when their tally is the eval entry's own; otherwise the eval entry's counts stand alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    count,
    json_lines,
    mapping,
    number,
)

TOOL = "garak"
EVAL_THRESHOLD = 0.5  # garak's default run.eval_threshold: a detector score at or above it is a hit
_JUDGED = 2  # attempt status: detectors have run


def looks_like(first: Any) -> bool:
    """Whether the first entry of a JSON Lines file is shaped like a garak report's."""
    return isinstance(first, dict) and str(first.get("entry_type", "")) in ("start_run setup", "init")


def read(path: Path) -> ParsedEvidence:
    """A garak report JSONL file."""
    version = ""
    evals: list[tuple[int, dict[str, Any]]] = []
    hits: dict[tuple[str, str], list[ItemOutcome]] = {}
    completed = False
    first = True
    for number_, raw in json_lines(path, what="the garak report"):
        entry = mapping(raw, what=f"line {number_}")
        kind = entry.get("entry_type")
        if first and not looks_like(entry):
            raise EvidenceFormatError("not a garak report: its first line is not a 'start_run setup' or 'init' entry")
        first = False
        if not isinstance(kind, str):
            raise EvidenceFormatError(f"line {number_}: every garak report entry has an 'entry_type'")
        if kind == "start_run setup":
            version = version or str(entry.get("_config.version", ""))
        elif kind == "init":
            version = str(entry.get("garak_version") or version)
        elif kind == "attempt" and entry.get("status") == _JUDGED:
            _attempt_outcomes(entry, hits, line=number_)
        elif kind == "eval":
            evals.append((number_, entry))
        elif kind == "completion":
            completed = True
    if not version:
        raise EvidenceFormatError("not a garak report: no entry gives garak's version")
    if not evals:
        raise EvidenceFormatError("the garak report has no 'eval' entries: the run did not reach its evaluation")
    measurements = [_measurement(line, entry, hits) for line, entry in evals]
    return ParsedEvidence(
        tool=TOOL,
        tool_version=version,
        format="garak-report-jsonl",
        measurements=measurements,
        summary={"probes": sorted({m.task for m in measurements})[:100], "completed": completed},
    )


def _attempt_outcomes(entry: dict[str, Any], hits: dict[tuple[str, str], list[ItemOutcome]], *, line: int) -> None:
    probe = str(entry.get("probe_classname", ""))
    results = entry.get("detector_results")
    if not isinstance(results, dict):
        raise EvidenceFormatError(f"line {line}: a judged attempt's 'detector_results' must be a mapping")
    for detector, scores in results.items():
        if not isinstance(scores, list):
            raise EvidenceFormatError(f"line {line}: the scores of {detector!r} must be a list")
        for index, score in enumerate(scores):
            value = number(score)
            if value is None:
                continue  # garak's "nones": not evaluated, left out of its counts too
            item = f"{entry.get('seq', line)}/{index}"
            hits.setdefault((probe, str(detector)), []).append(ItemOutcome(item=item, hit=value >= EVAL_THRESHOLD))


def _measurement(line: int, entry: dict[str, Any], hits: dict[tuple[str, str], list[ItemOutcome]]) -> Measurement:
    probe, detector = entry.get("probe"), entry.get("detector")
    if not isinstance(probe, str) or not isinstance(detector, str):
        raise EvidenceFormatError(f"line {line}: an 'eval' entry names its probe and detector")
    passed = count(entry.get("passed"), what=f"line {line} 'passed'")
    if "total_evaluated" in entry:
        total = count(entry.get("total_evaluated"), what=f"line {line} 'total_evaluated'")
    else:
        total = count(entry.get("total"), what=f"line {line} 'total'")
    if passed > total:
        raise EvidenceFormatError(f"line {line}: 'passed' ({passed}) exceeds the total ({total})")
    fails = total - passed
    if "fails" in entry and count(entry["fails"], what=f"line {line} 'fails'") != fails:
        raise EvidenceFormatError(f"line {line}: 'fails' is not the total less 'passed'")
    detector_name = detector.removeprefix("detector.")
    outcomes = hits.get((probe, detector_name)) or hits.get((probe, detector))
    if outcomes is not None and (len(outcomes), sum(o.hit for o in outcomes)) != (total, fails):
        outcomes = None  # judged with another threshold, or attempts left out: garak's own counts stand
    return Measurement(
        task=probe,
        metric="attack_success_rate",
        value=fails / total if total else None,
        sample_size=total,
        successes=fails,
        outcomes=outcomes,
        higher_is_better=False,
        details={"detector": detector_name, "passed": passed, "nones": entry.get("nones")},
    )
