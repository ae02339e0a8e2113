"""The ``external`` check: judging other tools' imported results (Inspect, garak, promptfoo, lm-evaluation-harness,
Evidently, Giskard) under a policy's criteria.

Each criterion names a tool, a task (or probe: an exact name, or a glob such as ``promptinject.*``), a metric, a
threshold ``{value, operator, basis}`` and the least number of items the measurement must rest on. The newest
imported file holding a matching measurement is the evidence; several matching measurements of that file (the
probes of a garak module, say) are pooled by adding their counts. A garak probe has one measurement per detector,
each over the same outputs: the detectors are never pooled (that would count each output once per detector); each
is judged on its own, over the probes it scored, and the worst decides. Then:

- no matching measurement, or fewer items than ``min_samples`` (or a file that does not say how many): insufficient
  evidence, never a pass;
- counts known (the file lists per-item outcomes, or the tool's own tally of them): the rate ``successes/n`` is
  compared with the threshold in exact fractions, and a confidence interval (Wilson or Clopper-Pearson, scipy's
  ``binomtest(...).proportion_ci``) at the policy's confidence level is reported; with ``judge_on: interval`` the
  whole interval must meet the threshold, and an estimate that meets it while the interval does not is
  insufficient evidence;
- only the tool's number known: when ``value * n`` is within 1e-9 of a whole ``k`` it is judged as ``k/n`` (a rate
  of counts the file does not list), otherwise as the decimal the tool wrote (``repr``), never as the binary
  float's expansion; compared exactly with the threshold's decimal, and no interval is claimed.

Pure: the measurements arrive as plain values on ``evaluation.external_evidence`` (``audits.evidence.actions``
puts them there); nothing here reads a database.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from audits.checks.base import (
    FAIL,
    INSUFFICIENT,
    PASS,
    Check,
    CheckContext,
    CheckOutcome,
    Threshold,
    exact,
    exact_threshold,
)
from audits.checks.settings import settings_schema

TOOLS = ("inspect", "garak", "promptfoo", "lm-eval", "evidently", "giskard")
INTERVALS = {"wilson": "wilson", "clopper-pearson": "exact"}  # our names -> scipy's proportion_ci methods
_SEVERITY = {FAIL: 0, INSUFFICIENT: 1, PASS: 2}  # the worst of several detectors decides
_DETECTOR_FIELDS = ("outcome", "reason", "tasks", "sample_size", "successes", "value", "value_exact", "interval")
_WHOLE_TOLERANCE = 1e-9  # a tool's value times its item count this near a whole number is that count

_CRITERION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tool", "task", "metric", "threshold", "min_samples"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "description": "A label for the report."},
        "tool": {"enum": list(TOOLS), "description": "The tool whose imported results are judged."},
        "task": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "The task, probe or test as the tool names it; * and ? match any text (promptinject.*).",
        },
        "metric": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The metric, e.g. accuracy."},
        "threshold": {
            "type": "object",
            "description": "The pass condition: measured <operator> value.",
            "additionalProperties": False,
            "required": ["value", "operator", "basis"],
            "properties": {
                "value": {"type": "number"},
                "operator": {"enum": [">=", ">", "<=", "<"]},
                "basis": {"$ref": "#/$defs/basis"},
            },
        },
        "min_samples": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100_000_000,
            "description": "Fewer items than this (or an unknown number) is insufficient evidence, never a pass.",
        },
        "interval": {
            "enum": list(INTERVALS),
            "description": "The confidence interval reported when counts are known (default wilson).",
        },
        "judge_on": {
            "enum": ["estimate", "interval"],
            "description": "estimate (default): the rate itself must meet the threshold; interval: its whole "
            "confidence interval must (an estimate that meets it while the interval does not is insufficient).",
        },
    },
}

SETTINGS = settings_schema(
    "Other tools' results imported as evidence for the model version (docs/evidence.md).",
    {"criteria": {"type": "array", "minItems": 1, "maxItems": 100, "items": _CRITERION}},
    required=("criteria",),
)


def proportion_interval(successes: int, n: int, *, confidence: float, method: str) -> tuple[float, float]:
    """The two-sided confidence interval of ``successes`` of ``n`` (``method``: wilson or clopper-pearson), from
    scipy's ``binomtest(...).proportion_ci``."""
    from scipy.stats import binomtest

    found = binomtest(successes, n).proportion_ci(confidence_level=confidence, method=INTERVALS[method])
    return float(found.low), float(found.high)


def tool_fraction(value: float, n: int) -> Fraction:
    """The exact number a tool meant by ``value``, a float it computed from ``n`` items: ``k/n`` when ``value * n``
    is within 1e-9 of a whole ``k`` (lm-eval's ``acc`` 28/40 is written 0.7, and is 7/10), otherwise the decimal the
    tool wrote (``repr``, the shortest text that reads back as the same float), never the float's binary expansion
    (0.7 is 0.69999999999999995559... in binary, which would fail ``>= 0.7``)."""
    if n > 0:
        scaled = value * n
        whole = round(scaled)
        if abs(scaled - whole) <= _WHOLE_TOLERANCE:
            return Fraction(whole, n)
    return Fraction(repr(value))


def _matches(row: Mapping[str, Any], criterion: Mapping[str, Any]) -> bool:
    return (
        row.get("tool") == criterion["tool"]
        and row.get("metric") == criterion["metric"]
        and fnmatch.fnmatchcase(str(row.get("task", "")), criterion["task"])
    )


def _label(criterion: Mapping[str, Any]) -> str:
    return str(criterion.get("name") or f"{criterion['tool']} {criterion['task']} {criterion['metric']}")


class ExternalEvidenceCheck(Check):
    """Judges imported measurements of other tools against the policy's criteria."""

    name = "external"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        rows = getattr(evaluation, "external_evidence", None)
        if rows is None:
            return self.outcome(INSUFFICIENT, "No imported evidence was given to this audit.", criteria=[])
        judged = [judge_criterion(criterion, rows, context=context) for criterion in settings["criteria"]]
        failed = [c for c in judged if c["outcome"] == FAIL]
        unsure = [c for c in judged if c["outcome"] == INSUFFICIENT]
        if failed:
            outcome, shown = FAIL, failed
        elif unsure:
            outcome, shown = INSUFFICIENT, unsure
        else:
            outcome, shown = PASS, judged
        reason = "; ".join(f"{c['label']}: {c['reason']}" for c in shown)
        return self.outcome(outcome, reason, criteria=judged)


def _pool(matched: list[Mapping[str, Any]]) -> tuple[int | None, int | None, float | None]:
    """(successes, n, the tool's value) of the matched measurements: one as it is; several pooled by their counts
    (value None), or (None, None, None) when one of them has no counts."""
    if len(matched) == 1:
        row = matched[0]
        return row.get("successes"), row.get("sample_size"), row.get("value")
    if any(row.get("successes") is None or row.get("sample_size") is None for row in matched):
        return None, None, None
    return sum(int(r["successes"]) for r in matched), sum(int(r["sample_size"]) for r in matched), None


def judge_criterion(
    criterion: Mapping[str, Any], rows: list[Mapping[str, Any]], *, context: CheckContext
) -> dict[str, Any]:
    """One criterion judged on the imported measurements ``rows`` (newest file first): pass, fail or insufficient
    evidence, with the measurement, the interval and the reason. A garak probe is judged by each of its detectors on
    its own (``detector`` on a row): the detectors are never pooled, only the probes under one detector, and the
    worst detector decides (a fail before insufficient evidence before a pass; of equals, the rate nearest failing).
    """
    threshold = exact_threshold(criterion, "threshold", default_operator=">=")
    assert threshold is not None  # the schema requires it
    result: dict[str, Any] = {
        "label": _label(criterion),
        "tool": criterion["tool"],
        "task": criterion["task"],
        "metric": criterion["metric"],
        "threshold": threshold.as_json(),
        "min_samples": int(criterion["min_samples"]),
        "judge_on": str(criterion.get("judge_on", "estimate")),
    }
    candidates = [row for row in rows if _matches(row, criterion)]
    if not candidates:
        wanted = f"{criterion['metric']} for {criterion['task']}"
        reason = f"no imported {criterion['tool']} result has {wanted}"
        return {**result, "outcome": INSUFFICIENT, "reason": reason}
    newest = candidates[0]["sha256"]  # rows come newest file first
    matched = [row for row in candidates if row["sha256"] == newest]
    result["evidence"] = {
        "sha256": newest,
        "file": matched[0].get("file", ""),
        "tool_version": matched[0].get("tool_version", ""),
        "tasks": sorted({str(row["task"]) for row in matched}),
    }
    if matched[0].get("tool_version_stated"):
        result["evidence"]["tool_version_source"] = "uploader"  # the file records none; the uploader stated it
    by_detector: dict[str, list[Mapping[str, Any]]] = {}
    for row in matched:
        by_detector.setdefault(str(row.get("detector") or ""), []).append(row)
    if len(by_detector) == 1:
        return {**result, **_judge_pooled(next(iter(by_detector.values())), criterion, threshold, context)}
    judged = {
        detector: _judge_pooled(group, criterion, threshold, context) for detector, group in sorted(by_detector.items())
    }
    downward = threshold.operator in ("<=", "<")  # a higher rate is nearer failing

    def worse_first(detector: str) -> tuple[int, float]:
        one = judged[detector]
        value = one.get("value")
        nearness = 0.0 if value is None else (-value if downward else value)
        return _SEVERITY[one["outcome"]], nearness

    worst = min(judged, key=worse_first)
    return {
        **result,
        **judged[worst],
        "reason": f"detector {worst}: {judged[worst]['reason']}",
        "detector": worst,
        "detectors": [
            {"detector": detector, **{k: one.get(k) for k in _DETECTOR_FIELDS}} for detector, one in judged.items()
        ],
    }


def _judge_pooled(  # noqa: PLR0911 - one return per outcome, in the order the rules are applied
    matched: list[Mapping[str, Any]], criterion: Mapping[str, Any], threshold: Threshold, context: CheckContext
) -> dict[str, Any]:
    """The matched measurements of one file (and one detector), pooled and judged: outcome, reason and what was
    measured."""
    min_samples = int(criterion["min_samples"])
    method = str(criterion.get("interval", "wilson"))
    judge_on = str(criterion.get("judge_on", "estimate"))
    result: dict[str, Any] = {"tasks": sorted({str(row["task"]) for row in matched})}

    def done(outcome: str, reason: str) -> dict[str, Any]:
        return {**result, "outcome": outcome, "reason": reason}

    successes, n, tool_value = _pool(matched)
    if len(matched) > 1 and n is None:
        return done(INSUFFICIENT, f"{len(matched)} measurements match; not all give counts, so none are pooled")
    sample_size = n if n is not None else matched[0].get("sample_size")
    result["sample_size"] = sample_size
    if sample_size is None:
        return done(INSUFFICIENT, "the file does not say how many items the measurement rests on")
    if sample_size < min_samples:
        return done(INSUFFICIENT, f"{sample_size} items, fewer than the {min_samples} the policy requires")
    if successes is not None and n:
        measured: Fraction = Fraction(int(successes), int(n))
        low, high = proportion_interval(int(successes), int(n), confidence=context.confidence_level, method=method)
        result |= {
            "successes": successes,
            "value": float(measured),
            "value_exact": exact(measured),
            "tool_value": tool_value,
            "interval": {"method": method, "confidence_level": context.confidence_level, "low": low, "high": high},
        }
    else:
        if tool_value is None:
            return done(INSUFFICIENT, "the file gives no value for this measurement")
        measured = tool_fraction(float(tool_value), int(sample_size))
        result |= {"value": float(tool_value), "value_exact": exact(measured), "interval": None}
    if not threshold.passes(measured):
        return done(FAIL, f"{float(measured):.6g} {threshold.fails_as} ({sample_size} items)")
    if judge_on == "interval":
        interval = result.get("interval")
        if not interval:
            return done(INSUFFICIENT, "the policy judges on the interval, and the file gives no counts for one")
        bound = interval["low"] if threshold.operator in (">=", ">") else interval["high"]
        if not threshold.passes(Fraction(bound)):
            return done(
                INSUFFICIENT,
                f"{float(measured):.6g} is {threshold.passes_as}, but its {method} interval reaches {bound:.6g}",
            )
    return done(PASS, f"{float(measured):.6g} is {threshold.passes_as} ({sample_size} items)")
