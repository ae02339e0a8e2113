"""verify.py recomputes each audit's verdicts from the counts in the bundle: a regulator learns not only that a verdict
was signed but that it follows from the evidence. An insider holding the real signing key who edits a verdict or a
count, and signs the manifest again, is caught by the recomputation.

The known answers come from outside Assay: 29 CFR 1607.4(D) (adverse only "less than four-fifths", so 20 of 30
against 25 of 30, exactly 4/5, passes), the EEOC's 2023 technical assistance example (48 of 80 against 12 of 40:
ratio 0.5, fails) and fairlearn's demographic parity and equalized odds differences.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import django.test
import numpy as np
import pyarrow as pa
import pytest
from fairlearn import metrics as flm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audits import actions as audits
from audits.engine import evaluate
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.policies import builtin_policies, load_policy
from governance.exports.bundle import json_bytes
from governance.trail.verifier import recompute_audit, results_sha256
from tests.audits.conftest import PREDICTION_ROLES, decision_rows, upload
from tests.conftest import Cast
from tests.exports.conftest import (
    API,
    Evidence,
    audits_actor,
    jsonl,
    members,
    post_export,
    rewrite,
    run_verify,
    trusted_keys_text,
)
from tests.exports.test_verifier_hostile import bundle as signed_bundle
from tests.exports.test_verifier_hostile import (
    folder,  # noqa: F401 - a fixture
    trail_files,
    trusted,
    zip_of,
)

FOUR_FIFTHS = {"value": 0.8, "exact": "4/5", "operator": ">=", "basis": {"citation": "29 CFR 1607.4(D)"}}


def verify(bundle: bytes) -> Any:
    return run_verify(bundle, "--trusted-keys", "keys.txt", files={"keys.txt": trusted_keys_text().encode()})


def fails(verdict: Any) -> list[str]:
    return [line for line in verdict.err.splitlines() if line.startswith("FAIL: ")]


@pytest.fixture
def exported(cast: Cast, evidence: Evidence) -> tuple[bytes, str]:
    """The evidence model's bundle as the regulator receives it, and the name of its audit's results member."""
    made = post_export(cast.officer.client(), {"model": evidence.model_name, "recipient": "regina"})
    response: Any = cast.officer.client().get(f"{API}/exports/{made['id']}/download")
    bundle = b"".join(response.streaming_content) if response.streaming else response.content
    return bundle, f"audits/run-{evidence.run_id}/results.json"


def edit_results(
    bundle: bytes, name: str, edit: Callable[[dict[str, Any]], None], *, keep_completed_event: bool = True
) -> bytes:
    """``bundle`` with its audit's results edited in both places they are written (the run's results and the checks'
    rows) and the manifest signed again with the server's real key, as an insider could. Without
    ``keep_completed_event`` the trail in the bundle lacks the run's audit.completed event (with its proof), as a
    bundle whose date range ends before the run completed does: its results are then tied to no trail event."""
    files = members(bundle)
    document = json.loads(files[name])
    edit(document)
    for row in document["checks"]:
        check = document["results"]["checks"][row["check"]]
        row["outcome"] = check["outcome"]
        row["details"] = {k: v for k, v in check.items() if k not in ("outcome", "required", "reason")}
    change = {name: json_bytes(document)}
    dropped = 0
    if not keep_completed_event:
        events, proofs = jsonl(files["trail/events.jsonl"]), jsonl(files["trail/proofs.jsonl"])
        kept = [i for i, event in enumerate(events) if json.loads(event)["action"] != "audit.completed"]
        dropped = len(events) - len(kept)
        change["trail/events.jsonl"] = b"".join(events[i] for i in kept)
        change["trail/proofs.jsonl"] = b"".join(proofs[i] for i in kept)

    def fewer_events(header: dict[str, Any]) -> None:
        header["trail"]["events"] -= dropped

    return rewrite(bundle, change=change, resign=True, edit_header=fewer_events)


def group_row(document: dict[str, Any], group: str) -> dict[str, Any]:
    [grouping] = document["results"]["checks"]["disparate_impact"]["groupings"]
    [row] = [row for row in grouping["groups"] if row["group"] == group]
    return dict(row)


# --- a real audit, through the bundle and verify.py ------------------------------------------------------------


def test_a_real_audits_verdicts_are_recomputed_from_its_counts(exported: tuple[bytes, str]) -> None:
    bundle, name = exported
    female = group_row(json.loads(members(bundle)[name]), "sex=F")
    assert (female["count"], female["selected"], female["status"]) == (100, 45, "judged")  # 45/100 over 50/100

    verdict = verify(bundle)

    assert verdict.code == 0, verdict.text
    assert "the verdicts of 1 group check of 1 audit follow from their counts" in verdict.out, verdict.text
    assert "the results of 1 of those audits are those the trail recorded" in verdict.out, verdict.text
    assert "not recomputable" not in verdict.text
    assert "WARNING" not in verdict.err


FAIRNESS_POLICY = """
name: fairness-for-verify
title: Group fairness and four-fifths, for the bundle verifier's tests
description: Both group checks, judged by their operators, with intersections.
confidence_level: 0.95
min_group_size: 30
intersections: true
checks:
  disparate_impact:
    required: true
    impact_ratio_min: {value: 0.8, operator: ">=", basis: {text: "4/5 rule", citation: "29 CFR 1607.4(D)"}}
  group_fairness:
    required: true
    demographic_parity_difference_max: {value: 0.1, operator: "<=", basis: {text: "a test's maximum", citation: "none"}}
    equalized_odds_difference_max: {value: 0.1, operator: "<=", basis: {text: "a test's maximum", citation: "none"}}
"""


def test_a_group_fairness_audit_is_recomputed_in_the_bundle(cast: Cast, evidence: Evidence) -> None:
    """A second audit of the version under a policy with both group checks and intersections (sex x age band):
    its rates, parity and equalized-odds differences are recomputed in the bundle too."""
    policy = audits.do_save_policy(user=cast.officer.user, actor=audits_actor(cast), text=FAIRNESS_POLICY)
    roles = {**PREDICTION_ROLES, "protected": ["sex", "age_band"]}
    with django.test.TestCase.captureOnCommitCallbacks(execute=True):  # a TestCase at module level is collected
        run, _ = audits.do_start_audit(
            user=cast.owner.user,
            actor=audits_actor(cast),
            model_version=evidence.version,
            dataset_version=upload(cast, decision_rows({"F": (120, 60), "M": (120, 62)}), dataset="fairness-eval"),
            policy_version=policy,
            column_roles=roles,
        )
    run.refresh_from_db()
    assert set(run.results["checks"]) == {"disparate_impact", "group_fairness"}, run.error
    made = post_export(cast.officer.client(), {"model": evidence.model_name, "recipient": "regina"})
    response: Any = cast.officer.client().get(f"{API}/exports/{made['id']}/download")
    bundle = b"".join(response.streaming_content) if response.streaming else response.content

    verdict = verify(bundle)

    assert verdict.code == 0, verdict.text
    assert "the verdicts of 3 group checks of 2 audits follow from their counts" in verdict.out, verdict.text
    assert "the results of 2 of those audits are those the trail recorded" in verdict.out, verdict.text
    assert "WARNING" not in verdict.err

    def lower_dp_limit(document: dict[str, Any]) -> None:
        fairness = document["results"]["checks"]["group_fairness"]
        fairness["thresholds"]["demographic_parity_difference_max"].update(value=0.01, exact="1/100")

    name = f"audits/run-{run.pk}/results.json"
    verdict = verify(edit_results(bundle, name, lower_dp_limit))
    assert verdict.code == 1, verdict.text
    assert f"audit run {run.pk}, group_fairness: outcome from the counts is 'fail' (grouping 'sex': " in verdict.err


def test_a_flipped_verdict_is_caught_even_when_the_manifest_is_re_signed(exported: tuple[bytes, str]) -> None:
    bundle, name = exported
    run = name.split("/")[1].removeprefix("run-")

    def flip(document: dict[str, Any]) -> None:
        check = document["results"]["checks"]["disparate_impact"]
        [row] = [row for row in check["groupings"][0]["groups"] if row["group"] == "sex=F"]
        row["passes"] = False
        check["outcome"] = "fail"
        document["verdict"] = document["results"]["verdict"] = "fail"

    verdict = verify(edit_results(bundle, name, flip))

    assert verdict.code == 1, verdict.text
    lines = fails(verdict)
    recomputation = [line for line in lines if line.startswith("FAIL: recomputation disagrees: ")]
    assert len(recomputation) == 2, verdict.text
    # The one other failure: the results are not those the trail recorded when the audit completed.
    [recorded] = [line for line in lines if line not in recomputation]
    assert recorded.startswith(f"FAIL: results not as recorded: audit run {run}: the SHA-256 of its verdict"), recorded
    where = f"audit run {run}, disparate_impact, grouping 'sex', group 'sex=F'"
    assert any(
        line.startswith(f"FAIL: recomputation disagrees: {where}: ")
        and "the impact ratio is 9/10 (0.9), which passes (>= 4/5 (0.8))" in line
        and "the signed results say passes false" in line
        for line in lines
    ), verdict.text
    assert f"audit run {run}, disparate_impact: every judged comparison meets its threshold, yet the signed " in (
        verdict.err
    )
    assert "manifest" not in verdict.err  # the signature itself holds
    assert "file changed" not in verdict.err


def test_an_edited_count_that_takes_a_ratio_below_the_threshold_is_caught(exported: tuple[bytes, str]) -> None:
    """39 of 100 against 50 of 100 is 0.78, below four-fifths: the signed ratio 0.9 and its pass no longer follow."""
    bundle, name = exported

    def recount(document: dict[str, Any]) -> None:
        [row] = [
            row
            for row in document["results"]["checks"]["disparate_impact"]["groupings"][0]["groups"]
            if row["group"] == "sex=F"
        ]
        row["selected"] = 39

    verdict = verify(edit_results(bundle, name, recount))

    assert verdict.code == 1, verdict.text
    text = verdict.err
    assert "group 'sex=F': selection_rate from the counts is 39/100 (0.39), the signed results say 0.45" in text
    assert "group 'sex=F': impact_ratio from the counts is 39/50 (0.78), the signed results say 0.9" in text
    assert "the impact ratio is 39/50 (0.78), which fails (>= 4/5 (0.8)); the signed results say passes true" in text
    assert "outcome from the counts is 'fail' (grouping 'sex', group 'sex=F': impact ratio 39/50" in text
    assert "its checks' outcomes give the verdict" not in text  # the outcomes were not edited: the verdict follows


def test_an_edit_consistent_with_itself_is_caught_by_the_trail(exported: tuple[bytes, str]) -> None:
    """Counts, rates, ratio, verdicts all edited together (39 of 100 selected, failing four-fifths): every verdict
    follows from the edited counts, but the results are no longer those the trail recorded when the audit ran."""
    bundle, name = exported
    run = name.split("/")[1].removeprefix("run-")

    def rewrite_history(document: dict[str, Any]) -> None:
        check = document["results"]["checks"]["disparate_impact"]
        [row] = [row for row in check["groupings"][0]["groups"] if row["group"] == "sex=F"]
        row.update(selected=39, selection_rate=0.39, selection_rate_exact="39/100", passes=False)
        row.update(impact_ratio=0.78, impact_ratio_exact="39/50")
        check["outcome"] = "fail"
        document["verdict"] = document["results"]["verdict"] = "fail"

    verdict = verify(edit_results(bundle, name, rewrite_history))

    assert verdict.code == 1, verdict.text
    [line] = fails(verdict)
    assert line.startswith(f"FAIL: results not as recorded: audit run {run}: the SHA-256 of its verdict, results and ")
    assert "the trail's audit.completed event" in line
    assert "recomputation disagrees" not in verdict.err


def test_results_without_counts_or_operators_are_not_recomputable_never_silently_ok(
    exported: tuple[bytes, str],
) -> None:
    """Results written before Assay recorded statuses and operators: verify.py says it cannot recompute them, and its
    OK line does not count them."""
    bundle, name = exported

    def older(document: dict[str, Any]) -> None:
        check = document["results"]["checks"]["disparate_impact"]
        del check["thresholds"]["impact_ratio_min"]["operator"]

    verdict = verify(edit_results(bundle, name, older, keep_completed_event=False))

    assert verdict.code == 0, verdict.text
    assert "WARNING: audit run " in verdict.err
    assert "its audit.completed event is not in this bundle's trail" in verdict.err
    assert "disparate_impact: not recomputable: threshold impact_ratio_min has no operator" in verdict.err
    assert "the verdicts of 0 group checks of 1 audit follow from their counts (1 check not recomputable" in (
        verdict.out
    )


def test_results_written_by_the_contract_are_recomputed_in_the_bundle(exported: tuple[bytes, str]) -> None:
    """Results laid out as the results contract says (the exact-4/5 and EEOC groupings below), carried in a bundle:
    consistent results verify; the same results judged with a strict operator do not."""
    bundle, name = exported

    def by_contract(document: dict[str, Any]) -> None:
        document["results"]["checks"]["disparate_impact"] = disparate_impact(EXAMPLES, outcome="fail")
        document["verdict"] = document["results"]["verdict"] = "fail"

    verdict = verify(edit_results(bundle, name, by_contract, keep_completed_event=False))
    assert verdict.code == 0, verdict.text
    assert "the verdicts of 1 group check of 1 audit follow from their counts" in verdict.out
    assert "the results of 0 of those audits are those the trail recorded" in verdict.out

    def strict(document: dict[str, Any]) -> None:
        by_contract(document)
        document["results"]["checks"]["disparate_impact"]["thresholds"]["impact_ratio_min"]["operator"] = ">"

    verdict = verify(edit_results(bundle, name, strict, keep_completed_event=False))
    assert verdict.code == 1, verdict.text
    assert "grouping 'sex', group 'sex=female': from the counts (20 selected of 30) the impact ratio is 4/5 (0.8)" in (
        verdict.err
    )
    assert "which fails (> 4/5 (0.8)); the signed results say passes true" in verdict.err


# --- results by the contract, recomputed without a bundle ----------------------------------------------------------

# grouping -> reference group -> group -> (count, selected)
EXAMPLES: dict[str, dict[str, tuple[int, int]]] = {
    # 20 of 30 against 25 of 30: exactly four-fifths, not "less than four-fifths": passes.
    "sex": {"sex=male": (30, 25), "sex=female": (30, 20)},
    # EEOC (2023): 48 of 80 against 12 of 40, ratio 0.3 / 0.6 = 0.5: fails.
    "race": {"race=White": (80, 48), "race=Black": (40, 12)},
}


def di_row(group: str, count: int, selected: int, reference: Fraction | None, status: str) -> dict[str, Any]:
    """One group's row as the results contract lays it out, computed here independently of the engine."""
    rate = Fraction(selected, count) if count else None
    ratio = rate / reference if rate is not None and reference else None
    return {
        "group": group,
        "count": count,
        "selected": selected,
        "selection_rate": None if rate is None else float(rate),
        "selection_rate_exact": None if rate is None else f"{rate.numerator}/{rate.denominator}",
        "impact_ratio": None if ratio is None else float(ratio),
        "impact_ratio_exact": None if ratio is None else f"{ratio.numerator}/{ratio.denominator}",
        "reference": status == "reference",
        "status": status,
        "passes": (ratio >= Fraction(4, 5)) if status == "judged" and ratio is not None else None,
    }


def disparate_impact(examples: Mapping[str, Mapping[str, tuple[int, int]]], *, outcome: str) -> dict[str, Any]:
    groupings = []
    for grouping, groups in examples.items():
        (reference, (ref_count, ref_selected)), *others = groups.items()
        base = Fraction(ref_selected, ref_count)
        rows = [di_row(reference, ref_count, ref_selected, base, "reference")]
        rows += [di_row(group, count, selected, base, "judged") for group, (count, selected) in others]
        known = sum(count for count, _ in groups.values())
        for row in rows:
            row["share"] = row["count"] / known
        groupings.append(
            {
                "grouping": grouping,
                "columns": [grouping],
                "reference_group": reference,
                "unknown": {"count": 0, "share": 0.0, "share_exact": "0"},
                "groups": rows,
            }
        )
    return {
        "outcome": outcome,
        "required": True,
        "reason": "recorded",
        "thresholds": {"impact_ratio_min": dict(FOUR_FIFTHS)},
        "min_group_size": 30,
        "groupings": groupings,
    }


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


def group_fairness(
    confusion: Mapping[str, tuple[int, int, int, int]], *, summary: Mapping[str, float], outcome: str
) -> dict[str, Any]:
    rows = []
    for group, (tp, fp, tn, fn) in confusion.items():
        n = tp + fp + tn + fn
        rows.append(
            {
                "group": group,
                "count": n,
                "tp": tp,
                "fp": fp,
                "tn": tn,
                "fn": fn,
                "selection_rate": (tp + fp) / n,
                "true_positive_rate": tp / (tp + fn),
                "false_positive_rate": fp / (fp + tn),
                "status": "judged",
            }
        )
    maximum = {"value": 0.1, "exact": "1/10", "operator": "<=", "basis": {}}
    return {
        "outcome": outcome,
        "thresholds": {"demographic_parity_difference_max": maximum, "equalized_odds_difference_max": maximum},
        "groupings": [{"grouping": "age", "groups": rows, "summary": dict(summary)}],
    }


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

# Per group: (true positives, false positives, true negatives, false negatives); groups may be tiny or empty-handed.
confusion = st.tuples(*(st.integers(min_value=0, max_value=12) for _ in range(4))).filter(lambda c: sum(c) > 0)
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
