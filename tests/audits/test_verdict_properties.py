"""Properties of the group checks' verdicts over counts (hypothesis), each stated with the reason it must hold.

1. A measurement exactly at a built-in threshold is judged by the threshold's operator, never by a rounded float:
   an impact ratio of exactly ``impact_ratio_min`` passes (29 CFR 1607.4(D): adverse only when "less than
   four-fifths"), and one selected person fewer fails; a difference of exactly ``*_difference_max`` passes a
   ``<=`` rule, and one more fails.
2. Raising the selected count of a group that is not the reference, while its rate stays at or below the highest
   rate of the other groups, never turns a pass into a fail. Why: the reference (the most selected eligible group)
   and its rate do not change, every other group's ratio is unchanged, the raised group's ratio grows, and group
   sizes (hence small-group and share statuses) are the same. The condition matters: a group raised *above* the
   old reference becomes the reference and can pull other groups under four-fifths (shown by the last test).
3. Adding rows whose protected value is unknown never changes a known group's count, rate, ratio or status, nor
   the check's outcome (without ``max_unknown_share``): unknown rows are in no group (6 RCNY 5-301).

Every outcome here is also recomputed from its counts by the regulator bundle's verifier, which must agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audits.checks.base import FAIL, PASS, CheckContext
from audits.checks.disparate_impact import DisparateImpactCheck
from audits.checks.fairness import GroupFairnessCheck
from audits.evaluation import ColumnRoles, Evaluation
from audits.policies import builtin_policies, load_policy
from governance.trail.verifier import recompute_audit

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIN_SIZE = 30


def evaluation_of(
    groups: Sequence[tuple[str, int, int]], *, positives: Mapping[str, tuple[int, int]] | None = None
) -> Any:
    """An evaluation from ``(group, rows, selected)``; ``positives`` optionally gives per group ``(positives, true
    positives)`` (labels), else every label equals its decision. Group "" is the unknown category."""
    sex, y_pred, y_true = [], [], []
    for name, rows, selected in groups:
        decisions = [1] * selected + [0] * (rows - selected)
        labels = list(decisions)
        if positives and name in positives:
            pos, tp = positives[name]
            # tp selected positives, pos - tp unselected positives; the rest negatives.
            labels = [1] * tp + [0] * (selected - tp) + [1] * (pos - tp) + [0] * (rows - selected - (pos - tp))
        sex += [name] * rows
        y_pred += decisions
        y_true += labels
    return Evaluation(
        y_true=np.array(y_true, dtype=np.int8),
        y_pred=np.array(y_pred, dtype=np.int8),
        scores=None,
        protected={"sex": np.array(sex)},
        roles=ColumnRoles(label="label", protected=("sex",), prediction="prediction"),
        rows=len(sex),
    )


def builtin_thresholds(check: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, text in sorted(builtin_policies().items()):
        settings_ = load_policy(text).document["checks"].get(check) or {}
        if key in settings_:
            found.append((name, dict(settings_)))
    return found


IMPACT = builtin_thresholds("disparate_impact", "impact_ratio_min")
POLICY = dict(IMPACT)
DIFFERENCES = [
    (name, metric, entry)
    for metric in ("demographic_parity_difference_max", "equalized_odds_difference_max")
    for name, entry in builtin_thresholds("group_fairness", metric)
]


def verified(outcome: Any) -> Any:
    """``outcome``, once the regulator bundle's verifier, recomputing from the counts alone, agrees with it."""
    results = {"verdict": outcome.outcome, "checks": {outcome.name: {"outcome": outcome.outcome, **outcome.details}}}
    found = recompute_audit({"results": results, "verdict": outcome.outcome})
    assert found.disagreements == []
    assert found.not_recomputable == []
    return outcome


def impact(evaluation: Any, settings_: Mapping[str, Any], **context: Any) -> tuple[Any, dict[str, dict]]:
    outcome = DisparateImpactCheck().run(
        evaluation, settings_, CheckContext(**{"min_group_size": MIN_SIZE, "intersections": False, **context})
    )
    return verified(outcome), {row["group"]: row for row in outcome.details["groupings"][0]["groups"]}


def test_every_builtin_ratio_and_difference_threshold_is_swept() -> None:
    assert {name for name, _ in IMPACT} == {"baseline", "four-fifths", "nyc-ll144"}
    assert {(name, metric) for name, metric, _ in DIFFERENCES} >= {
        ("eu-ai-act-high-risk", "demographic_parity_difference_max"),
        ("eu-ai-act-high-risk", "equalized_odds_difference_max"),
    }


# --- 1. exactly at the threshold --------------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "settings_"), IMPACT, ids=[name for name, _ in IMPACT])
@SETTINGS
@given(data=st.data())
def test_an_impact_ratio_exactly_at_the_threshold_is_judged_by_its_operator(
    policy: str, settings_: dict[str, Any], data: st.DataObject
) -> None:
    entry = settings_["impact_ratio_min"]
    limit = Fraction(str(entry["value"]))
    assert entry["operator"] == ">="  # "less than four-fifths" is adverse: exactly 4/5 is not
    a, b = limit.numerator, limit.denominator
    # Reference: b*j selected of n; the group: a*j*c selected of n*c, so the ratio is exactly a/b.
    j = data.draw(st.integers(1, 12), label="j")
    n = data.draw(st.integers(max(MIN_SIZE, b * j), max(MIN_SIZE, b * j) + 60), label="n")
    c = data.draw(st.integers(1, 3), label="c")
    groups = [("F", n * c, a * j * c), ("M", n, b * j)]

    outcome, rows = impact(evaluation_of(groups), settings_)

    assert rows["sex=F"]["impact_ratio_exact"] == f"{a}/{b}"
    assert rows["sex=F"]["status"] == "judged"
    assert rows["sex=F"]["passes"] is True
    assert outcome.outcome == PASS, outcome.reason
    # One person fewer selected in the group: strictly below the threshold, a fail.
    outcome, rows = impact(evaluation_of([("F", n * c, a * j * c - 1), ("M", n, b * j)]), settings_)
    assert Fraction(rows["sex=F"]["impact_ratio_exact"]) < limit
    assert rows["sex=F"]["passes"] is False
    assert outcome.outcome == FAIL


@pytest.mark.parametrize(("policy", "metric", "settings_"), DIFFERENCES, ids=[f"{n}-{m}" for n, m, _ in DIFFERENCES])
@SETTINGS
@given(data=st.data())
def test_a_difference_exactly_at_the_threshold_is_judged_by_its_operator(
    policy: str, metric: str, settings_: dict[str, Any], data: st.DataObject
) -> None:
    entry = settings_[metric]
    limit = Fraction(str(entry["value"]))
    assert entry["operator"] == "<="
    a, b = limit.numerator, limit.denominator
    only = {"required": True, metric: entry}
    context = CheckContext(min_group_size=MIN_SIZE, intersections=False)
    # Per group, ``total`` rows judged by the rate (all rows for selection rate, the positives for the true
    # positive rate), a multiple of b, so a gap of exactly a/b is a whole number of people.
    total = b * data.draw(st.integers(-(-MIN_SIZE // b), -(-MIN_SIZE // b) + 10), label="total")
    gap = total * a // b
    low = data.draw(st.integers(0, total - gap), label="low")

    def run(high: int) -> Any:
        groups = [("F", total + MIN_SIZE, low), ("M", total + MIN_SIZE, high)]
        if metric == "demographic_parity_difference_max":
            groups = [("F", total, low), ("M", total, high)]
            return verified(GroupFairnessCheck().run(evaluation_of(groups), only, context))
        # Equal false positive rates (none), true positive rates low/total and high/total.
        positives = {"F": (total, low), "M": (total, high)}
        return verified(GroupFairnessCheck().run(evaluation_of(groups, positives=positives), only, context))

    outcome = run(low + gap)
    summary = outcome.details["groupings"][0]["summary"]
    assert Fraction(summary[f"{metric.removesuffix('_max')}_exact"]) == limit
    assert outcome.outcome == PASS, outcome.reason
    if low + gap < total:  # one more selected person (a true positive) in the higher group: above the maximum
        assert run(low + gap + 1).outcome == FAIL


@SETTINGS
@given(k=st.integers(1, 40), extra=st.integers(0, 3))
def test_a_share_of_exactly_the_ll144_threshold_is_never_excluded(k: int, extra: int) -> None:
    """6 RCNY 5-301(d) lets an auditor exclude a category of "less than 2%": exactly 2% is not less."""
    entry = POLICY["nyc-ll144"]["exclude_groups_below_share"]
    limit = Fraction(str(entry["value"]))
    assert entry["operator"] == ">="
    rest = k * limit.denominator // limit.numerator - k  # the other rows, so that C is exactly the limit's share
    justified = {"sex=C": "A justification."}

    def status(others: int) -> str:
        evaluation = evaluation_of(
            [("A", others // 2, others // 4), ("B", others - others // 2, others // 4), ("C", k, 0)]
        )
        evaluation.roles = ColumnRoles(label="label", protected=("sex",), prediction="prediction", exclusions=justified)
        return impact(evaluation, POLICY["nyc-ll144"], min_group_size=1)[1]["sex=C"]["status"]

    assert status(rest) == "judged"  # exactly 2%: judged (and here it fails), whatever the justification
    assert status(rest + 1 + extra) == "excluded_below_share"  # under 2%, with a justification


# --- 2. raising a non-reference group's selections --------------------------------------------------------------

counts = st.integers(5, 120).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@st.composite
def close_groups(draw: Any) -> list[tuple[int, int]]:
    """Groups whose rates are near one shared rate, so that many cases pass before the raise."""
    rate = draw(st.integers(5, 95)) / 100
    sizes = draw(st.lists(st.integers(5, 120), min_size=2, max_size=4))
    return [(n, min(n, max(0, round(n * rate) + draw(st.integers(-2, 2))))) for n in sizes]


@SETTINGS
@given(
    groups=st.one_of(st.lists(counts, min_size=2, max_size=4), close_groups()),
    which=st.integers(0, 3),
    step=st.integers(1, 20),
)
def test_raising_a_group_up_to_the_reference_rate_never_turns_a_pass_into_a_fail(
    groups: list[tuple[int, int]], which: int, step: int
) -> None:
    which %= len(groups)
    named = [(f"g{i}", n, s) for i, (n, s) in enumerate(groups)]
    before, rows = impact(evaluation_of(named), POLICY["four-fifths"])
    name, n, s = named[which]
    reference = next((row for row in rows.values() if row["reference"]), None)
    if reference is None or reference["group"] == f"sex={name}" or reference["selection_rate_exact"] is None:
        return
    top = Fraction(reference["selection_rate_exact"])
    raised = min(s + step, n, int(top * n))  # at most the reference's rate
    if raised <= s:
        return
    after, _ = impact(evaluation_of([*named[:which], (name, n, raised), *named[which + 1 :]]), POLICY["four-fifths"])
    if before.outcome == PASS:
        assert after.outcome == PASS, after.reason
    if after.outcome == FAIL:
        assert before.outcome == FAIL, before.reason


def test_raising_a_group_above_the_reference_can_turn_a_pass_into_a_fail() -> None:
    """Why property 2 needs its condition: the raised group becomes the most selected category."""
    before, _ = impact(evaluation_of([("A", 100, 10), ("B", 30, 3), ("C", 100, 8)]), POLICY["four-fifths"])
    after, rows = impact(evaluation_of([("A", 100, 10), ("B", 30, 4), ("C", 100, 8)]), POLICY["four-fifths"])
    assert before.outcome == PASS
    assert rows["sex=B"]["reference"] is True
    assert after.outcome == FAIL  # C: 0.08 / (4/30) = 0.6


# --- 3. unknown rows change no known group ----------------------------------------------------------------------


@SETTINGS
@given(
    groups=st.lists(counts, min_size=2, max_size=3),
    unknown=st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
)
def test_adding_unknown_rows_never_changes_a_known_groups_ratio(
    groups: list[tuple[int, int]], unknown: tuple[int, int]
) -> None:
    named = [(f"g{i}", n, s) for i, (n, s) in enumerate(groups)]
    before, rows_before = impact(evaluation_of(named), POLICY["nyc-ll144"])
    after, rows_after = impact(evaluation_of([*named, ("", *unknown)]), POLICY["nyc-ll144"])

    fields = ("count", "selected", "selection_rate_exact", "impact_ratio_exact", "status", "reference", "passes")
    assert set(rows_after) == set(rows_before)  # no group "sex="
    for group, row in rows_before.items():
        assert {f: rows_after[group][f] for f in fields} == {f: row[f] for f in fields}
    assert after.outcome == before.outcome
    found = after.details["groupings"][0]["unknown"]
    assert found["count"] == unknown[0]
    assert Fraction(found["share_exact"]) == Fraction(unknown[0], unknown[0] + sum(n for n, _ in groups))
