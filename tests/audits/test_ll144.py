"""The NYC Local Law 144 summary of results (audits.ll144): known answers from the rule and the EEOC, through the
engine, and the summary's fields, as JSON, CSV, ``run_audit --ll144-summary`` and the API.

Known answers, transcribed from public copies of the texts (the search tool's corpus; see each constant):

- 6 RCNY § 5-301(d), the scoring-rate example (an AEDT that scores applicants for "culture fit"): its sex table and
  the first five rows of its race/ethnicity table. The corpus held the example only up to the row "Native American
  or Alaska Native (Not Hispanic or Latino)" (the rest of that table and the intersectional table were cut off), so
  only those rows are reproduced.
- 6 RCNY § 5-301(b), the selection-rate example (an AEDT that screens resumes): the corpus held the example's text
  up to its first table's title ("Sex Categories") but none of its numbers, so it is NOT reproduced here; nothing is
  made up in its place.
- The EEOC's 2023 technical assistance on adverse impact of algorithmic tools: 48 of 80 White applicants and 12 of
  40 Black applicants advance; rates 60% and 30%; ratio 30/60, i.e. 50%.

The rule's scoring-rate table gives, per category, the number of applicants and the scoring rate (one decimal
place, in percent), and the impact ratio (two decimals). The number scoring above the median is not printed; it is
the only whole number of applicants that gives the printed rate (e.g. 54.3% of 92 is 50). The evaluation data below
gives each category that many applicants scoring 1 and the rest 0, so that exactly they score above the full
sample's median.

The summary where people read it (the API, ``run_audit --ll144-summary`` and the PDF report) is tested in
test_ll144_surfaces.py.
"""

from __future__ import annotations

import copy
import csv
import io
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pytest

from audits.engine import evaluate
from audits.evaluation import ColumnRoles, build_evaluation
from audits.ll144 import LL144Error, build_summary, cut, parse_meta, percent_half_up, summary_csv
from audits.policies import builtin_policies, load_policy
from tests.audits.ll144_helpers import META, table_of

# 6 RCNY § 5-301(d), Example (scoring rate, "culture fit"), as published by DCWP in its Notice of Adoption of Final
# Rule (2023); read at https://hf.qhduan.com/datasets/rk68/LL144-giskard-239/viewer/default/test?p=2 (a copy of the
# rule's text, "Document 12"). Category -> (applicants, scoring rate as printed, impact ratio as printed).
CULTURE_FIT_SOURCE = "https://hf.qhduan.com/datasets/rk68/LL144-giskard-239/viewer/default/test?p=2"


CULTURE_FIT_SEX = {"Male": (92, "54.3%", "1.00"), "Female": (76, "44.7%", "0.82")}


CULTURE_FIT_RACE = {
    "Hispanic or Latino": (28, "64.2%", "1.00"),
    "White (Not Hispanic or Latino)": (40, "37.5%", "0.58"),
    "Black or African American (Not Hispanic or Latino)": (32, "50.0%", "0.78"),
    "Native Hawaiian or Pacific Islander (Not Hispanic or Latino)": (8, "62.5%", "0.97"),
    "Asian (Not Hispanic or Latino)": (24, "41.7%", "0.65"),
}


# The EEOC's example (Select Issues: Assessing Adverse Impact in Software, Algorithms, and Artificial Intelligence
# Used in Employment Selection Procedures Under Title VII, May 18, 2023), quoted at
# https://swhrc.com/ai-the-impact-on-employment/ : group -> (applicants, advanced).
EEOC_SOURCE = "https://swhrc.com/ai-the-impact-on-employment/"


EEOC = {"White": (80, 48), "Black": (40, 12)}


# --- helpers ----------------------------------------------------------------------------------------------------


def count_for(applicants: int, printed_rate: str) -> int:
    """The number scoring above the median that the printed rate stands for: the nearest whole number of
    applicants, which must be the only one within the table's precision (half a unit of its last place)."""
    percent = Fraction(printed_rate.rstrip("%"))
    nearest = round(percent * applicants / 100)
    candidates = [k for k in range(applicants + 1) if abs(Fraction(100 * k, applicants) - percent) <= Fraction(1, 10)]
    assert candidates == [nearest], (printed_rate, applicants, candidates)
    return nearest


def rounded(value: Fraction, places: int) -> str:
    """``value`` rounded half up to ``places`` decimals, as the rule's tables print it."""
    scale = 10**places
    units = (2 * value.numerator * scale + value.denominator) // (2 * value.denominator)
    return f"{units // scale}.{units % scale:0{places}d}"


def ll144_document(**changes: Any) -> dict[str, Any]:
    """The shipped nyc-ll144 policy, parsed, with ``changes`` to its top-level settings."""
    document = copy.deepcopy(load_policy(builtin_policies()["nyc-ll144"]).document)
    document.update(changes)
    return document


def scored_rows(role: str, table: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Per category ``(applicants, above)``: ``above`` rows score 1.0, the others 0.0 (so with at most half the
    sample scoring 1 the full sample's median puts exactly those above it)."""
    rows = []
    for category, (applicants, above) in table.items():
        for i in range(applicants):
            high = i < above
            rows.append(
                {"applicant": f"{category}-{i}", role: category, "score": 1.0 if high else 0.0, "label": str(int(high))}
            )
    return rows


def run_engine(rows: list[dict[str, Any]], roles: ColumnRoles, document: dict[str, Any]) -> dict[str, Any]:
    """The engine's results for ``rows``, as a run stores them."""
    evaluation = build_evaluation(pa.Table.from_pylist(rows), roles)
    return evaluate(evaluation, document).results


def facts(**more: Any) -> dict[str, Any]:
    return {"id": 7, "date": "2026-04-02", "dataset": "applicants v1", "policy": "nyc-ll144 v1", **more}


# --- the rule's scoring-rate example, through the engine --------------------------------------------------------


def test_the_culture_fit_sex_table_of_6_rcny_5_301_is_reproduced_through_the_engine() -> None:
    counts = {sex: (n, count_for(n, rate)) for sex, (n, rate, _) in CULTURE_FIT_SEX.items()}
    assert counts == {"Male": (92, 50), "Female": (76, 34)}
    # The policy as shipped, except that this table is audited alone (no race column), so the policy's required
    # roles are not asked for here.
    document = ll144_document()
    document.pop("protected_roles", None)
    roles = ColumnRoles(label="label", protected={"sex": "sex"}, score="score", threshold=0.5)

    results = run_engine(scored_rows("sex", counts), roles, document)
    summary = build_summary(results, audit=facts(), meta=META)

    assert summary["rate"] == "scoring_rate"
    assert summary["selected_label"] == "Number scoring above the median"
    rows = table_of(summary, "sex")
    for sex, (applicants, printed_rate, printed_ratio) in CULTURE_FIT_SEX.items():
        row = rows[sex]
        assert row["applicants"] == applicants
        assert row["selected"] == counts[sex][1]
        assert row["rate_percent"] == printed_rate
        assert rounded(Fraction(row["impact_ratio_exact"]), 2) == printed_ratio
    assert rows["Male"]["status"] == "reference"
    assert rows["Female"]["impact_ratio_exact"] == "391/475"  # (34/76) / (50/92)
    # Audited alone, the sex table leaves the other two tables missing, and says so.
    assert [m["field"] for m in summary["missing"]] == ["table:race_ethnicity", "table:intersectional"]


def test_the_culture_fit_race_table_of_6_rcny_5_301_is_reproduced_with_no_minimum_for_the_denominator() -> None:
    """The rule's most scored category, Hispanic or Latino, has 28 applicants: under the shipped policy's minimum
    group size (30), so the rule's ratios are reproduced with the minimum set to 1, the rule's own definition."""
    counts = {race: (n, count_for(n, rate)) for race, (n, rate, _) in CULTURE_FIT_RACE.items()}
    assert [above for _, above in counts.values()] == [18, 15, 16, 5, 10]
    document = ll144_document(min_group_size=1)
    document.pop("protected_roles", None)
    roles = ColumnRoles(label="label", protected={"race_ethnicity": "race"}, score="score", threshold=0.5)

    results = run_engine(scored_rows("race", counts), roles, document)
    summary = build_summary(results, audit=facts(), meta=META)

    rows = table_of(summary, "race_ethnicity")
    for race, (_, printed_rate, printed_ratio) in CULTURE_FIT_RACE.items():
        row = rows[race]
        assert (row["applicants"], row["selected"]) == counts[race]
        assert rounded(Fraction(row["impact_ratio_exact"]), 2) == printed_ratio, race
        if race == "Hispanic or Latino":
            # 18 of 28 is 64.2857...%: the rule prints 64.2%, the figure cut after one decimal; rounded it is 64.3%.
            assert row["rate_percent"] == "64.3%"
            assert cut(Fraction(row["rate_exact"]) * 100, 1) == "64.2"
        else:
            assert row["rate_percent"] == printed_rate, race
    assert rows["Hispanic or Latino"]["status"] == "reference"
    table = next(t for t in summary["tables"] if t["kind"] == "race_ethnicity")
    assert table["impact_ratio_basis"] == (
        "The impact ratio is each category's rate divided by the rate of the most selected category among the "
        "categories judged (at least 1 applicants and not excluded): Hispanic or Latino."
    )


def test_under_the_shipped_minimum_group_size_the_denominator_is_the_most_scored_category_of_30_or_more() -> None:
    counts = {race: (n, count_for(n, rate)) for race, (n, rate, _) in CULTURE_FIT_RACE.items()}
    document = ll144_document()
    document.pop("protected_roles", None)
    roles = ColumnRoles(label="label", protected={"race_ethnicity": "race"}, score="score", threshold=0.5)

    results = run_engine(scored_rows("race", counts), roles, document)
    summary = build_summary(results, audit=facts(), meta=META)

    table = next(t for t in summary["tables"] if t["kind"] == "race_ethnicity")
    black = "Black or African American (Not Hispanic or Latino)"
    assert table["reference_category"] == black
    assert table["impact_ratio_basis"].endswith(f"(at least 30 applicants and not excluded): {black}.")
    rows = table_of(summary, "race_ethnicity")
    assert rows["Hispanic or Latino"]["impact_ratio_exact"] == "9/7"  # (18/28) / (16/32)
    assert rows["Hispanic or Latino"]["status"] == "insufficient_small_group"
    assert table["higher_rate_not_reference"]["category"] == "Hispanic or Latino"
    assert "sets no minimum size" in table["higher_rate_not_reference"]["note"]


def test_the_eeoc_2023_example_gives_an_impact_ratio_of_one_half() -> None:
    rows = [
        {"race": group, "decision": "1" if i < advanced else "0", "label": "1" if i < advanced else "0"}
        for group, (applicants, advanced) in EEOC.items()
        for i in range(applicants)
    ]
    roles = ColumnRoles(label="label", protected={"race_ethnicity": "race"}, prediction="decision")
    document = copy.deepcopy(load_policy(builtin_policies()["four-fifths"]).document)

    results = run_engine(rows, roles, document)
    summary = build_summary(results, audit=facts(policy="four-fifths v1"), meta=META)

    found = table_of(summary, "race_ethnicity")
    assert (found["White"]["rate_exact"], found["White"]["rate_percent"]) == ("3/5", "60.0%")
    assert (found["Black"]["rate_exact"], found["Black"]["rate_percent"]) == ("3/10", "30.0%")
    assert found["Black"]["impact_ratio_exact"] == "1/2"
    assert found["Black"]["impact_ratio_shown"] == "0.500"
    assert results["verdict"] == "fail"  # 1/2 is less than four-fifths


# --- the summary's fields -------------------------------------------------------------------------------------


def contract_results(*, exclusion: str | None = "Under 2% of the data; too few to compare.") -> dict[str, Any]:
    """Disparate-impact results in the engine's format, written by hand: sex (with 3 unknown), race/ethnicity with a
    category under 2% that the auditor excluded, and their intersection."""

    def row(group: str, count: int, selected: int, status: str, **more: Any) -> dict[str, Any]:
        return {"group": group, "count": count, "selected": selected, "status": status, **more}

    return {
        "verdict": "pass",
        "checks": {
            "disparate_impact": {
                "rate": "selection_rate",
                "min_group_size": 30,
                "groupings": [
                    {
                        "grouping": "race_ethnicity",
                        "columns": ["race_ethnicity"],
                        "reference_group": "race_ethnicity=Asian",
                        "unknown": {"count": 5, "share": 0.01, "share_exact": "1/100"},
                        "groups": [
                            row("race_ethnicity=Asian", 300, 150, "reference", reference=True),
                            row("race_ethnicity=White", 190, 90, "judged"),
                            row(
                                "race_ethnicity=Other, not listed",
                                5,
                                1,
                                "excluded_below_share" if exclusion else "insufficient_small_group",
                                **({"exclusion_justification": exclusion} if exclusion else {}),
                            ),
                        ],
                    },
                    {
                        "grouping": "sex",
                        "columns": ["sex"],
                        "reference_group": "sex=F",
                        "unknown": {"count": 3, "share": 0.006, "share_exact": "3/500"},
                        "groups": [
                            row("sex=F", 250, 125, "reference", reference=True),
                            row("sex=M", 247, 119, "judged"),
                        ],
                    },
                    {
                        "grouping": "sex x race_ethnicity",
                        "columns": ["sex", "race_ethnicity"],
                        "reference_group": "sex=F, race_ethnicity=Asian",
                        "unknown": {"count": 8, "share": 0.016, "share_exact": "1/62"},
                        "groups": [
                            row("sex=F, race_ethnicity=Asian", 150, 80, "reference", reference=True),
                            row("sex=M, race_ethnicity=Other, not listed", 2, 0, "insufficient_small_group"),
                        ],
                    },
                ],
            }
        },
    }


def test_the_summary_lists_tables_in_the_rules_order_with_unknowns_and_the_excluded_category() -> None:
    summary = build_summary(contract_results(), audit=facts(), meta=META)

    assert [t["kind"] for t in summary["tables"]] == ["sex", "race_ethnicity", "intersectional"]
    assert summary["unknown_category"]["individuals"] == 8
    assert summary["unknown_category"]["by_table"] == {"sex": 3, "race_ethnicity": 5, "sex x race_ethnicity": 8}
    other = table_of(summary, "race_ethnicity")["Other, not listed"]
    assert (other["applicants"], other["rate_exact"], other["rate_percent"]) == (5, "1/5", "20.0%")
    assert other["impact_ratio"] is None  # excluded from the impact ratio calculations (§ 5-301(d))
    assert summary["excluded_categories"] == [
        {
            "table": "race_ethnicity",
            "category": "Other, not listed",
            "applicants": 5,
            "rate_exact": "1/5",
            "rate_percent": "20.0%",
            "justification": "Under 2% of the data; too few to compare.",
        }
    ]
    cell = table_of(summary, "intersectional")["M, Other, not listed"]
    assert cell["labels"] == {"sex": "M", "race_ethnicity": "Other, not listed"}
    assert summary["missing"] == []
    assert summary["audit"]["date_of_audit"] == "2026-04-02"
    assert "does not assess or assert independence" in summary["independent_auditor"]["note"]


def test_every_required_field_not_given_is_listed_as_missing_never_filled_in() -> None:
    summary = build_summary(contract_results(), audit=facts(), meta={"data_type": "test"})

    assert [m["field"] for m in summary["missing"]] == [
        "distribution_date",
        "data_source",
        "data_explanation",
        "test_data_explanation",  # test data needs the why and the how (§ 5-302(b))
        "auditor_name",
        "auditor_statement",
    ]
    assert summary["aedt"]["distribution_date"] is None
    assert summary["independent_auditor"]["statement"] is None
    assert summary["data"]["type"] == "test"
    # Historical data needs no such explanation.
    historical = build_summary(contract_results(), audit=facts(), meta=META)
    assert "test_data_explanation" not in [m["field"] for m in historical["missing"]]


def test_missing_tables_unknown_counts_and_justifications_are_listed_as_missing() -> None:
    results = contract_results()
    groupings = results["checks"]["disparate_impact"]["groupings"]
    del groupings[2]  # no intersection
    del groupings[1]["unknown"]  # results that do not record the unknown category
    groupings[0]["groups"][2].pop("exclusion_justification")

    missing = [m["field"] for m in build_summary(results, audit=facts(), meta=META)["missing"]]

    assert missing == [
        "table:intersectional",
        "unknown:sex",
        "exclusion_justification:race_ethnicity=Other, not listed",
    ]


def test_the_denominator_is_described_as_the_code_picked_it() -> None:
    summary = build_summary(contract_results(), audit=facts(), meta=META)
    sex = next(t for t in summary["tables"] if t["kind"] == "sex")
    assert sex["impact_ratio_basis"] == (
        "The impact ratio is each category's rate divided by the rate of the most selected category among the "
        "categories judged (at least 30 applicants and not excluded): F."
    )
    named = build_summary(contract_results(), audit=facts(reference_groups={"sex": True}), meta=META)
    sex = next(t for t in named["tables"] if t["kind"] == "sex")
    assert sex["impact_ratio_basis"].startswith("The reference category (F) was named in the audit's column roles")
    none = contract_results()
    grouping = none["checks"]["disparate_impact"]["groupings"][1]
    grouping["reference_group"] = None
    for g in grouping["groups"]:
        g["status"], g["reference"] = "insufficient_small_group", False
    sex = next(t for t in build_summary(none, audit=facts(), meta=META)["tables"] if t["kind"] == "sex")
    assert sex["reference_category"] is None
    assert sex["impact_ratio_basis"].startswith("No impact ratios: no category had at least 30 applicants")
    assert {row["impact_ratio"] for row in sex["categories"]} == {None}


def test_the_csv_has_one_row_per_category_and_one_per_unknown_category() -> None:
    summary = build_summary(contract_results(), audit=facts(), meta=META)

    rows = list(csv.DictReader(io.StringIO(summary_csv(summary))))

    assert [(r["table"], r["category"]) for r in rows] == [
        ("sex", "F"),
        ("sex", "M"),
        ("sex", "(unknown category)"),
        ("race_ethnicity", "Asian"),
        ("race_ethnicity", "White"),
        ("race_ethnicity", "Other, not listed"),
        ("race_ethnicity", "(unknown category)"),
        ("intersectional", "F, Asian"),
        ("intersectional", "M, Other, not listed"),
        ("intersectional", "(unknown category)"),
    ]
    assert rows[1]["impact_ratio_exact"] == "238/247"  # (119/247) / (125/250)
    assert rows[1]["impact_ratio_shown"] == "0.963"
    assert rows[2]["applicants"] == "3"
    assert rows[5]["exclusion_justification"] == "Under 2% of the data; too few to compare."
    assert rows[5]["impact_ratio"] == ""


def test_a_category_spelt_like_a_formula_is_quoted_in_the_csv() -> None:
    results = contract_results()
    results["checks"]["disparate_impact"]["groupings"][1]["groups"][1]["group"] = "sex==HYPERLINK(1)"
    text = summary_csv(build_summary(results, audit=facts(), meta=META))
    assert "'=HYPERLINK(1)" in text


def test_the_auditors_fields_are_checked_and_refused_with_the_problem_named() -> None:
    assert parse_meta({"distribution_date": " 2026-01-31 ", "data_source": ""}) == {"distribution_date": "2026-01-31"}
    for bad, words in (
        ({"distribution_date": "31/01/2026"}, "not a date written YYYY-MM-DD"),
        ({"distribution_date": "2026-02-30"}, "not a date written YYYY-MM-DD"),
        ({"data_type": "synthetic"}, "neither 'historical' nor 'test'"),
        ({"auditor": "x"}, "unknown field 'auditor'"),
        ({"data_source": 3}, "ll144.data_source: give text, not int"),
        ({"auditor_name": "x" * 201}, "at most 200 characters"),
        (["x"], "give an object of fields"),
    ):
        with pytest.raises(LL144Error, match=words):
            parse_meta(bad)  # type: ignore[arg-type]


def test_a_run_without_disparate_impact_results_has_no_summary() -> None:
    with pytest.raises(LL144Error, match="no disparate-impact tables"):
        build_summary({"checks": {"performance": {}}}, audit=facts())


def test_rates_round_half_up_and_ratios_are_cut_so_a_shown_ratio_never_overstates() -> None:
    assert percent_half_up(Fraction(1, 8)) == "12.5%"
    assert percent_half_up(Fraction(1, 2000)) == "0.1%"  # 0.05% rounds half up
    assert percent_half_up(Fraction(2, 3)) == "66.7%"
    assert cut(Fraction(7999, 10000)) == "0.799"  # below four-fifths is never shown as 0.800
    assert cut(Fraction(4, 5)) == "0.800"
    assert cut(Fraction(9, 7)) == "1.285"
