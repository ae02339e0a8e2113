"""verify.py recomputes each audit's verdicts from the counts in the bundle: a regulator learns not only that a verdict
was signed but that it follows from the evidence. An insider holding the real signing key who edits a verdict or a
count, and signs the manifest again, is caught by the recomputation.

The known answers come from outside Assay: 29 CFR 1607.4(D) (adverse only "less than four-fifths", so 20 of 30
against 25 of 30, exactly 4/5, passes), the EEOC's 2023 technical assistance example (48 of 80 against 12 of 40:
ratio 0.5, fails) and fairlearn's demographic parity and equalized odds differences.

This module recomputes real audits through the bundle; results recomputed without a bundle (the contract's,
fairlearn's, the engine's own, hostile ones) are in test_verify_recompute_results.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import django.test
import pytest

from audits import actions as audits
from governance.exports.bundle import json_bytes
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
from tests.exports.recompute_helpers import EXAMPLES, disparate_impact


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
