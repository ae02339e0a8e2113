"""verify.py's recomputation of results, mostly without a bundle: results written by the contract, group fairness
against fairlearn, the engine's own results, and hostile values reported, never raised.

The known answers come from outside Assay: 29 CFR 1607.4(D) (adverse only "less than four-fifths", so 20 of 30
against 25 of 30, exactly 4/5, passes), the EEOC's 2023 technical assistance example (48 of 80 against 12 of 40:
ratio 0.5, fails) and fairlearn's demographic parity and equalized odds differences.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fairlearn import metrics as flm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audits.engine import evaluate
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.policies import builtin_policies, load_policy
from governance.exports.bundle import json_bytes
from governance.trail.verifier import recompute_audit, results_sha256
from tests.exports.recompute_helpers import EXAMPLES, confusion, di_row, disparate_impact, group_fairness
from tests.exports.test_verifier_hostile import bundle as signed_bundle
from tests.exports.test_verifier_hostile import (
    folder,  # noqa: F401 - a fixture
    trail_files,
    trusted,
    zip_of,
)

# --- results by the contract, recomputed without a bundle ----------------------------------------------------------


def audit(checks: Mapping[str, dict[str, Any]], verdict: str) -> dict[str, Any]:
    return {"run": 7, "verdict": verdict, "results": {"verdict": verdict, "checks": dict(checks)}}


def test_exactly_four_fifths_passes_and_the_eeoc_example_fails() -> None:
    found = recompute_audit(audit({"disparate_impact": disparate_impact(EXAMPLES, outcome="fail")}, "fail"))
    assert found.disagreements == []
    assert found.recomputed == ["disparate_impact"]
    [sex, race] = disparate_impact(EXAMPLES, outcome="fail")["groupings"]
    assert [row["passes"] for row in sex["groups"]] == [None, True]
    assert [row["impact_ratio_exact"] for row in race["groups"]] == ["1/1", "1/2"]


def test_a_pass_signed_over_a_failing_group_is_a_disagreement_naming_it() -> None:
    document = audit({"disparate_impact": disparate_impact(EXAMPLES, outcome="pass")}, "pass")

    found = recompute_audit(document, label="audit run 7")

    # The rows' own verdicts hold (exactly 4/5 passes, 1/2 fails); the check's signed outcome does not follow.
    assert found.disagreements == [
        "recomputation disagrees: audit run 7, disparate_impact: outcome from the counts is 'fail' (grouping 'race', "
        "group 'race=Black': impact ratio 1/2 (0.5)), the signed outcome is 'pass'"
    ]


def test_a_small_group_cannot_give_a_pass_and_an_undefined_ratio_must_be_undefined() -> None:
    check = disparate_impact({"sex": {"sex=male": (30, 25), "sex=female": (30, 24)}}, outcome="pass")
    rows = check["groupings"][0]["groups"]
    rows.append(di_row("sex=other", 4, 1, Fraction(25, 30), "insufficient_small_group"))
    for row in rows:
        row["share"] = row["count"] / 64
    found = recompute_audit(audit({"disparate_impact": check}, "pass"), label="run")
    assert found.disagreements == [
        "recomputation disagrees: run, disparate_impact: signed 'pass', but grouping 'sex', group 'sex=other' is "
        "insufficient_small_group: that is insufficient evidence, not a pass"
    ]

    check["outcome"] = "insufficient_evidence"
    found = recompute_audit(audit({"disparate_impact": check}, "insufficient_evidence"), label="run")
    assert found.disagreements == []

    rows[-1].update(status="undefined", impact_ratio=None, impact_ratio_exact=None)
    found = recompute_audit(audit({"disparate_impact": check}, "insufficient_evidence"), label="run")
    assert any("status undefined, but the counts give impact ratio 3/10" in d for d in found.disagreements)


def test_older_results_are_listed_as_not_recomputable() -> None:
    """The layout Assay wrote before statuses and operators (passes_four_fifths, a bare impact_ratio_min)."""
    older = {
        "outcome": "pass",
        "impact_ratio_min": 0.8,
        "groupings": [
            {
                "grouping": "sex",
                "reference_group": "sex=M",
                "groups": [
                    {"group": "sex=M", "count": 100, "selected": 50, "impact_ratio": 1.0, "reference": True},
                    {"group": "sex=F", "count": 100, "selected": 45, "impact_ratio": 0.9, "passes_four_fifths": True},
                ],
            }
        ],
    }
    found = recompute_audit(audit({"disparate_impact": older}, "pass"), label="audit run 3")
    assert found.recomputed == []
    assert found.disagreements == []
    assert found.not_recomputable == ["audit run 3, disparate_impact: not recomputable: its results name no thresholds"]

    older["thresholds"] = {"impact_ratio_min": {"value": 0.8, "exact": "4/5", "operator": ">="}}
    found = recompute_audit(audit({"disparate_impact": older}, "pass"), label="audit run 3")
    assert found.not_recomputable == [
        "audit run 3, disparate_impact: not recomputable: audit run 3, disparate_impact, grouping 'sex', group "
        "'sex=M' has no status saying whether it was judged (results of an older format?)"
    ]


# --- group fairness against fairlearn ----------------------------------------------------------------------------

CONFUSION = {"age=young": (30, 10, 50, 10), "age=old": (40, 5, 45, 10)}  # tp, fp, tn, fn


def fairness_arrays(confusion: Mapping[str, tuple[int, int, int, int]]) -> tuple[np.ndarray, ...]:
    y_true, y_pred, groups = [], [], []
    for group, (tp, fp, tn, fn) in confusion.items():
        for truth, pred, n in ((1, 1, tp), (0, 1, fp), (0, 0, tn), (1, 0, fn)):
            y_true += [truth] * n
            y_pred += [pred] * n
            groups += [group] * n
    return np.array(y_true), np.array(y_pred), np.array(groups)


def test_group_fairness_differences_agree_with_fairlearn_and_a_changed_count_is_caught() -> None:
    y_true, y_pred, groups = fairness_arrays(CONFUSION)
    summary = {
        "demographic_parity_difference": float(
            flm.demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
        ),
        "equalized_odds_difference": float(flm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups)),
    }
    # Selection rates 40/100 and 45/100: 1/20 <= 1/10. TPR 3/4 and 4/5, FPR 1/6 and 1/10: EOD 1/15 <= 1/10.
    assert summary["demographic_parity_difference"] == pytest.approx(0.05)
    assert summary["equalized_odds_difference"] == pytest.approx(1 / 15)
    check = group_fairness(CONFUSION, summary=summary, outcome="pass")

    found = recompute_audit(audit({"group_fairness": check}, "pass"), label="run")
    assert (found.recomputed, found.disagreements, found.not_recomputable) == (["group_fairness"], [], [])

    edited = copy.deepcopy(check)
    young = edited["groupings"][0]["groups"][0]
    # Ten true positives become false positives and ten true negatives false negatives: the same 40 selected, but
    # TPR 20/40 against 4/5 and FPR 20/60 against 1/10, an equalized odds difference of 3/10 > 1/10.
    young.update(tp=20, fp=20, tn=40, fn=20)
    found = recompute_audit(audit({"group_fairness": edited}, "pass"), label="run")
    assert found.disagreements[0] == (
        "recomputation disagrees: run, group_fairness, grouping 'age', group 'age=young': true_positive_rate from "
        "the counts is 1/2 (0.5), the signed results say 0.75"
    )
    assert not any("selection_rate" in d or "demographic_parity" in d for d in found.disagreements)
    assert any(
        "equalized_odds_difference from the counts is 3/10 (0.3), the signed results say 0.0666" in d
        for d in found.disagreements
    ), found.disagreements
    assert any(
        "outcome from the counts is 'fail' (grouping 'age': equalized_odds_difference 3/10 (0.3) is not <= 1/10" in d
        for d in found.disagreements
    ), found.disagreements


# --- the engine's own results, recomputed -------------------------------------------------------------------------


# Groups with the same rates (multiples of one confusion), so that ratios of exactly 1 and passes are common too.
alike = st.builds(
    lambda base, times: [tuple(k * n for n in base) for k in times],
    confusion,
    st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=4),
)


confusions = st.one_of(st.lists(confusion, min_size=2, max_size=4), alike)


# Policy variations: which impact-ratio rule, how small groups are handled, a maximum unknown share, an exclusion.
variations = st.fixed_dictionaries(
    {
        "rule": st.sampled_from(["four-fifths", "nyc-ll144"]),
        "min_size": st.sampled_from([1, 6, 15]),
        "exclude_small": st.booleans(),
        "max_unknown": st.sampled_from([None, "0.05"]),
        "justify_g0": st.booleans(),
    }
)


def engine_table(groups: list[tuple[int, int, int, int]], unknown: int) -> pa.Table:
    """Rows of an evaluation: group g<i> of the ``sex`` column with the given confusion counts, two age bands
    alternating (intersections), and ``unknown`` rows whose ``sex`` is empty (the unknown category)."""
    rows = []
    for position, (tp, fp, tn, fn) in enumerate([*groups, (unknown, 0, 0, 0)]):
        sex = f"g{position}" if position < len(groups) else ""
        for label, prediction, n in ((1, 1, tp), (0, 1, fp), (0, 0, tn), (1, 0, fn)):
            rows += [
                {"sex": sex, "band": "a" if len(rows) % 2 else "b", "label": str(label), "prediction": str(prediction)}
                for _ in range(n)
            ]
    return pa.Table.from_pylist(rows)


def engine_policy(variation: Mapping[str, Any]) -> dict[str, Any]:
    basis = {"text": "a test's policy"}
    document = dict(load_policy(builtin_policies()["four-fifths"]).document)
    impact = load_policy(builtin_policies()[variation["rule"]]).document["checks"]["disparate_impact"]
    fairness = load_policy(builtin_policies()["eu-ai-act-high-risk"]).document["checks"]["group_fairness"]
    document.update(min_group_size=variation["min_size"], intersections=True)
    document["checks"] = {"disparate_impact": {**impact, "rate": "selection_rate"}, "group_fairness": fairness}
    if variation["exclude_small"]:
        document["small_groups"] = {"handling": "exclude", "basis": basis}
    if variation["max_unknown"]:
        document["max_unknown_share"] = {"value": variation["max_unknown"], "operator": "<=", "basis": basis}
    return document


PLAIN = {"rule": "four-fifths", "min_size": 6, "exclude_small": False, "max_unknown": None, "justify_g0": False}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=confusions, unknown=st.integers(min_value=0, max_value=5), variation=variations)
# 20 of 30 against 25 of 30: exactly four-fifths, a pass.
@example(groups=[(10, 10, 5, 5), (15, 10, 3, 2)], unknown=0, variation=PLAIN)
# One row of 121 (under LL144's 2%) left out with the auditor's justification.
@example(
    groups=[(0, 1, 0, 0), (20, 10, 20, 10), (20, 10, 20, 10)],
    unknown=2,
    variation={**PLAIN, "rule": "nyc-ll144", "min_size": 1, "justify_g0": True},
)
def test_the_engines_results_are_recomputed_without_a_disagreement(
    groups: list[tuple[int, int, int, int]], unknown: int, variation: dict[str, Any]
) -> None:
    """Whatever the counts and the policy (exact thresholds, small groups insufficient or excluded, categories under
    2% excluded with a justification, undefined rates, unknown cells, intersections), what the engine signs is what
    verify.py recomputes; and flipping any judged group's verdict is caught."""
    exclusions = {"sex=g0": "fewer than 2% of the data (a test's justification)"} if variation["justify_g0"] else {}
    try:
        evaluation = build_evaluation(
            engine_table(groups, unknown),
            ColumnRoles(label="label", protected=("sex", "band"), prediction="prediction", exclusions=exclusions),
        )
    except EvaluationError:
        return  # one value of a column (all decisions alike, say): refused before any check, nothing signed
    outcome = evaluate(evaluation, engine_policy(variation))
    signed = {"verdict": outcome.verdict, "results": outcome.results}

    found = recompute_audit(signed, label="run")

    assert found.disagreements == []
    assert found.not_recomputable == []
    assert sorted(found.recomputed) == ["disparate_impact", "group_fairness"]
    judged = [
        row
        for grouping in outcome.results["checks"]["disparate_impact"]["groupings"]
        for row in grouping["groups"]
        if row["status"] == "judged"
    ]
    if judged:
        judged[0]["passes"] = not judged[0]["passes"]
        assert recompute_audit(signed, label="run").disagreements


# --- hostile results ------------------------------------------------------------------------------------------------

HOSTILE = [None, True, -1, 10**4000, 1e308, "1e999999999", "1/0", "0/0", "x", [], {}, [[[]]], "9" * 70 + "/1", 0]


def leaves(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON document, depth first."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((value, key))
        found += leaves(child)
    return found


@functools.cache
def engine_document() -> dict[str, Any]:
    """An audit's results as the engine writes them (both group checks, intersections, an unknown cell)."""
    evaluation = build_evaluation(
        engine_table([(5, 2, 5, 1), (4, 3, 6, 2)], 1),
        ColumnRoles(label="label", protected=("sex", "band"), prediction="prediction"),
    )
    outcome = evaluate(evaluation, engine_policy({**PLAIN, "min_size": 1}))
    return {"run": 1, "status": "done", "verdict": outcome.verdict, "results": outcome.results, "error": None}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_values_anywhere_in_the_results_are_reported_never_raised(data: st.DataObject) -> None:
    """Any value of the results replaced by something Assay never writes (a huge or negative count, text where a
    number belongs, a zero denominator, "1e999999999"): the recomputation reports it or cannot recompute, and never
    raises (verify.py prints FAIL and WARNING lines, never a traceback)."""
    document = copy.deepcopy(engine_document())
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        places = leaves(document["results"]["checks"])
        container, key = places[data.draw(st.integers(min_value=0, max_value=len(places) - 1))]
        container[key] = data.draw(st.sampled_from(HOSTILE))

    found = recompute_audit(document, label="run")

    assert found.disagreements or found.not_recomputable or found.recomputed
    assert len(results_sha256(document)) >= 1


def test_hostile_results_in_a_signed_bundle_fail_without_a_traceback(folder: Any) -> None:  # noqa: F811
    """A bundle signed by the real key whose results are nested too deeply to compare, or hold counts of thousands
    of digits: verify.py, under the hostile-bundle memory limit, prints FAIL lines and exits 1."""
    deep = b'{"run": 2, "results": {"checks": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    huge = copy.deepcopy(engine_document())
    [grouping, *_] = huge["results"]["checks"]["disparate_impact"]["groupings"]
    for row in grouping["groups"]:
        row["count"], row["selected"] = 10**4000, 10**3999 + 1
    files = {
        **trail_files(),
        "audits/run-1/results.json": json_bytes(huge),
        "audits/run-2/results.json": deep,
    }

    verdict = trusted(folder, zip_of(signed_bundle(files)))

    assert verdict.code == 1, verdict
    assert "Traceback" not in verdict.err
    assert "FAIL: audits/run-2/results.json is not a readable JSON document: nested too deeply" in verdict.err
    assert "FAIL: recomputation disagrees: audit run 1, disparate_impact, grouping 'sex', group 'sex=g0': " in (
        verdict.err
    )
