"""The demo's real data: UCI Statlog German Credit as CSV with a header and an invented applicant id per row."""

from __future__ import annotations

from pathlib import Path

GERMAN_DATA = Path(__file__).with_name("german.data")

# Attribute names after german.doc (Attribute 1..20, then the class: 1 = good, 2 = bad credit risk).
GERMAN_COLUMNS = (
    "checking_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit_risk",
)


def german_credit_csv(rows: int | None = None, *, id_prefix: str = "DE-") -> bytes:
    """The first ``rows`` applicants (all by default) as CSV, each with an ``applicant_id`` like ``DE-0001``."""
    lines = ["applicant_id," + ",".join(GERMAN_COLUMNS)]
    records = GERMAN_DATA.read_text(encoding="ascii").splitlines()
    for number, record in enumerate(records[:rows], start=1):
        lines.append(f"{id_prefix}{number:04d}," + ",".join(record.split()))
    return ("\n".join(lines) + "\n").encode("ascii")
