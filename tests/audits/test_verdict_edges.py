"""The verdicts at the legal edges of issue 16, each on a small CSV, through the engine as an audit run reads its
data (``read_table`` -> ``build_evaluation`` -> ``evaluate``) and, for the first ones, through ``run_audit --json``.

- A ratio of exactly four-fifths is not adverse (29 CFR 1607.4(D): "less than four-fifths"): 20 of 30 against 25 of
  30 passes; 19 of 30 fails.
- The unknown category (an empty cell) is in no group, never compared, never the reference and in no intersection;
  its number and share are reported (6 RCNY 5-301). A policy may bound its share.
- A group below the minimum size is never a plain pass, whatever its ratio, unless the policy excludes small groups
  with a basis; nor is a comparison with a reference group that is too small.
- Undefined rates (0/0) stay null, and a summary over them cannot pass on the other groups alone.
- A policy's required protected roles that the audit does not map are insufficient evidence naming each one.
- ``group_facts`` gives the same unknown/excluded/insufficient/undefined facts as the results.

Every audit here is also recomputed from its counts by the regulator bundle's verifier, which must agree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from audits.checks.facts import group_facts
from audits.engine import evaluate
from audits.evaluation import ColumnRoles, build_evaluation
from audits.policies import builtin_policies, load_policy
from governance.data.ingest import read_table
from governance.trail.verifier import recompute_audit
from tests.audits.test_run_audit_command import (  # noqa: F401 - fixtures used by name
    _keep_the_test_connection,
    ready,
    run_audit,
)

HEADER = ["person", "sex", "race", "outcome", "decision"]
BASIS = {"text": "Test basis.", "citation": "Test suite"}


def people(groups: Mapping[tuple[str, str], tuple[int, int]]) -> list[list[str]]:
    """Rows: per (sex, race) ``(count, selected)``; the label equals the decision."""
    rows = []
    for (sex, race), (count, selected) in groups.items():
        for i in range(count):
            decision = "1" if i < selected else "0"
            rows.append([f"{sex or 'u'}{race or 'u'}{i:04d}", sex, race, decision, decision])
    return rows


def write(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def document(policy: str, **changes: Any) -> dict[str, Any]:
    return {**load_policy(builtin_policies()[policy]).document, **changes}


def audit(path: Path, policy: dict[str, Any], *, protected: Any = ("sex",), **roles: Any) -> dict[str, Any]:
    """The results of auditing ``path`` under ``policy``, as ``run_policy`` computes them for a run."""
    column_roles = ColumnRoles.from_json(
        {"label": "outcome", "prediction": "decision", "protected": protected, **roles}
    )
    text = [column_roles.label, *column_roles.protected, column_roles.prediction]
    table = read_table(path, fmt="csv", text_columns=text)
    results = evaluate(build_evaluation(table, column_roles), policy).results
    # Every judged number carries its counts: the regulator's verifier recomputes each verdict from them alone.
    found = recompute_audit({"results": results, "verdict": results["verdict"]}, label=path.name)
    assert found.disagreements == []
    assert found.not_recomputable == []
    return results


def rows_of(results: Mapping[str, Any], check: str, grouping: str) -> tuple[dict[str, Any], dict[str, dict]]:
    (found,) = [g for g in results["checks"][check]["groupings"] if g["grouping"] == grouping]
    return found, {row["group"]: row for row in found["groups"]}


# --- 1. exactly four-fifths -------------------------------------------------------------------------------------


def test_a_ratio_of_exactly_four_fifths_is_not_adverse(tmp_path: Path) -> None:
    path = write(tmp_path / "edge.csv", people({("F", ""): (30, 20), ("M", ""): (30, 25)}))

    results = audit(path, document("four-fifths"))

    _, rows = rows_of(results, "disparate_impact", "sex")
    assert rows["sex=F"]["impact_ratio_exact"] == "4/5"
    assert rows["sex=F"]["selection_rate_exact"] == "2/3"
    assert rows["sex=F"]["passes"] is True
    assert results["verdict"] == "pass", results["reasons"]
    thresholds = results["checks"]["disparate_impact"]["thresholds"]
    assert thresholds["impact_ratio_min"] == {
        "value": 0.8,
        "exact": "4/5",
        "operator": ">=",
        "basis": thresholds["impact_ratio_min"]["basis"],
    }
    # One applicant fewer selected: 19/30 over 25/30 = 19/25 < 4/5.
    path = write(tmp_path / "below.csv", people({("F", ""): (30, 19), ("M", ""): (30, 25)}))
    below = audit(path, document("four-fifths"))
    assert below["verdict"] == "fail"
    assert rows_of(below, "disparate_impact", "sex")[1]["sex=F"]["impact_ratio_exact"] == "19/25"


@pytest.mark.usefixtures("ready")
def test_exactly_four_fifths_passes_through_run_audit(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    command = request.getfixturevalue("run_audit")
    path = write(tmp_path / "edge.csv", people({("F", ""): (30, 20), ("M", ""): (30, 25)}))
    args = ("--as", "omar", "--data", str(path), "--label", "outcome", "--prediction", "decision")

    result = command(*args, "--protected", "sex", "--policy", "four-fifths", "--json")

    assert result.code == 0, result.out + result.err
    found = result.json()["results"]["checks"]["disparate_impact"]
    (female,) = [g for g in found["groupings"][0]["groups"] if g["group"] == "sex=F"]
    assert (female["impact_ratio_exact"], female["status"], female["passes"]) == ("4/5", "judged", True)


# --- 2. unknown categories --------------------------------------------------------------------------------------


def test_the_unknown_category_is_no_group_and_never_the_reference(tmp_path: Path) -> None:
    """Empty cells with the highest selection rate made "sex=" the reference, and every known group failed
    against it. Now they are counted apart and the known groups are compared with each other."""
    groups = {("F", "A"): (50, 20), ("F", "B"): (50, 20), ("M", "A"): (50, 21), ("M", "B"): (50, 21)}
    groups[("", "A")] = (20, 20)
    path = write(tmp_path / "unknown.csv", people(groups))

    results = audit(path, document("four-fifths", intersections=True), protected=["sex", "race"])

    grouping, rows = rows_of(results, "disparate_impact", "sex")
    assert set(rows) == {"sex=F", "sex=M"}
    assert grouping["reference_group"] == "sex=M"
    assert grouping["unknown"] == {"count": 20, "share": 20 / 220, "share_exact": "1/11"}
    assert rows["sex=F"]["share_exact"] == "1/2"  # of the known rows
    intersection, rows = rows_of(results, "disparate_impact", "sex x race")
    assert all(not name.startswith("sex=,") for name in rows)
    assert intersection["unknown"]["count"] == 20
    assert rows_of(results, "disparate_impact", "race")[0]["unknown"]["count"] == 0
    assert results["verdict"] == "pass", results["reasons"]
    assert results["group_metrics"]["unknown"]["sex"]["count"] == 20
    assert "sex=" not in results["group_metrics"]["groupings"]["sex"]
    facts = [f for f in group_facts(results) if f["kind"] == "unknown" and f["check"] == "disparate_impact"]
    assert [(f["grouping"], f["count"]) for f in facts] == [("sex", 20), ("sex x race", 20)]


def test_declared_unknown_tokens_are_unknown_and_other_codes_stay_categories(tmp_path: Path) -> None:
    groups = {("F", ""): (40, 20), ("M", ""): (40, 20), ("NA", ""): (40, 20), ("unknown", ""): (10, 10)}
    path = write(tmp_path / "tokens.csv", people(groups))

    results = audit(path, document("four-fifths"), unknown_values={"sex": ["unknown"]})

    grouping, rows = rows_of(results, "disparate_impact", "sex")
    assert set(rows) == {"sex=F", "sex=M", "sex=NA"}  # "NA" was not declared: a real category
    assert grouping["unknown"]["count"] == 10


def test_a_policy_bounds_the_share_of_unknowns(tmp_path: Path) -> None:
    path = write(tmp_path / "many.csv", people({("F", ""): (40, 20), ("M", ""): (40, 20), ("", ""): (20, 10)}))
    bound = {"value": 0.2, "operator": "<=", "basis": BASIS}

    at_bound = audit(path, document("four-fifths", max_unknown_share=bound))  # 20 of 100: exactly 0.2
    over = audit(path, document("four-fifths", max_unknown_share={**bound, "value": 0.19}))

    assert at_bound["verdict"] == "pass", at_bound["reasons"]
    assert over["verdict"] == "insufficient_evidence"
    assert "sex: 20 of 100 rows (20.0%) have an unknown category" in over["reasons"][0]
    assert over["checks"]["disparate_impact"]["thresholds"]["max_unknown_share"]["exact"] == "19/100"


# --- 3. small groups --------------------------------------------------------------------------------------------


def test_a_small_group_above_the_threshold_is_never_a_plain_pass(tmp_path: Path) -> None:
    path = write(tmp_path / "small.csv", people({("F", ""): (100, 50), ("M", ""): (100, 48), ("X", ""): (10, 6)}))

    results = audit(path, document("four-fifths"))

    _, rows = rows_of(results, "disparate_impact", "sex")
    assert rows["sex=X"]["impact_ratio_exact"] == "6/5"  # above 0.8, and still not judged
    assert rows["sex=X"]["status"] == "insufficient_small_group"
    assert rows["sex=X"]["passes"] is None
    assert results["verdict"] == "insufficient_evidence"
    assert "sex=X: impact ratio 1.200 is not judged: the group has only 10 rows (minimum 30)" in results["reasons"][0]
    facts = group_facts(results)
    assert {(f["check"], f["group"], f["kind"]) for f in facts} >= {("disparate_impact", "sex=X", "insufficient")}


def test_a_policy_may_exclude_small_groups_with_a_basis_and_they_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "small.csv", people({("F", ""): (100, 50), ("M", ""): (100, 48), ("X", ""): (10, 1)}))
    policy = document("four-fifths", small_groups={"handling": "exclude", "basis": BASIS})

    results = audit(path, policy)

    _, rows = rows_of(results, "disparate_impact", "sex")
    assert rows["sex=X"]["status"] == "excluded_small_group"
    assert (rows["sex=X"]["count"], rows["sex=X"]["selection_rate_exact"]) == (10, "1/10")
    assert results["verdict"] == "pass", results["reasons"]
    (fact,) = [f for f in group_facts(results) if f["check"] == "disparate_impact"]
    assert (fact["kind"], fact["group"], fact["count"], fact["rate"]) == ("excluded", "sex=X", 10, 0.1)
    with pytest.raises(Exception, match="basis"):
        load_policy(
            builtin_policies()["four-fifths"].replace("checks:\n", "small_groups: {handling: exclude}\nchecks:\n", 1)
        )


def test_a_small_reference_group_makes_every_comparison_insufficient(tmp_path: Path) -> None:
    path = write(tmp_path / "ref.csv", people({("F", ""): (100, 50), ("M", ""): (10, 5)}))

    results = audit(path, document("four-fifths"), reference_groups={"sex": "M"})

    _, rows = rows_of(results, "disparate_impact", "sex")
    assert rows["sex=M"]["reference"] is True
    assert rows["sex=F"]["status"] == "insufficient_small_group"
    assert results["verdict"] == "insufficient_evidence"
    assert "the reference group sex=M has only 10 rows (minimum 30)" in results["reasons"][0]


def test_group_fairness_applies_the_same_small_group_rule(tmp_path: Path) -> None:
    path = write(tmp_path / "small.csv", people({("F", ""): (100, 50), ("M", ""): (100, 50), ("X", ""): (10, 5)}))
    policy = document("baseline")
    policy["checks"] = {"group_fairness": {**policy["checks"]["group_fairness"], "required": True}}

    results = audit(path, policy)

    _, rows = rows_of(results, "group_fairness", "sex")
    assert rows["sex=X"]["status"] == "insufficient_small_group"
    assert (rows["sex=X"]["tp"], rows["sex=X"]["fp"], rows["sex=X"]["tn"], rows["sex=X"]["fn"]) == (5, 0, 5, 0)
    assert results["checks"]["group_fairness"]["outcome"] == "insufficient_evidence"
    assert "sex=X has fewer than 30 rows" in results["checks"]["group_fairness"]["reason"]


# --- 4. undefined rates -----------------------------------------------------------------------------------------


def test_an_undefined_rate_keeps_a_summary_from_passing_on_the_other_groups(tmp_path: Path) -> None:
    """Group Z has no favourable labels, so its true positive rate is 0/0: equalized odds over F and M alone
    would pass, and must not."""
    rows = people({("F", ""): (40, 20), ("M", ""): (40, 20)})
    rows += [[f"z{i:03d}", "Z", "", "0", "0"] for i in range(40)]
    path = write(tmp_path / "undefined.csv", rows)
    policy = document("baseline")
    settings = dict(policy["checks"]["group_fairness"])
    settings.pop("max_interval_width")
    settings.pop("demographic_parity_difference_max")
    policy["checks"] = {"group_fairness": {**settings, "required": True}}

    results = audit(path, policy)

    found = results["checks"]["group_fairness"]
    summary = found["groupings"][0]["summary"]
    assert summary["equalized_odds_difference_undefined_groups"] == ["sex=Z"]
    assert rows_of(results, "group_fairness", "sex")[1]["sex=Z"]["true_positive_rate"] is None
    assert found["outcome"] == "insufficient_evidence"
    assert "rate is undefined (0/0) for sex=Z" in found["reason"]
    assert ("undefined", "sex=Z") in {(f["kind"], f["group"]) for f in group_facts(results)}


def test_impact_ratios_with_no_selection_at_all_stay_null(tmp_path: Path) -> None:
    rows = [[f"p{i:03d}", "FM"[i % 2], "", "1" if i % 3 else "0", "0"] for i in range(80)]
    path = write(tmp_path / "none.csv", rows)

    results = audit(path, document("four-fifths"))

    _, rows = rows_of(results, "disparate_impact", "sex")
    (other,) = [row for row in rows.values() if not row["reference"]]
    assert other["impact_ratio"] is None
    assert other["impact_ratio_exact"] is None
    assert other["status"] == "undefined"
    assert other["selection_rate_exact"] == "0/1"
    assert results["verdict"] == "insufficient_evidence"


# --- 5. required roles ------------------------------------------------------------------------------------------


def test_ll144_names_each_required_role_the_audit_does_not_map(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ll144.csv",
        people({("F", "A"): (100, 50), ("F", "B"): (100, 50), ("M", "A"): (100, 50), ("M", "B"): (100, 50)}),
        header=["person", "gender", "race", "outcome", "decision"],
    )

    partial = audit(path, document("nyc-ll144"), protected={"sex": "gender"})
    both = audit(path, document("nyc-ll144"), protected={"sex": "gender", "race_ethnicity": "race"})

    assert partial["verdict"] == "insufficient_evidence"
    assert any("not mapped to a column: race_ethnicity" in reason for reason in partial["reasons"])
    assert both["verdict"] == "pass", both["reasons"]
    groupings = [g["grouping"] for g in both["checks"]["disparate_impact"]["groupings"]]
    assert sorted(groupings) == ["race_ethnicity", "sex", "sex x race_ethnicity"]
    assert "protected_roles" not in both["checks"]


# --- 6. the LL144 2% exclusion ----------------------------------------------------------------------------------


def test_an_ll144_exclusion_needs_the_auditors_justification(tmp_path: Path) -> None:
    groups = {("F", "A"): (300, 150), ("M", "A"): (300, 150), ("F", "B"): (300, 150), ("M", "B"): (300, 150)}
    groups[("F", "C")] = (20, 0)  # under 2% of 1220 rows, never selected
    path = write(tmp_path / "share.csv", people(groups))
    protected = {"sex": "sex", "race_ethnicity": "race"}
    policy = document("nyc-ll144", min_group_size=10)

    plain = audit(path, policy, protected=protected)
    justified = audit(
        path, policy, protected=protected, exclusions={"race_ethnicity=C": "20 applicants; not enough to compare."}
    )

    assert plain["verdict"] == "fail"
    assert rows_of(plain, "disparate_impact", "race_ethnicity")[1]["race_ethnicity=C"]["status"] == "judged"
    _, rows = rows_of(justified, "disparate_impact", "race_ethnicity")
    assert rows["race_ethnicity=C"]["status"] == "excluded_below_share"
    assert rows["race_ethnicity=C"]["exclusion_justification"] == "20 applicants; not enough to compare."
    assert (rows["race_ethnicity=C"]["count"], rows["race_ethnicity=C"]["selection_rate"]) == (20, 0.0)
    # The intersection "sex=F, race_ethnicity=C" is a category of its own; the exclusion does not name it.
    assert justified["verdict"] == "fail"
    assert justified["reasons"][0].startswith("disparate_impact: sex=F, race_ethnicity=C: impact ratio 0.000")


# --- group_facts on its own -------------------------------------------------------------------------------------


def test_group_facts_reads_a_run_a_mapping_of_checks_and_one_check_alike() -> None:
    grouping = {
        "grouping": "sex",
        "unknown": {"count": 3, "share": 0.03, "share_exact": "3/100"},
        "groups": [
            {"group": "sex=F", "count": 50, "share": 0.5, "selection_rate": 0.5, "status": "reference"},
            {"group": "sex=M", "count": 40, "share": 0.4, "selection_rate": 0.45, "status": "judged"},
            {"group": "sex=X", "count": 7, "share": 0.07, "selection_rate": 0.0, "status": "insufficient_small_group"},
        ],
    }
    check = {"outcome": "insufficient_evidence", "groupings": [grouping]}

    from_run = group_facts({"verdict": "insufficient_evidence", "checks": {"disparate_impact": check}})

    assert from_run == group_facts({"disparate_impact": check}) == group_facts(check)
    assert [(f["kind"], f["group"], f["count"], f["share"], f["rate"]) for f in from_run] == [
        ("unknown", None, 3, 0.03, None),
        ("insufficient", "sex=X", 7, 0.07, 0.0),
    ]
    assert "6 RCNY 5-301" in from_run[0]["reason"]
    assert group_facts({"checks": {"performance": {"outcome": "pass"}}}) == []
