"""Monitoring's live fairness is judged as the audit judges (issue 16: one rule): the level of a group comes from its
row's ``status`` and ``passes`` as the disparate-impact check decided them in exact fractions, never from a second
float comparison. 20 of 30 against 25 of 30 is exactly four-fifths: no alert (29 CFR 1607.4(D): adverse only "less
than four-fifths"); 19 of 30 is an alert. Pure: no database."""

from __future__ import annotations

from typing import Any

import numpy as np

from audits.monitoring.batch import BatchSpec, FairnessRules, live_fairness
from audits.monitoring.judge import ALERT, INSUFFICIENT, OK, judge

THRESHOLDS = {"impact_ratio_alert": {"value": 0.8, "operator": ">=", "basis": {"text": "t", "citation": "c"}}}


def fairness_of(selected_b: int) -> dict[str, Any]:
    """Live fairness of 30 rows of group A (25 selected) and 30 of group B (``selected_b`` selected)."""
    sex = np.array(["A"] * 30 + ["B"] * 30)
    y_pred = np.array([1] * 25 + [0] * 5 + [1] * selected_b + [0] * (30 - selected_b), dtype=np.int8)
    spec = BatchSpec(features=(), prediction="decision", protected=("sex",))
    return live_fairness(y_pred=y_pred, protected={"sex": sex}, spec=spec, rules=FairnessRules())


def level_of(judged: Any, group: str) -> str:
    (row,) = [r for r in judged.statistics if r["subject"] == f"group:{group}" and r["statistic"] == "impact_ratio"]
    return str(row["level"])


def test_exactly_four_fifths_is_no_alert_and_one_fewer_is() -> None:
    at = fairness_of(20)
    (row,) = [g for g in at["groupings"][0]["groups"] if g["group"] == "sex=B"]
    assert (row["impact_ratio_exact"], row["status"], row["passes"]) == ("4/5", "judged", True)
    judged = judge({"rows": 60, "fairness": at}, thresholds=THRESHOLDS, baseline={})
    assert judged.alerts == []
    assert level_of(judged, "sex=B") == OK

    below = judge({"rows": 60, "fairness": fairness_of(19)}, thresholds=THRESHOLDS, baseline={})
    assert level_of(below, "sex=B") == ALERT
    (alert,) = below.alerts
    assert alert.title == "Live fairness: sex=B impact ratio 0.760 against sex=A is below 0.8"


def test_the_level_is_the_rows_verdict_not_a_second_float_comparison() -> None:
    fairness = fairness_of(20)
    (row,) = [g for g in fairness["groupings"][0]["groups"] if g["group"] == "sex=B"]
    # The float a division of the rates gives for 20/30 over 25/30; the check's verdict, in fractions, is a pass.
    row["impact_ratio"] = (20 / 30) / (25 / 30)
    assert row["impact_ratio"] < 0.8
    assert judge({"rows": 60, "fairness": fairness}, thresholds=THRESHOLDS, baseline={}).alerts == []
    # A row that does not say how it was judged is never a pass (nor an alert).
    del row["status"]
    judged = judge({"rows": 60, "fairness": fairness}, thresholds=THRESHOLDS, baseline={})
    assert (judged.alerts, level_of(judged, "sex=B")) == ([], INSUFFICIENT)
