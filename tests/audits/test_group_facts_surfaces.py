"""The groups an audit did not judge as such are shown the same way everywhere (issue 16): the gate's answer, the
signed PDF report and monitoring's live fairness all show the facts ``audits.checks.facts.group_facts`` gives for
the audit's results: rows in the unknown category, a group excluded under the 2% rule with the auditor's
justification, and a group below the minimum size.

The data: 1,500 applicants of race A (750 selected), 1,000 of B (450: impact ratio 0.9), 40 of C (12; 1.56% of the
known rows, excluded with a justification, 6 RCNY 5-301(d)), 20 of D (8; below the minimum of 30 rows) and 25 whose
race is not recorded (an empty cell)."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from pypdf import PdfReader

from audits import actions as audits
from audits.checks.facts import group_facts
from audits.models import AuditRun
from audits.monitoring.batch import BatchSpec, FairnessRules, live_fairness
from audits.monitoring.judge import judge
from audits.reports.service import report_for_run
from governance.trail.log import Actor
from registry import actions as registry
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

# race -> (rows, selected)
GROUPS = {"A": (1500, 750), "B": (1000, 450), "C": (40, 12), "D": (20, 8), "": (25, 10)}
JUSTIFICATION = "C is under 2% of the applicants; its count and rate are still reported."
ROLES = {
    "label": "label",
    "prediction": "prediction",
    "protected": ["race"],
    "exclusions": {"race=C": JUSTIFICATION},
}
BASIS = "basis: {text: Four-fifths rule and LL144's 2% exclusion., citation: 29 CFR 1607.4(D); 6 RCNY 5-301(d)}"
POLICY = f"""\
name: group-facts
title: Group facts
description: Impact ratios with the 2% exclusion.
confidence_level: 0.95
min_group_size: 30
checks:
  disparate_impact:
    required: true
    impact_ratio_min:
      value: 0.8
      operator: ">="
      {BASIS}
    exclude_groups_below_share:
      value: 0.02
      operator: ">="
      {BASIS}
"""


def rows() -> list[tuple[str, int, int]]:
    """(race, label, prediction) for every applicant; labels alternate."""
    found = []
    for race, (count, selected) in GROUPS.items():
        found += [(race, i % 2, 1 if i < selected else 0) for i in range(count)]
    return found


def csv_bytes() -> bytes:
    lines = ["race,label,prediction", *(f"{race},{label},{prediction}" for race, label, prediction in rows())]
    return ("\n".join(lines) + "\n").encode()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.django_db
def test_gate_report_and_monitoring_show_the_same_group_facts(cast: Cast, media_root: Any) -> None:
    model = register_model(cast, "minimal")  # no policy required by the tier: the gate judges by the one asked for
    registry.do_register_version(model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    make_file_version(cast, make_dataset(cast, "applicants"), csv_bytes(), name="applicants.csv")
    audits.do_save_policy(user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=POLICY)
    body = {"model": model.name, "version": 1, "environment": "production", "policy": "group-facts"}
    body |= {"dataset": "applicants", "dataset_version": 1, "column_roles": ROLES}

    answer = cast.ci.client().post("/api/v1/gates/check", body, format="json")

    # The audit's own facts: the unknown rows, C excluded with its justification, D too small to judge.
    run = AuditRun.objects.get()
    assert run.verdict == "insufficient_evidence"
    facts = group_facts(run.results)
    assert [(f["kind"], f["group"], f["count"]) for f in facts] == [
        ("unknown", None, 25),
        ("excluded", "race=C", 40),
        ("insufficient", "race=D", 20),
    ]
    assert facts[0]["share"] == pytest.approx(25 / 2585)
    assert (facts[1]["rate"], facts[2]["rate"]) == (pytest.approx(12 / 40), pytest.approx(8 / 20))
    assert JUSTIFICATION in facts[1]["reason"]

    # The gate: the facts in its JSON, and each one in its reasons.
    assert answer.status_code == 412, answer.content
    decision = answer.json()
    assert decision["decision"] == "insufficient_evidence"
    assert decision["group_facts"] == facts
    for fact in facts:
        assert any(fact["reason"].rstrip(".") in reason for reason in decision["reasons"]), decision["reasons"]

    # The signed PDF report: a "Groups not judged" block with each fact.
    report = report_for_run(run, actor=Actor.for_user(cast.owner.user))
    text = flat(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(report.read_bytes())).pages))
    block = text[text.rindex(f"Groups not judged (run #{run.pk})") :]  # the section, not its contents entry
    for fact in facts:
        assert flat(fact["reason"].rstrip(".")) in block, fact["reason"]

    # Monitoring's live fairness on a batch of the same decisions, under the same policy's rules.
    races = np.array([race for race, _, _ in rows()], dtype=object)
    decisions = np.array([prediction for _, _, prediction in rows()], dtype=np.int8)
    rules = FairnessRules(
        impact_ratio_min=0.8,
        min_group_size=30,
        exclude_groups_below_share={"value": 0.02, "operator": ">="},
        exclusions={"race=C": JUSTIFICATION},
    )
    spec = BatchSpec(features=(), prediction="prediction", protected=("race",))
    fairness = live_fairness(y_pred=decisions, protected={"race": races}, spec=spec, rules=rules)
    judgement = judge({"rows": len(decisions), "fairness": fairness}, thresholds={}, baseline={})

    assert judgement.evidence["group_facts"] == facts
    for fact in facts:
        assert fact["reason"].rstrip(".") in judgement.evidence["reason"]
    levels = {row["subject"]: row["level"] for row in judgement.statistics if row["statistic"] == "impact_ratio"}
    assert levels == {
        "group:race=A": "ok",
        "group:race=B": "ok",
        "group:race=C": "info",
        "group:race=D": "insufficient_evidence",
    }
    assert judgement.alerts == []
