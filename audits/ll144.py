"""The summary of results of a NYC Local Law 144 bias audit, built from an audit's results (pure: no Django).

The layout follows the rule's own example tables (6 RCNY § 5-301): one table of sex categories, one of
race/ethnicity categories and one of their intersections, each listing per category the number of applicants, the
number selected (or scoring above the full sample's median), the selection (or scoring) rate and the impact ratio;
the number of individuals in an unknown category, who are in no calculation; and each category left out of the
impact ratios under § 5-301(d) (under 2% of the data) with its count, its rate and the auditor's justification.

Beside the tables, the fields the rules ask of a summary that the results cannot know: the source and explanation of
the data and the AEDT's distribution date (§ 5-303(a)), whether historical or test data was used and, for test data,
why historical data was not used and how the test data was generated and obtained (§ 5-302), and the independent
auditor's own statement (NYC Admin. Code § 20-870 defines "independent auditor"). They come from the auditor
(:func:`parse_meta`); a field not given is listed under ``missing``, never filled in. Assay never states that an
auditor is independent: the statement is the auditor's.

Every rate and ratio is recomputed here from the counts as exact fractions (the reference category's rate is the
denominator), so the summary can be checked by hand; decimals are for reading only: rates rounded half up to 0.1%,
impact ratios cut (not rounded) to three decimals, so a ratio shown as 0.800 or more is never below four-fifths.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from governance.citations import cite, labels

FORMAT = "assay.ll144-summary/1"
SEX = "sex"
RACE = "race_ethnicity"
MAX_TEXT = 5000
MAX_NAME = 200

# Every rule reference below is a label from the citations catalogue (governance.citations), so a pin is fixed in
# one place. The bias audit is "by an independent auditor" (Admin. Code § 20-870); the rules define the term (§ 5-300).
_INDEPENDENT = ("nyc-admin-code/20-870/bias-audit", "nyc-rcny/5-300/independent-auditor")

# The auditor's fields: key -> (what it is, where the rules ask for it). Order is the order of ``missing``.
META_FIELDS: dict[str, tuple[str, str]] = {
    "aedt_name": ("the AEDT's name, as the employer or employment agency publishes it", ""),
    "distribution_date": ("the AEDT's distribution date (YYYY-MM-DD)", cite("nyc-rcny/5-303/a").label),
    "data_source": ("the source of the data used for the bias audit", cite("nyc-rcny/5-303/a").label),
    "data_explanation": ("an explanation of the data used for the bias audit", cite("nyc-rcny/5-303/a").label),
    "data_type": ("whether historical or test data was used: 'historical' or 'test'", cite("nyc-rcny/5-302").label),
    "test_data_explanation": (
        "for test data: why historical data was not used, and how the test data was generated and obtained",
        cite("nyc-rcny/5-302/b").label,
    ),
    "auditor_name": ("the independent auditor's name", labels(_INDEPENDENT)),
    "auditor_statement": (
        f"the auditor's own statement of their independence as {cite('nyc-rcny/5-300/independent-auditor').label} "
        "defines it",
        labels(_INDEPENDENT),
    ),
}
REQUIRED_META = (
    "distribution_date",
    "data_source",
    "data_explanation",
    "data_type",
    "auditor_name",
    "auditor_statement",
)
DATA_TYPES = ("historical", "test")

TABLE_TITLES = {SEX: "Sex categories", RACE: "Race/Ethnicity categories", "intersectional": "Intersectional categories"}
STATUS_NOTES = {
    "judged": "",
    "insufficient_small_group": "fewer applicants than the policy's minimum group size: shown, not judged",
    "excluded_small_group": "left out of judged ratios by the policy's small-group rule (shown, not judged)",
    "excluded_below_share": (
        f"excluded from the impact ratio calculations: under 2% of the data ({cite('nyc-rcny/5-301/d').label})"
    ),
    "undefined": "impact ratio undefined (a rate of 0 out of 0, or a reference rate of 0)",
}
CSV_COLUMNS = (
    "table",
    "category",
    SEX,
    RACE,
    "applicants",
    "selected",
    "rate",
    "rate_exact",
    "rate_percent",
    "impact_ratio",
    "impact_ratio_exact",
    "impact_ratio_shown",
    "status",
    "note",
    "exclusion_justification",
)


class LL144Error(ValueError):
    """An LL144 summary that cannot be built as asked; the message names the problem (``field`` the input)."""

    def __init__(self, message: str, *, field: str = "ll144") -> None:
        super().__init__(message)
        self.field = field


# --- the auditor's fields ---------------------------------------------------------------------------------------


def parse_meta(value: Mapping[str, Any] | None) -> dict[str, str]:
    """The auditor's fields, checked: known keys only, text values (empty means not given), a real ISO date for
    ``distribution_date``, ``data_type`` one of historical/test. Raises LL144Error naming the problem."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LL144Error(f"ll144: give an object of fields ({', '.join(META_FIELDS)}), not {type(value).__name__}.")
    unknown = [key for key in value if key not in META_FIELDS]
    if unknown:
        raise LL144Error(
            f"ll144: unknown field {', '.join(map(repr, sorted(map(str, unknown))))}; "
            f"fields: {', '.join(META_FIELDS)}.",
            field=str(unknown[0]),
        )
    parsed: dict[str, str] = {}
    for key, raw in value.items():
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise LL144Error(f"ll144.{key}: give text, not {type(raw).__name__}.", field=key)
        text = raw.strip()
        if not text:
            continue
        limit = MAX_NAME if key in ("aedt_name", "auditor_name", "distribution_date", "data_type") else MAX_TEXT
        if len(text) > limit:
            raise LL144Error(f"ll144.{key}: at most {limit} characters (got {len(text)}).", field=key)
        parsed[key] = text
    if "distribution_date" in parsed:
        try:
            if len(parsed["distribution_date"]) != 10:
                raise ValueError
            datetime.date.fromisoformat(parsed["distribution_date"])
        except ValueError:
            raise LL144Error(
                f"ll144.distribution_date: {parsed['distribution_date']!r} is not a date written YYYY-MM-DD.",
                field="distribution_date",
            ) from None
    if "data_type" in parsed and parsed["data_type"] not in DATA_TYPES:
        raise LL144Error(
            f"ll144.data_type: {parsed['data_type']!r} is neither 'historical' nor 'test' "
            f"({cite('nyc-rcny/5-302').label}).",
            field="data_type",
        )
    return parsed


def _missing_meta(meta: Mapping[str, str]) -> list[dict[str, str]]:
    required = list(REQUIRED_META)
    if meta.get("data_type") == "test":
        required.insert(required.index("data_type") + 1, "test_data_explanation")
    return [
        {"field": key, "what": META_FIELDS[key][0], "required_by": META_FIELDS[key][1]}
        for key in required
        if not meta.get(key)
    ]


# --- numbers ----------------------------------------------------------------------------------------------------


def fraction_text(value: Fraction | None) -> str | None:
    """A fraction as text, "20/30" reduced to "2/3"; a whole number as "1"."""
    if value is None:
        return None
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def percent_half_up(value: Fraction, decimals: int = 1) -> str:
    """``value`` as a percentage rounded half up to ``decimals`` places, exactly ("54.3%")."""
    scale = 10**decimals
    units = (2 * value.numerator * 100 * scale + value.denominator) // (2 * value.denominator)
    whole, part = divmod(units, scale)
    return f"{whole}.{part:0{decimals}d}%" if decimals else f"{whole}%"


def cut(value: Fraction, decimals: int = 3) -> str:
    """``value`` cut (towards zero, never rounded up) to ``decimals`` places: 0.7999 is "0.799", never "0.800"."""
    scale = 10**decimals
    units = value.numerator * scale // value.denominator
    whole, part = divmod(units, scale)
    return f"{whole}.{part:0{decimals}d}"


# --- the summary ------------------------------------------------------------------------------------------------


def _kind(columns: Sequence[str]) -> str:
    if list(columns) == [SEX]:
        return SEX
    if list(columns) == [RACE]:
        return RACE
    if sorted(columns) == sorted([SEX, RACE]):
        return "intersectional"
    return "other"


def category_labels(group: str, columns: Sequence[str]) -> dict[str, str]:
    """``{"sex": "Female", "race_ethnicity": "Asian"}`` from a group's name (``"sex=Female, race_ethnicity=Asian"``);
    a value that itself holds ", " stays whole because only the grouping's own roles start a new part."""
    parts: list[list[str]] = []
    for segment in group.split(", "):
        key, sep, rest = segment.partition("=")
        if sep and key in columns and key not in [p[0] for p in parts]:
            parts.append([key, rest])
        elif parts:
            parts[-1][1] += ", " + segment
        else:
            return {columns[0]: group} if len(columns) == 1 else {"category": group}
    return {key: label for key, label in parts}  # noqa: C416 - pairs are lists


def _reference_basis(
    table_rows: list[dict[str, Any]], reference: dict[str, Any] | None, *, min_group_size: int | None, named: bool
) -> str:
    """How the denominator was picked, from the facts of this table (never more than the code did)."""
    minimum = f"at least {min_group_size} applicants" if min_group_size else "enough applicants to judge"
    if reference is None:
        return (
            f"No impact ratios: no category had {minimum} and was not excluded, so none could serve as the "
            "reference (the denominator)."
        )
    if named:
        return (
            f"The reference category ({reference['category']}) was named in the audit's column roles or its policy; "
            "the impact ratio is each category's rate divided by the reference category's rate."
        )

    def large(row: dict[str, Any]) -> bool:
        return not min_group_size or row["applicants"] >= min_group_size

    eligible = [r for r in table_rows if r["status"] in ("judged", "reference") and large(r)]
    if any(r is reference for r in eligible) and reference["_rate"] == max(r["_rate"] for r in eligible):
        return (
            "The impact ratio is each category's rate divided by the rate of the most selected category among the "
            f"categories judged ({minimum} and not excluded): {reference['category']}."
        )
    # Otherwise the check was told which category to compare with (the engine picks no other).
    return (
        f"The reference category ({reference['category']}) was named in the audit's column roles or its policy; "
        "the impact ratio is each category's rate divided by the reference category's rate."
    )


def _table(
    grouping: Mapping[str, Any], *, rate_kind: str, audit: Mapping[str, Any], min_group_size: int | None
) -> dict[str, Any]:
    columns = list(grouping.get("columns") or str(grouping.get("grouping", "")).split(" x "))
    kind = _kind(columns)
    rows: list[dict[str, Any]] = []
    for g in grouping.get("groups") or []:
        applicants, selected = int(g["count"]), int(g["selected"])
        rate = Fraction(selected, applicants) if applicants else None
        labels = category_labels(str(g["group"]), columns)
        status = g.get("status") or ("reference" if g.get("reference") else "judged")
        row: dict[str, Any] = {
            "category": ", ".join(labels.values()),
            "labels": labels,
            "group": g["group"],
            "applicants": applicants,
            "selected": selected,
            "rate": float(rate) if rate is not None else None,
            "rate_exact": fraction_text(rate),
            "rate_percent": percent_half_up(rate) if rate is not None else None,
            "status": status,
            "_rate": rate if rate is not None else Fraction(-1),
        }
        if g.get("exclusion_justification"):
            row["exclusion_justification"] = g["exclusion_justification"]
        rows.append(row)
    reference = next((r for r in rows if r["status"] == "reference"), None)
    if reference is None:
        reference = next((r for r in rows if r["group"] == grouping.get("reference_group")), None)
    ref_rate = reference["_rate"] if reference is not None and reference["_rate"] > 0 else None
    for row in rows:
        ratio = None
        if ref_rate is not None and row["status"] not in ("excluded_below_share", "undefined") and row["_rate"] >= 0:
            ratio = row["_rate"] / ref_rate
        row["impact_ratio"] = float(ratio) if ratio is not None else None
        row["impact_ratio_exact"] = fraction_text(ratio)
        row["impact_ratio_shown"] = cut(ratio) if ratio is not None else None
        if row is reference:
            row["note"] = "reference category (the denominator)"
        else:
            row["note"] = STATUS_NOTES.get(row["status"], row["status"])
    role_names = set(audit.get("reference_groups") or {})
    named = len(columns) == 1 and columns[0] in role_names
    basis = _reference_basis(rows, reference, min_group_size=min_group_size, named=named)
    table: dict[str, Any] = {
        "kind": kind,
        "title": TABLE_TITLES.get(kind, f"Categories of {grouping.get('grouping')}"),
        "grouping": grouping.get("grouping"),
        "columns": columns,
        "reference_category": reference["category"] if reference else None,
        "impact_ratio_basis": basis,
        "unknown": dict(grouping["unknown"]) if isinstance(grouping.get("unknown"), Mapping) else None,
        "categories": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
    }
    # LL144 sets no minimum size for the denominator: say when a smaller category was selected more often.
    if reference is not None:
        higher = [r for r in rows if r["_rate"] > reference["_rate"] and r["status"] not in ("excluded_below_share",)]
        if higher:
            top = max(higher, key=lambda r: r["_rate"])
            table["higher_rate_not_reference"] = {
                "category": top["category"],
                "applicants": top["applicants"],
                "rate_exact": fraction_text(top["_rate"]),
                "note": (
                    f"{top['category']} has a higher {'scoring' if rate_kind == 'scoring_rate' else 'selection'} "
                    f"rate ({top['rate_percent']}) but is not the reference ({top['note'] or top['status']}). "
                    "The rule's own definition of the impact ratio sets no minimum size for the most selected "
                    "category; with it as the denominator every ratio would be lower."
                ),
            }
    return table


def build_summary(
    results: Mapping[str, Any], *, audit: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The LL144 summary of an audit from its ``results`` (the run's results JSON, keyed as the engine stores
    them) and ``audit`` (plain facts of the run: ``id``, ``date`` (YYYY-MM-DD, when the audit ran),
    ``dataset``, ``policy``, ``min_group_size``, ``reference_groups`` (role -> value named in its column roles)).
    ``meta`` holds the auditor's fields (see :func:`parse_meta`). Raises LL144Error when the results hold no
    disparate-impact tables."""
    fields = parse_meta(meta)
    checks = results.get("checks") or {}
    impact = checks.get("disparate_impact")
    if not isinstance(impact, Mapping) or not impact.get("groupings"):
        raise LL144Error(
            "This audit has no disparate-impact tables (its policy names no disparate_impact check, or the check "
            "could not compute them), so there is no LL144 summary of results; audit it under nyc-ll144.",
            field="results",
        )
    rate_kind = str(impact.get("rate") or "selection_rate")
    scoring = rate_kind == "scoring_rate"
    # The minimum group size the check judged with (recorded in its results), else the one the caller read.
    min_group_size = impact.get("min_group_size", audit.get("min_group_size"))
    tables = [_table(g, rate_kind=rate_kind, audit=audit, min_group_size=min_group_size) for g in impact["groupings"]]
    order = {SEX: 0, RACE: 1, "intersectional": 2}
    tables.sort(key=lambda t: order.get(t["kind"], 3))
    missing: list[dict[str, str]] = []
    for kind, what, where in (
        (
            SEX,
            "the sex categories table (no grouping by the role 'sex')",
            labels(["nyc-rcny/5-301/b/3/i", "nyc-rcny/5-301/c/4/i"]),
        ),
        (
            RACE,
            "the race/ethnicity categories table (no grouping by the role 'race_ethnicity')",
            labels(["nyc-rcny/5-301/b/3/ii", "nyc-rcny/5-301/c/4/ii"]),
        ),
        (
            "intersectional",
            "the intersectional categories table (no grouping by 'sex' and 'race_ethnicity' together)",
            labels(["nyc-rcny/5-301/b/3/iii", "nyc-rcny/5-301/c/4/iii"]),
        ),
    ):
        if not any(t["kind"] == kind for t in tables):
            missing.append({"field": f"table:{kind}", "what": what, "required_by": where})
    for table in tables:
        if table["unknown"] is None:
            missing.append(
                {
                    "field": f"unknown:{table['grouping']}",
                    "what": f"the number of individuals in an unknown category for {table['grouping']} (the results "
                    "do not record it)",
                    "required_by": cite("nyc-rcny/5-301").label,
                }
            )
    excluded = []
    for table in tables:
        for row in table["categories"]:
            if row["status"] != "excluded_below_share":
                continue
            excluded.append(
                {
                    "table": table["kind"],
                    "category": row["category"],
                    "applicants": row["applicants"],
                    "rate_exact": row["rate_exact"],
                    "rate_percent": row["rate_percent"],
                    "justification": row.get("exclusion_justification"),
                }
            )
            if not row.get("exclusion_justification"):
                missing.append(
                    {
                        "field": f"exclusion_justification:{row['group']}",
                        "what": f"the independent auditor's justification for excluding {row['category']}",
                        "required_by": cite("nyc-rcny/5-301/d").label,
                    }
                )
    missing += _missing_meta(fields)
    intersection = next((t for t in tables if t["kind"] == "intersectional"), None)
    return {
        "format": FORMAT,
        "law": (
            f"NYC Local Law 144 of 2021 ({labels(['nyc-admin-code/20-870', 'nyc-admin-code/20-871'])}) and the DCWP "
            f"rules ({labels(f'nyc-rcny/{s}' for s in ('5-300', '5-301', '5-302', '5-303', '5-304'))})"
        ),
        "audit": {
            "id": audit.get("id"),
            "date_of_audit": audit.get("date"),
            "date_of_audit_basis": "the date the audit run finished (UTC)",
            "policy": audit.get("policy"),
            "dataset": audit.get("dataset"),
            "verdict": results.get("verdict"),
        },
        "aedt": {"name": fields.get("aedt_name"), "distribution_date": fields.get("distribution_date")},
        "data": {
            "source": fields.get("data_source"),
            "explanation": fields.get("data_explanation"),
            "type": fields.get("data_type"),
            "test_data_explanation": fields.get("test_data_explanation"),
        },
        "independent_auditor": {
            "name": fields.get("auditor_name"),
            "statement": fields.get("auditor_statement"),
            "note": (
                f"{cite('nyc-admin-code/20-870/bias-audit').label} requires the bias audit to be conducted by an "
                f"independent auditor, as {cite('nyc-rcny/5-300/independent-auditor').label} defines one. The "
                "statement above is the auditor's own; Assay records it and does not assess or assert independence."
            ),
        },
        "rate": rate_kind,
        "rate_label": "Scoring rate" if scoring else "Selection rate",
        "selected_label": "Number scoring above the median" if scoring else "Number selected",
        "rate_definition": (
            "the share of a category's applicants scoring above the median score of the full sample "
            f"({labels(['nyc-rcny/5-300/scoring-rate', 'nyc-rcny/5-301/c'])})"
            if scoring
            else "the share of a category's applicants selected to move forward or assigned the classification "
            f"({labels(['nyc-rcny/5-300/selection-rate', 'nyc-rcny/5-301/b'])})"
        ),
        "rounding": (
            "Exact fractions are given beside every rate and ratio; rates are shown rounded half up to 0.1%, impact "
            "ratios cut to three decimals (so a ratio shown as 0.800 or more is never below four-fifths)."
        ),
        "tables": tables,
        "unknown_category": {
            "individuals": intersection["unknown"]["count"] if intersection and intersection["unknown"] else None,
            "by_table": {t["grouping"]: (t["unknown"] or {}).get("count") for t in tables},
            "note": (
                f"Individuals whose category is unknown are in no calculation ({cite('nyc-rcny/5-301').label}); "
                "'individuals' counts those unknown in sex or race/ethnicity."
            ),
        },
        "excluded_categories": excluded,
        "missing": missing,
    }


def summary_csv(summary: Mapping[str, Any]) -> str:
    """The summary's tables as CSV, one row per category as the rule's example tables list them, then one row per
    table for its unknown category (applicants: their number; in no calculation). The other fields (dates, data,
    auditor, what is missing) are in the JSON form."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for table in summary.get("tables") or []:
        for row in table["categories"]:
            labels = row.get("labels") or {}
            values = {
                **{k: row.get(k) for k in CSV_COLUMNS},
                "table": table["kind"],
                SEX: labels.get(SEX, ""),
                RACE: labels.get(RACE, ""),
            }
            writer.writerow(["" if values[c] is None else _safe(values[c]) for c in CSV_COLUMNS])
        unknown = table.get("unknown")
        if unknown is not None:
            writer.writerow(
                [
                    table["kind"],
                    "(unknown category)",
                    "",
                    "",
                    unknown.get("count"),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "unknown",
                    f"not included in the calculations ({cite('nyc-rcny/5-301').label})",
                    "",
                ]
            )
    return buffer.getvalue()


def _safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (=, +, -, @ first) is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
