"""The ``external`` check's section of the signed PDF report: each criterion with its outcome, the measured rate
(and its exact fraction), the condition and its basis, the items, the interval, and the imported file's hash
(pure: plain values in, the report builder's tables out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.reports.document.builder import OUTCOME_WORDS, _Builder, fmt_interval, fmt_number


def external_section(b: _Builder, d: Mapping[str, Any]) -> None:
    """One row per criterion, then the file each rests on."""
    criteria = list(d.get("criteria") or [])
    if not criteria:
        b.text("No criterion was judged.")
        return
    rows = []
    for c in criteria:
        threshold = c.get("threshold") or {}
        interval = c.get("interval") or {}
        measured = fmt_number(c.get("value"))
        if c.get("value_exact"):
            measured += f" ({c['value_exact']})"
        rows.append(
            (
                c.get("label", ""),
                OUTCOME_WORDS.get(c.get("outcome", ""), c.get("outcome", "")),
                measured,
                f"{threshold.get('operator', '')} {fmt_number(threshold.get('value'))}",
                f"{fmt_number(c.get('sample_size'))} (at least {c.get('min_samples')})",
                f"{interval.get('method', '')} {fmt_interval((interval.get('low'), interval.get('high')))}"
                if interval
                else "none",
            )
        )
    b.table(["Criterion", "Outcome", "Measured", "Condition", "Items", "Interval"], rows)
    for c in criteria:
        if c.get("detectors"):
            _detectors(b, c)
    b.h3("Evidence and reasons")
    b.table(
        ["Criterion", "Reason", "Basis", "File (sha256)"],
        [
            (
                c.get("label", ""),
                c.get("reason", ""),
                ((c.get("threshold") or {}).get("basis") or {}).get("citation", ""),
                f"{c.get('tool')} {_version(c.get('evidence') or {})}: "
                f"{(c.get('evidence') or {}).get('sha256', 'none imported')}",
            )
            for c in criteria
        ],
        widths=(0.2, 0.3, 0.2, 0.3),
    )


def _detectors(b: _Builder, criterion: Mapping[str, Any]) -> None:
    """A criterion garak judged with several detectors: each detector's own result (never summed; the worst, named
    in the reason, decides)."""
    b.h3(f"Detectors of {criterion.get('label', '')}")
    rows = []
    for d in criterion["detectors"]:
        interval = d.get("interval") or {}
        measured = fmt_number(d.get("value"))
        if d.get("value_exact"):
            measured += f" ({d['value_exact']})"
        rows.append(
            (
                d.get("detector", ""),
                OUTCOME_WORDS.get(d.get("outcome", ""), d.get("outcome", "")),
                f"{fmt_number(d.get('successes'))} of {fmt_number(d.get('sample_size'))}",
                measured,
                f"{interval.get('method', '')} {fmt_interval((interval.get('low'), interval.get('high')))}"
                if interval
                else "none",
                ", ".join(d.get("tasks") or []),
            )
        )
    b.table(
        ["Detector", "Outcome", "Hits", "Rate", "Interval", "Probes"], rows, widths=(0.22, 0.12, 0.1, 0.14, 0.2, 0.22)
    )


def _version(evidence: Mapping[str, Any]) -> str:
    """The tool's version as the evidence gives it, marked when it is the uploader's word rather than the file's."""
    version = str(evidence.get("tool_version", ""))
    return f"{version} (stated by the uploader)" if evidence.get("tool_version_source") == "uploader" else version
