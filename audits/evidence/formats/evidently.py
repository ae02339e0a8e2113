"""Evidently snapshots (``Snapshot.save_json`` / ``Snapshot.json()`` of Evidently 0.7's ``Report.run``): ``metrics``
(each with ``id``, ``metric_name``, ``config.type`` such as ``evidently:metric_v2:ValueDrift``, and ``value``: a
number or a mapping of numbers) and ``tests`` (each with ``name`` and ``status``).

Each metric becomes a task named by its ``metric_name`` (``ValueDrift(column=age,method=K-S p_value,...)``) with the
metric ``value`` for a single number, or one measurement per number of a mapping (``count``, ``share``). The
report's tests become the task ``tests`` with the metric ``pass_rate`` and one outcome per test (a hit when its
status is ``SUCCESS``). A snapshot does not record Evidently's version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    mapping,
    number,
    read_json_file,
)

TOOL = "evidently"
_TYPE_PREFIX = "evidently:"
_STATUSES = ("SUCCESS", "FAIL", "WARNING", "ERROR", "SKIPPED")


def looks_like(document: Any) -> bool:
    """Whether a JSON document is shaped like an Evidently snapshot."""
    metrics = document.get("metrics") if isinstance(document, dict) else None
    return (
        isinstance(metrics, list)
        and bool(metrics)
        and isinstance(metrics[0], dict)
        and str((metrics[0].get("config") or {}).get("type", "")).startswith(_TYPE_PREFIX)
    )


def read(path: Path) -> ParsedEvidence:
    """An Evidently snapshot JSON file."""
    return parse(mapping(read_json_file(path, what="the Evidently snapshot"), what="an Evidently snapshot"))


def parse(document: dict[str, Any]) -> ParsedEvidence:
    if not looks_like(document):
        raise EvidenceFormatError("not an Evidently snapshot: it needs 'metrics' whose config types are evidently:...")
    measurements = []
    for index, raw in enumerate(document["metrics"]):
        metric = mapping(raw, what=f"'metrics[{index}]'")
        kind = str(mapping(metric.get("config"), what=f"'metrics[{index}].config'").get("type", ""))
        if not kind.startswith(_TYPE_PREFIX):
            raise EvidenceFormatError(f"'metrics[{index}].config.type' must be an Evidently type, got {kind!r}")
        name = metric.get("metric_name")
        if not isinstance(name, str) or not name:
            raise EvidenceFormatError(f"'metrics[{index}].metric_name' must name the metric")
        value = metric.get("value")
        details = {"type": kind, "id": str(metric.get("id", ""))[:64]}
        if number(value) is not None:
            measurements.append(Measurement(task=name, metric="value", value=number(value), details=details))
        elif isinstance(value, dict):
            measurements.extend(
                Measurement(task=name, metric=str(key), value=number(item), details=details)
                for key, item in value.items()
                if number(item) is not None
            )
    tests = document.get("tests", [])
    if not isinstance(tests, list):
        raise EvidenceFormatError("'tests' must be a list")
    outcomes = []
    for index, raw in enumerate(tests):
        test = mapping(raw, what=f"'tests[{index}]'")
        status = test.get("status")
        if status not in _STATUSES:
            raise EvidenceFormatError(f"'tests[{index}].status' must be one of {', '.join(_STATUSES)}, got {status!r}")
        outcomes.append(ItemOutcome(item=f"{index}: {test.get('name', '')}"[:200], hit=status == "SUCCESS"))
    if outcomes:
        measurements.append(
            Measurement(
                task="tests",
                metric="pass_rate",
                value=sum(o.hit for o in outcomes) / len(outcomes),
                outcomes=outcomes,
                higher_is_better=True,
            )
        )
    return ParsedEvidence(
        tool=TOOL,
        tool_version="unknown",
        format="evidently-snapshot",
        measurements=measurements,
        summary={"metrics": len(document["metrics"]), "tests": len(outcomes)},
    )
