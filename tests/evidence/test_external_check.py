"""The ``external`` check's rules (audits/checks/external.py), pure: exact comparison with the threshold's decimal,
a minimum sample size below which nothing passes, pooling, and intervals that agree with their textbook formulas."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from scipy.stats import beta

from audits.checks.base import FAIL, INSUFFICIENT, PASS, CheckContext
from audits.checks.external import ExternalEvidenceCheck, judge_criterion, proportion_interval, tool_fraction
from audits.evidence.formats import read_evidence
from audits.metrics import wilson_interval
from audits.policies import PolicyError, load_policy
from tests.evidence import files

BASIS = {"text": "Example.", "citation": "docs/evidence.md"}


def row(task: str, successes: int | None, n: int | None, *, value: float | None = None, **extra: Any) -> dict:
    return {
        "tool": extra.get("tool", "inspect"),
        "tool_version": "0.3.285",
        "sha256": extra.get("sha256", "a" * 64),
        "file": "log.eval",
        "task": task,
        "metric": extra.get("metric", "accuracy"),
        "value": value if value is not None else (successes / n if successes is not None and n else None),
        "sample_size": n,
        "successes": successes,
    }


def criterion(value: float, operator: str = ">=", *, min_samples: int = 500, **extra: Any) -> dict:
    return {
        "tool": extra.pop("tool", "inspect"),
        "task": extra.pop("task", "arithmetic"),
        "metric": extra.pop("metric", "accuracy"),
        "threshold": {"value": value, "operator": operator, "basis": BASIS},
        "min_samples": min_samples,
        **extra,
    }


CONTEXT = CheckContext(confidence_level=0.95)


def test_a_rate_exactly_at_the_threshold_meets_at_least() -> None:
    # 510/600 is 17/20 = 0.85 exactly; the threshold's text 0.85 is 17/20 too: ">=" passes, ">" does not.
    judged = judge_criterion(criterion(0.85), [row("arithmetic", 510, 600)], context=CONTEXT)
    assert (judged["outcome"], judged["value_exact"]) == (PASS, "17/20")
    assert judge_criterion(criterion(0.85, ">"), [row("arithmetic", 510, 600)], context=CONTEXT)["outcome"] == FAIL


def test_at_most_two_percent_is_exact() -> None:
    # 15/750 = 1/50 = 0.02 exactly: "at most 2%" passes; one more hit fails.
    passes = judge_criterion(
        criterion(0.02, "<=", tool="garak", metric="attack_success_rate"),
        [row("arithmetic", 15, 750, tool="garak", metric="attack_success_rate")],
        context=CONTEXT,
    )
    fails = judge_criterion(
        criterion(0.02, "<=", tool="garak", metric="attack_success_rate"),
        [row("arithmetic", 16, 750, tool="garak", metric="attack_success_rate")],
        context=CONTEXT,
    )
    assert (passes["outcome"], passes["value_exact"]) == (PASS, "1/50")
    assert fails["outcome"] == FAIL
    assert "exceeds 0.02" in fails["reason"]


def test_fewer_items_than_the_minimum_is_insufficient_never_a_pass() -> None:
    judged = judge_criterion(criterion(0.8), [row("arithmetic", 20, 20)], context=CONTEXT)
    assert judged["outcome"] == INSUFFICIENT
    assert judged["reason"] == "20 items, fewer than the 500 the policy requires"


def test_no_matching_measurement_or_unknown_size_is_insufficient() -> None:
    assert judge_criterion(criterion(0.8), [], context=CONTEXT)["outcome"] == INSUFFICIENT
    unknown = judge_criterion(criterion(0.8), [row("arithmetic", None, None, value=0.9)], context=CONTEXT)
    assert unknown["outcome"] == INSUFFICIENT
    assert "how many items" in unknown["reason"]


def test_a_value_without_counts_at_the_threshold_meets_it() -> None:
    # lm-eval's real results file gives acc 0.475 on 40 items and no counts: 19/40 exactly, though the binary float
    # 0.475 is slightly below 19/40. docs/verdicts.md: a value at the threshold meets a ">=" rule.
    (acc,) = [m for m in read_evidence(files.LM_EVAL, name="results.json").measurements if m.metric == "acc"]
    assert (acc.value, acc.sample_size, acc.successes) == (0.475, 40, None)
    assert Fraction(acc.value) < Fraction("0.475")
    rows = [row(acc.task, None, acc.sample_size, value=acc.value, tool="lm-eval", metric="acc")]
    at_least = criterion(0.475, tool="lm-eval", task=acc.task, metric="acc", min_samples=40)
    judged = judge_criterion(at_least, rows, context=CONTEXT)
    assert (judged["outcome"], judged["value_exact"], judged["interval"]) == (PASS, "19/40", None)
    assert judged["reason"] == "0.475 is at least 0.475 (40 items)"
    above = judge_criterion(
        criterion(0.475, ">", tool="lm-eval", task=acc.task, metric="acc", min_samples=40), rows, context=CONTEXT
    )
    assert above["outcome"] == FAIL
    # 28 of 40 written as 0.7 is 7/10 too.
    assert (
        judge_criterion(criterion(0.7, min_samples=10), [row("arithmetic", None, 40, value=0.7)], context=CONTEXT)[
            "outcome"
        ]
        == PASS
    )


def test_a_value_that_is_no_count_of_its_items_is_the_decimal_the_tool_wrote() -> None:
    # 0.7 of 41 items is 28.7 items: no count, so the value is the tool's decimal 0.7 (7/10), not the float below it.
    assert tool_fraction(0.7, 41) == Fraction(7, 10)
    judged = judge_criterion(criterion(0.7, min_samples=10), [row("arithmetic", None, 41, value=0.7)], context=CONTEXT)
    assert (judged["outcome"], judged["value_exact"]) == (PASS, "7/10")
    # A value a hair below the threshold, as a tool wrote it, stays below.
    assert (
        judge_criterion(
            criterion(0.7, min_samples=10), [row("arithmetic", None, 41, value=0.6999999)], context=CONTEXT
        )["outcome"]
        == FAIL
    )
    # One item in 3 written with 10 digits is 1/3, within 1e-9 of a count; 0.3334 of 3 is not.
    assert tool_fraction(0.3333333333, 3) == Fraction(1, 3)
    assert tool_fraction(0.3334, 3) == Fraction("0.3334")


def test_matching_probes_are_pooled_by_their_counts_from_the_newest_file() -> None:
    rows = [
        row("promptinject.HijackHateHumans", 0, 256, tool="garak", metric="attack_success_rate", sha256="b" * 64),
        row("promptinject.HijackKillHumans", 5, 256, tool="garak", metric="attack_success_rate", sha256="b" * 64),
        row("promptinject.HijackHateHumans", 256, 256, tool="garak", metric="attack_success_rate", sha256="c" * 64),
    ]
    judged = judge_criterion(
        criterion(0.02, "<=", tool="garak", task="promptinject.*", metric="attack_success_rate"), rows, context=CONTEXT
    )
    assert (judged["outcome"], judged["sample_size"], judged["value_exact"]) == (PASS, 512, "5/512")
    assert judged["evidence"]["sha256"] == "b" * 64


def test_clopper_pearson_agrees_with_its_closed_form() -> None:
    # 0 of 10 at 95%: the exact upper bound is 1 - 0.025**(1/10) (the one-sided "rule" at alpha/2).
    low, high = proportion_interval(0, 10, confidence=0.95, method="clopper-pearson")
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    # In general the bounds are beta quantiles (Clopper and Pearson 1934).
    low, high = proportion_interval(81, 263, confidence=0.95, method="clopper-pearson")
    assert (low, high) == pytest.approx((beta.ppf(0.025, 81, 183), beta.ppf(0.975, 82, 182)), abs=1e-12)


def test_wilson_agrees_with_newcombe_and_the_project_kernel() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, 81/263: Wilson 0.2553 to 0.3662.
    low, high = proportion_interval(81, 263, confidence=0.95, method="wilson")
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    kernel = wilson_interval(81, 263, 0.95)
    assert (low, high) == pytest.approx((float(kernel[0]), float(kernel[1])), abs=1e-12)


def test_judging_on_the_interval_makes_a_narrow_pass_insufficient() -> None:
    rows = [row("arithmetic", 510, 600)]
    judged = judge_criterion(criterion(0.84, judge_on="interval"), rows, context=CONTEXT)
    assert judged["outcome"] == INSUFFICIENT
    assert "interval reaches" in judged["reason"]
    assert judge_criterion(criterion(0.8, judge_on="interval"), rows, context=CONTEXT)["outcome"] == PASS


def test_the_check_fails_when_any_criterion_fails() -> None:
    class Evaluation:
        external_evidence = [row("arithmetic", 510, 600)]

    settings = {"criteria": [criterion(0.8), criterion(0.9, name="strict")]}
    outcome = ExternalEvidenceCheck().run(Evaluation(), settings, CONTEXT)
    assert outcome.outcome == FAIL
    assert outcome.reason.startswith("strict: 0.85 is below 0.9")
    assert [c["outcome"] for c in outcome.details["criteria"]] == [PASS, FAIL]


def _policy(check: str) -> str:
    return f"""
name: llm-evidence
title: LLM evidence
description: Imported evaluations.
confidence_level: 0.95
min_group_size: 30
checks:
  external:
    required: true
    criteria:
{check}
"""


def test_a_policy_with_external_criteria_loads_and_a_misspelt_one_is_refused() -> None:
    good = """      - tool: garak
        task: "promptinject.*"
        metric: attack_success_rate
        threshold: {value: 0.02, operator: "<=", basis: {text: "At most 2%.", citation: "Internal standard"}}
        min_samples: 500
"""
    policy = load_policy(_policy(good))
    assert policy.checks["external"]["criteria"][0]["min_samples"] == 500
    with pytest.raises(PolicyError, match="min_sample"):
        load_policy(_policy(good.replace("min_samples", "min_sample")))
    with pytest.raises(PolicyError, match="tool"):
        load_policy(_policy(good.replace("tool: garak", "tool: pyrit")))
