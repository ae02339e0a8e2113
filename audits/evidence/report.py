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
    b.h3("Evidence and reasons")
    b.table(
        ["Criterion", "Reason", "Basis", "File (sha256)"],
        [
            (
                c.get("label", ""),
                c.get("reason", ""),
                ((c.get("threshold") or {}).get("basis") or {}).get("citation", ""),
                f"{c.get('tool')} {(c.get('evidence') or {}).get('tool_version', '')}: "
                f"{(c.get('evidence') or {}).get('sha256', 'none imported')}",
            )
            for c in criteria
        ],
        widths=(0.2, 0.3, 0.2, 0.3),
    )
