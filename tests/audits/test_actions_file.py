"""``audits.actions_file.do_audit_file`` called directly, as the API would call it (``manage.py run_audit`` is
tested through its command line in test_run_audit_command.py).

In tests no transaction commits, so the on-commit job never runs: the action finds its run queued and runs it.
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from audits.actions import AuditError, ensure_builtin_policies
from audits.actions_file import FileInputs, RegisteredInputs, do_audit_file, predictions_note
from audits.models import AuditRun, RunStatus
from governance.trail.log import Actor
from registry.models import Framework, ModelVersion
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast

ROLES = {"label": "outcome", "prediction": "decision", "protected": ["group"]}


@pytest.fixture
def ready(cast: Cast, settings: Any, tmp_path: Path) -> Cast:
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_builtin_policies()
    return cast


def rows(count: int = 200) -> list[list[Any]]:
    """Two groups of 100, 60% favourable labels; the decision is the label, wrong on 10% of a and 15% of b."""
    out = []
    for i in range(count):
        group, k = ("a" if i % 2 else "b"), i // 2
        label = 1 if k % 5 < 3 else 0
        wrong = k % 10 == 0 or (group == "b" and k % 20 == 5)
        out.append([f"P{i:04d}", group, label, 1 - label if wrong else label])
    return out


@pytest.fixture
def loans(tmp_path: Path) -> Path:
    path = tmp_path / "upload-1234.csv"  # a staged upload's name: the caller names the file
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["person", "group", "outcome", "decision"])
        writer.writerows(rows())
    return path


def selection_ratio() -> Fraction:
    """The lower group's selection rate over the higher one's, counted from the rows themselves."""
    selected = {"a": 0, "b": 0}
    for _, group, _, decision in rows():
        selected[group] += decision
    rates = [Fraction(n, 100) for n in selected.values()]
    return min(rates) / max(rates)


def test_a_file_is_registered_audited_to_its_end_and_reused(ready: Cast, loans: Path) -> None:
    omar = ready.owner.user
    seq = last_seq()

    run, created = do_audit_file(
        user=omar,
        actor=Actor.for_user(omar),
        inputs=FileInputs(path=loans, file_name="loans.csv"),
        column_roles=ROLES,
        policy="four-fifths",
    )

    assert created
    assert run.status == RunStatus.DONE
    assert (run.policy_version.policy.name, run.dataset_version.dataset.name) == ("four-fifths", "loans")
    version = ModelVersion.objects.select_related("model__team").get()
    assert (version.model.name, version.framework, version.model.team.slug) == (
        "loans",
        Framework.PREDICTIONS,
        "credit-risk",
    )
    assert version.model_card["evaluation_data"] == predictions_note(run.dataset_version.sha256)
    impact = run.checks.get(check_name="disparate_impact")
    assert impact.outcome == ("pass" if selection_ratio() >= Fraction(4, 5) else "fail")
    assert [e.action for e in events_since(seq)][:5] == [
        "dataset.registered",
        "dataset_version.registered",
        "model.registered",
        "model_version.registered",
        "audit.started",
    ]

    again, created_again = do_audit_file(
        user=omar,
        actor=Actor.for_user(omar),
        inputs=FileInputs(path=loans, file_name="loans.csv"),
        column_roles=ROLES,
        policy="four-fifths",
    )

    assert (again.pk, created_again) == (run.pk, False)
    assert AuditRun.objects.count() == 1
    assert ModelVersion.objects.count() == 1


def test_registered_inputs_are_audited_by_name(ready: Cast, loans: Path) -> None:
    omar = ready.owner.user
    first, _ = do_audit_file(
        user=omar, actor=Actor.for_user(omar), inputs=FileInputs(path=loans, file_name="loans.csv"), column_roles=ROLES
    )

    run, created = do_audit_file(
        user=omar,
        actor=Actor.for_user(omar),
        inputs=RegisteredInputs(model="loans", version=1, dataset="loans", dataset_version=1),
        column_roles=ROLES,
        policy="four-fifths",
    )

    assert created
    assert run.pk != first.pk
    assert (run.model_version_id, run.dataset_version_id) == (first.model_version_id, first.dataset_version_id)
    assert (first.policy_version.policy.name, run.policy_version.policy.name) == ("baseline", "four-fifths")


@pytest.mark.parametrize(
    ("who", "change", "refusal"),
    [
        ("reviewer", {}, (403, "", "Only admin, ci, officer, owner may run audits; you are reviewer.")),
        ("owner", {"policy": "four-fifth"}, (422, "policy", "Unknown policy 'four-fifth'. Policies: baseline,")),
        ("owner", {"policy_version": 9}, (422, "policy_version", "baseline has no version 9.")),
        (
            "ci",
            {},
            (
                422,
                "team",
                "Name the team that owns the new dataset and model with team, or name an existing model with model: "
                "ci-bot is in no team.",
            ),
        ),
        ("owner", {"column_roles": {**ROLES, "protected": ["sex"]}}, (422, "column_roles", "no column named 'sex'")),
        ("owner", {"column_roles": {"label": "outcome", "protected": ["group"]}}, (422, "column_roles", "prediction")),
        ("owner", {"risk_answers": {"annex_iii_area": "none"}}, (422, "risk_answers", "questionnaire is incomplete")),
        ("owner", {"path": Path("/no/such/file.csv")}, (422, "file", "Cannot read /no/such/file.csv: no such file.")),
    ],
)
def test_refusals_name_the_callers_fields_and_change_nothing(
    ready: Cast, loans: Path, who: str, change: dict[str, Any], refusal: tuple[int, str, str]
) -> None:
    status, field, message = refusal
    user = getattr(ready, who).user
    inputs = FileInputs(path=change.get("path", loans), file_name="loans.csv", risk_answers=change.get("risk_answers"))
    before, seq = db_state(), last_seq()

    with pytest.raises(AuditError) as refused:
        do_audit_file(
            user=user,
            actor=Actor.for_user(user),
            inputs=inputs,
            column_roles=change.get("column_roles", ROLES),
            policy=change.get("policy", "baseline"),
            policy_version=change.get("policy_version"),
        )

    assert message in str(refused.value)
    assert (refused.value.status, refused.value.field) == (status, field)
    assert db_state() == before
    assert events_since(seq) == []
