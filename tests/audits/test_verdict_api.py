"""The six verdict edges of issue 16, each through ``POST /api/v1/audits/`` (the done-when asks for the API as well as
``run_audit --json``; the engine and command-line tests are in test_verdict_edges.py, test_audit_inputs.py,
test_ll144.py and test_proxies.py):

1. 20 of 30 against 25 of 30 is exactly four-fifths, which passes (29 CFR 1607.4(D): adverse only "less than
   four-fifths"); 19 of 30 fails.
2. Empty protected cells are the unknown category (6 RCNY 5-301): no group, never the reference even when their rate
   is the highest, their number reported.
3. ``nyc-ll144`` with the data's columns ``gender`` and ``race`` mapped to the roles computes the sex x race/ethnicity
   intersection; listed by column name instead, the audit is insufficient evidence naming sex and race_ethnicity.
4. Labels all ``yes``, decisions ``yes``/``Yes``: refused, naming ``'Yes'``.
5. A group below the minimum size is never a plain pass, whatever its ratio.
6. A perfect proxy (the demo model's ``age``, from which ``age_group`` is derived) counts in explainability's share.

Each audit is posted as the credit-risk team's owner, runs when the request's transaction commits, and is read back
through ``GET /api/v1/audits/{id}/``. The other modules cover 1, 3, 4 and 6 through ``run_audit --json``; 2 and 5
are run through it here as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.audits.conftest import API, audit_body, post_audit, predictions_only_version, upload
from tests.audits.test_proxies import DEMO_ROLES, assert_age_counted, demo_v1  # noqa: F401 - demo_v1 is a fixture
from tests.audits.test_run_audit_command import (  # noqa: F401 - fixtures used by name
    _keep_the_test_connection,
    ready,
    run_audit,
)
from tests.audits.test_verdict_edges import people, write
from tests.conftest import Cast
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.usefixtures("media_root", "builtin_policies_stored")

ROLES = {"label": "label", "prediction": "prediction", "protected": ["sex"]}


def rows_of(plan: Mapping[str, tuple[int, int]], *, column: str = "sex") -> list[dict[str, str]]:
    """Per group ``(rows, selected)``; the label agrees with the decision."""
    rows = []
    for group, (count, selected) in plan.items():
        for i in range(count):
            decision = "1" if i < selected else "0"
            rows.append({"id": f"{group or 'unknown'}-{i}", column: group, "label": decision, "prediction": decision})
    return rows


class Audits:
    """Posts audits of one predictions-only model version, each on a new version of the evaluation dataset."""

    def __init__(self, cast: Cast, capture: Any) -> None:
        self.cast, self.capture = cast, capture
        self.version = predictions_only_version(cast)

    def run(self, rows: list[dict[str, str]], *, policy: str = "four-fifths", roles: Mapping[str, Any] = ROLES) -> Any:
        dataset_version = upload(self.cast, rows)
        with self.capture(execute=True):
            response = post_audit(
                self.cast.owner, audit_body(self.version, dataset_version, policy=policy, roles=roles)
            )
        assert response.status_code == 201, response.content
        found = self.cast.owner.client().get(f"{API}/audits/{response.json()['id']}/")
        assert found.status_code == 200
        return found.json()


@pytest.fixture
def audits(cast: Cast, django_capture_on_commit_callbacks: Any) -> Audits:
    return Audits(cast, django_capture_on_commit_callbacks)


def check_of(run: Mapping[str, Any], name: str = "disparate_impact") -> dict[str, Any]:
    (found,) = [c for c in run["checks"] if c["check"] == name]
    return found


def table(run: Mapping[str, Any], grouping: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    (found,) = [g for g in check_of(run)["details"]["groupings"] if g["grouping"] == grouping]
    return found, {row["group"]: row for row in found["groups"]}


def test_1_exactly_four_fifths_passes_and_one_fewer_fails(audits: Audits) -> None:
    at = audits.run(rows_of({"F": (30, 20), "M": (30, 25)}))
    assert (at["status"], at["verdict"]) == ("done", "pass"), at["error"]
    _, rows = table(at, "sex")
    assert (rows["sex=F"]["impact_ratio_exact"], rows["sex=F"]["status"], rows["sex=F"]["passes"]) == (
        "4/5",
        "judged",
        True,
    )
    thresholds = check_of(at)["details"]["thresholds"]["impact_ratio_min"]
    assert (thresholds["exact"], thresholds["operator"]) == ("4/5", ">=")

    below = audits.run(rows_of({"F": (30, 19), "M": (30, 25)}))
    assert below["verdict"] == "fail"
    _, rows = table(below, "sex")
    assert (rows["sex=F"]["impact_ratio_exact"], rows["sex=F"]["passes"]) == ("19/25", False)


def test_2_the_unknown_category_is_no_group_and_never_the_reference(audits: Audits) -> None:
    # The 40 rows with an empty sex are all selected: as a group they would have the highest rate (1.0).
    run = audits.run(rows_of({"F": (100, 45), "M": (100, 50), "": (40, 40)}))
    assert (run["status"], run["verdict"]) == ("done", "pass"), run["error"]
    grouping, rows = table(run, "sex")
    assert sorted(rows) == ["sex=F", "sex=M"]
    assert grouping["reference_group"] == "sex=M"
    assert grouping["unknown"] == {"count": 40, "share": pytest.approx(40 / 240), "share_exact": "1/6"}
    assert rows["sex=F"]["impact_ratio_exact"] == "9/10"
    assert rows["sex=F"]["share_exact"] == "1/2"  # of the known rows


def test_2_the_checks_beside_disparate_impact_count_unknown_rows_apart_too(audits: Audits) -> None:
    # baseline runs performance and data quality as well: neither lists "sex=" as a group; both count the 40 apart,
    # and the audit's portal page says so.
    run = audits.run(rows_of({"F": (100, 45), "M": (100, 50), "": (40, 40)}), policy="baseline")
    assert run["status"] == "done", run["error"]
    performance, quality = check_of(run, "performance")["details"], check_of(run, "data_quality")["details"]
    assert sorted(performance["per_group"]) == ["sex=F", "sex=M"]
    assert performance["unknown"]["sex"]["count"] == quality["unknown"]["sex"]["count"] == 40
    assert quality["group_counts"] == {"sex": {"F": 100, "M": 100}}
    page = signed_in(audits.cast.owner).get(f"/audits/{run['id']}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "40 rows have an unknown sex: in no group" in html
    assert "unknown (in no group): 40 rows" in html


LL144_PLAN = {("F", "A"): (40, 20), ("M", "A"): (40, 20), ("F", "B"): (40, 18), ("M", "B"): (40, 19)}


def hiring() -> list[dict[str, str]]:
    rows = []
    for (gender, race), (count, selected) in LL144_PLAN.items():
        for i in range(count):
            decision = "1" if i < selected else "0"
            rows.append(
                {"id": f"{gender}{race}{i}", "gender": gender, "race": race, "label": decision, "prediction": decision}
            )
    return rows


def test_3_nyc_ll144_computes_the_intersection_of_mapped_roles_and_names_roles_not_mapped(audits: Audits) -> None:
    mapped = audits.run(
        hiring(),
        policy="nyc-ll144",
        roles={**ROLES, "protected": {"sex": "gender", "race_ethnicity": "race"}},
    )
    assert mapped["status"] == "done", mapped["error"]
    groupings = [g["grouping"] for g in check_of(mapped)["details"]["groupings"]]
    assert sorted(groupings) == ["race_ethnicity", "sex", "sex x race_ethnicity"]
    _, rows = table(mapped, "sex x race_ethnicity")
    assert rows["sex=F, race_ethnicity=B"]["selection_rate_exact"] == "9/20"
    assert rows["sex=F, race_ethnicity=B"]["impact_ratio_exact"] == "9/10"
    assert mapped["verdict"] == "pass"

    by_column = audits.run(hiring(), policy="nyc-ll144", roles={**ROLES, "protected": ["gender", "race"]})
    assert (by_column["status"], by_column["verdict"]) == ("done", "insufficient_evidence"), by_column["error"]
    said = " ".join(c["reason"] for c in by_column["checks"]) + " ".join(by_column["results"].get("reasons", []))
    assert "not mapped to a column: sex, race_ethnicity" in said, said


def test_4_a_third_spelling_of_the_decision_is_refused_naming_it(audits: Audits) -> None:
    rows = [
        {"id": str(i), "sex": "FM"[i % 2], "label": "yes", "prediction": ("yes", "Yes")[i // 2 % 2]} for i in range(200)
    ]
    run = audits.run(rows, roles={**ROLES, "favourable": "yes"})
    assert (run["status"], run["verdict"]) == ("error", "")
    assert "'Yes' (a spelling of 'yes'?)" in run["error"]
    assert run["checks"] == []


def test_5_a_group_below_the_minimum_size_is_never_a_plain_pass(audits: Audits) -> None:
    # X's rate equals the others' (ratio 1): judged, it would pass. It has 10 rows, under the policy's 30.
    run = audits.run(rows_of({"F": (100, 50), "M": (100, 50), "X": (10, 5)}))
    assert (run["status"], run["verdict"]) == ("done", "insufficient_evidence"), run["error"]
    _, rows = table(run, "sex")
    assert (rows["sex=X"]["status"], rows["sex=X"]["passes"], rows["sex=X"]["impact_ratio_exact"]) == (
        "insufficient_small_group",
        None,
        "1/1",
    )
    assert "sex=X" in check_of(run)["reason"]
    assert "only 10 rows (minimum 30)" in check_of(run)["reason"]


def test_6_a_perfect_proxy_counts_in_explainability(
    cast: Cast,
    demo_v1: dict[str, Any],  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = cast.owner.client().post(f"{API}/audits/", {**demo_v1, "column_roles": DEMO_ROLES}, format="json")
    assert response.status_code == 201, response.content
    run = cast.owner.client().get(f"{API}/audits/{response.json()['id']}/").json()
    assert (run["status"], run["verdict"]) == ("done", "fail"), run["error"]
    assert_age_counted(check_of(run, "explainability"), ["association"])


# --- the two edges test_verdict_edges.py checks through the engine only, through run_audit --json too -------------


def run_audit_json(request: pytest.FixtureRequest, path: Path, *more: str) -> tuple[int, dict[str, Any]]:
    command = request.getfixturevalue("run_audit")
    args = ("--as", "omar", "--data", str(path), "--label", "outcome", "--prediction", "decision", "--json")
    result = command(*args, "--protected", "sex", *more)
    return result.code, result.json()


@pytest.mark.usefixtures("ready")
def test_2_through_run_audit_the_unknown_category_is_no_group(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    path = write(tmp_path / "unknown.csv", people({("F", ""): (100, 45), ("M", ""): (100, 50), ("", ""): (40, 40)}))
    code, found = run_audit_json(request, path, "--policy", "four-fifths")
    assert (code, found["verdict"]) == (0, "pass")
    (grouping,) = found["results"]["checks"]["disparate_impact"]["groupings"]
    assert [row["group"] for row in grouping["groups"]] == ["sex=F", "sex=M"]
    assert grouping["reference_group"] == "sex=M"
    assert grouping["unknown"] == {"count": 40, "share": pytest.approx(1 / 6), "share_exact": "1/6"}


@pytest.mark.usefixtures("ready")
def test_5_through_run_audit_a_small_group_is_never_a_plain_pass(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path = write(tmp_path / "small.csv", people({("F", ""): (100, 50), ("M", ""): (100, 50), ("X", ""): (10, 5)}))
    code, found = run_audit_json(request, path, "--policy", "four-fifths")
    assert found["verdict"] == "insufficient_evidence"
    assert code != 0
    (grouping,) = found["results"]["checks"]["disparate_impact"]["groupings"]
    (small,) = [row for row in grouping["groups"] if row["group"] == "sex=X"]
    assert (small["status"], small["passes"], small["impact_ratio_exact"]) == ("insufficient_small_group", None, "1/1")
