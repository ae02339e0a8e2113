"""The NYC Local Law 144 bias-audit summary of a run, laid out as the rule's own example tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.ll144 import LL144Error
from audits.ll144 import build_summary as ll144_summary
from audits.reports.document.builder import _Builder, _Markup, esc, fmt_number
from governance.citations import labels


def _ll144(b: _Builder, run: Mapping[str, Any]) -> None:
    """The summary of results a NYC Local Law 144 bias audit publishes, laid out as the rule's own example tables
    (6 RCNY § 5-301): built by :func:`audits.ll144.build_summary` from the run's disparate-impact results, so the
    report, the API's ``ll144-summary`` and ``run_audit --ll144-summary`` say the same. The auditor's fields (dates,
    data, independence) are not stored with a run: the report names them as not given here."""
    b.h2(f"Bias audit summary (NYC Local Law 144; run #{run['id']})")
    roles = run.get("column_roles") or {}
    facts = {
        "id": run["id"],
        "date": str(run.get("finished_at") or "")[:10] or None,
        "dataset": run.get("dataset"),
        "policy": f"{run['policy']['name']} v{run['policy']['version']}" if run.get("policy") else None,
        "reference_groups": dict.fromkeys(roles.get("reference_groups") or {}, True),
    }
    try:
        summary = ll144_summary({"checks": {"disparate_impact": run["ll144"]}}, audit=facts)
    except LL144Error as exc:
        b.text(str(exc))
        return
    unknown = summary["unknown_category"]
    unknown_text = (
        f"{unknown['individuals']:,} (unknown sex or race/ethnicity; in no calculation)"
        if unknown["individuals"] is not None
        else "; ".join(f"{k}: {fmt_number(v)}" for k, v in unknown["by_table"].items())
    )
    b.pairs(
        [
            ("Date of the audit", f"{summary['audit']['date_of_audit']} ({summary['audit']['date_of_audit_basis']})"),
            ("Data audited", run["dataset"]),
            (summary["rate_label"], summary["rate_definition"]),
            ("Individuals in an unknown category", unknown_text),
            ("Figures", summary["rounding"]),
        ]
    )
    for table in summary["tables"]:
        b.h3(f"{table['title']} (run #{run['id']})")
        b.para(esc(table["impact_ratio_basis"]), "small")
        b.table(
            [
                "Category",
                "Number of applicants",
                summary["selected_label"],
                summary["rate_label"],
                "Impact ratio",
                "Note",
            ],
            [
                (
                    row["category"],
                    fmt_number(row["applicants"]),
                    fmt_number(row["selected"]),
                    _Markup(f"{esc(row['rate_percent'] or 'n/a')}<br/>({esc(row['rate_exact'] or 'n/a')})"),
                    _Markup(
                        f"{esc(row['impact_ratio_shown'])}<br/>({esc(row['impact_ratio_exact'])})"
                        if row["impact_ratio_exact"]
                        else "n/a"
                    ),
                    row["note"]
                    + (
                        f" Justification: {row['exclusion_justification']}"
                        if row.get("exclusion_justification")
                        else ""
                    ),
                )
                for row in table["categories"]
            ],
            widths=(0.24, 0.11, 0.12, 0.13, 0.12, 0.28),
        )
        if table["unknown"] is not None:
            b.para(
                f"Unknown category: {fmt_number(table['unknown'].get('count'))} individuals; not included in the "
                "calculations above.",
                "small",
            )
        if table.get("higher_rate_not_reference"):
            b.para(esc(table["higher_rate_not_reference"]["note"]), "small")
    missing = summary["missing"]
    if missing:
        b.para(
            f"Not given in this report ({labels(['nyc-rcny/5-302', 'nyc-rcny/5-303'])}; the auditor gives them with "
            "the summary: "
            f"GET /api/v1/audits/{run['id']}/ll144-summary/ or run_audit --ll144-summary): "
            + esc("; ".join(f"{m['what']} ({m['required_by']})" if m["required_by"] else m["what"] for m in missing))
            + ".",
            "small",
        )
    b.para(esc(summary["independent_auditor"]["note"]), "small")
