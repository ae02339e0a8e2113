"""Helpers shared by the NYC Local Law 144 tests (test_ll144.py, test_ll144_surfaces.py): the audit's metadata and
reading one table of a summary.
"""

from __future__ import annotations

from typing import Any

META = {
    "aedt_name": "ScreenRight v4",
    "distribution_date": "2026-03-01",
    "data_source": "Applications to 14 employers using ScreenRight, January to December 2025",
    "data_explanation": "One row per applicant: the tool's score and the applicant's self-reported sex and race.",
    "data_type": "historical",
    "auditor_name": "Example Audit LLP",
    "auditor_statement": "We were not involved in using, developing or distributing the AEDT, ...",
}


def table_of(summary: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    (table,) = [t for t in summary["tables"] if t["kind"] == kind]
    return {row["category"]: row for row in table["categories"]}
