"""Helpers shared by the recomputation tests of verify.py (test_verify_recompute*.py): the four-fifths threshold,
and results written by the contract (disparate impact, group fairness) with the confusions the engine's are drawn
from.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

FOUR_FIFTHS = {"value": 0.8, "exact": "4/5", "operator": ">=", "basis": {"citation": "29 CFR 1607.4(D)"}}


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


# Per group: (true positives, false positives, true negatives, false negatives); groups may be tiny or empty-handed.
confusion = st.tuples(*(st.integers(min_value=0, max_value=12) for _ in range(4))).filter(lambda c: sum(c) > 0)
