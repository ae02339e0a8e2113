"""The findings a dataset's profile gives (missing values, duplicate rows, class imbalance, outliers, rows without a
subject id), each with its severity, what was measured and a message for the person who uploaded the file.
"""

from __future__ import annotations

from typing import Any

MISSING_WARNING_FRACTION = 0.05  # a column with more than 5% missing values is a warning, otherwise info


IMBALANCE_WARNING_FRACTION = 0.2  # a label whose smallest class holds less than 20% of labelled rows


def _count_and_fraction(count: int, total: int) -> dict[str, Any]:
    return {"count": count, "fraction": count / total if total else 0.0}


def _findings(profile: dict[str, Any], *, subject_id_column: str, missing_ids: int) -> list[dict[str, Any]]:
    rows = profile["rows"]
    findings: list[dict[str, Any]] = []

    def add(kind: str, column: str, severity: str, measured: dict[str, Any], message: str) -> None:
        findings.append(
            {"kind": kind, "column": column, "severity": severity, "measured": measured, "message": message}
        )

    for column, missing in profile["missing"].items():
        if missing["count"]:
            severity = "warning" if missing["fraction"] > MISSING_WARNING_FRACTION else "info"
            add(
                "missing_values",
                column,
                severity,
                dict(missing),
                f"{missing['count']} of {rows} values ({missing['fraction']:.1%}) in column {column!r} are missing.",
            )
    duplicates = profile["duplicate_rows"]
    if duplicates:
        measured = _count_and_fraction(duplicates, rows)
        add(
            "duplicate_rows",
            "",
            "warning",
            measured,
            f"{duplicates} of {rows} rows ({measured['fraction']:.1%}) repeat an earlier row exactly.",
        )
    label = profile.get("label")
    if label and label["minority_fraction"] is not None:
        if len(label["counts"]) < 2:
            add(
                "single_class_label",
                label["column"],
                "warning",
                {"classes": len(label["counts"])},
                f"The label column {label['column']!r} has a single class; nothing can be learnt or audited from it.",
            )
        elif label["minority_fraction"] < IMBALANCE_WARNING_FRACTION:
            minority = next(reversed(label["counts"]))
            add(
                "class_imbalance",
                label["column"],
                "warning",
                {
                    "minority_class": minority,
                    "minority_fraction": label["minority_fraction"],
                    "counts": label["counts"],
                },
                f"Class imbalance: the smallest class of {label['column']!r} ({minority!r}) holds"
                f" {label['minority_fraction']:.1%} of labelled rows, below {IMBALANCE_WARNING_FRACTION:.0%}.",
            )
    for column, stats in profile["outliers"].items():
        if stats["count"]:
            add(
                "outliers",
                column,
                "info",
                {key: stats[key] for key in ("count", "low", "high")},
                f"{stats['count']} values in column {column!r} lie outside Tukey's fences"
                f" [{stats['low']:g}, {stats['high']:g}] (1.5 IQR beyond Q1 = {stats['q1']:g}, Q3 = {stats['q3']:g}).",
            )
    if subject_id_column and missing_ids:
        measured = _count_and_fraction(missing_ids, rows)
        add(
            "missing_subject_id",
            subject_id_column,
            "warning",
            measured,
            f"{missing_ids} rows ({measured['fraction']:.1%}) have no subject id in column {subject_id_column!r};"
            " they cannot be found when a subject withdraws consent or asks for erasure.",
        )
    return findings
