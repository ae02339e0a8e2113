"""Rules of the audit engine that keep a verdict honest: no pass without a check that passed, a run that lost its
worker is taken over, and a model whose outputs are not label values is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from django.utils import timezone

from audits import actions, engine
from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckOutcome
from audits.engine import _inline_budget_cap, decide
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.models import AuditRun, Policy, RunStatus
from governance.trail.log import Actor
from tests.audits.conftest import PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast


def outcome(name: str, result: str, *, required: bool = True) -> CheckOutcome:
    return CheckOutcome(name=name, outcome=result, reason=f"{name} said {result}", required=required)


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        ([outcome("a", PASS), outcome("b", FAIL, required=False)], FAIL),
        ([outcome("a", PASS), outcome("b", INSUFFICIENT)], INSUFFICIENT),
        ([outcome("a", PASS), outcome("b", INSUFFICIENT, required=False)], PASS),
        # Only optional checks, none of which could judge: not evidence of anything.
        ([outcome("a", INSUFFICIENT, required=False), outcome("b", INSUFFICIENT, required=False)], INSUFFICIENT),
        ([], INSUFFICIENT),
    ],
    ids=["fail-wins", "required-unsure", "optional-unsure", "nothing-judged", "no-checks"],
)
def test_a_pass_needs_a_check_that_passed(outcomes: list[CheckOutcome], verdict: str) -> None:
    assert decide(outcomes)[0] == verdict


class TextModel:
    """A model that answers in words the label does not use."""

    feature_names = ["x"]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.where(matrix[:, 0] > 0, "yes", "no")


def test_a_model_whose_outputs_are_not_label_values_is_refused() -> None:
    table = pa.table({"x": [1.0, -1.0] * 20, "label": ["1", "2"] * 20, "sex": ["f", "m", "m", "f"] * 10})
    roles = ColumnRoles(label="label", protected=("sex",), favourable="1", features=("x",))
    with pytest.raises(EvaluationError, match=r"outputs .* are not values of the label"):
        build_evaluation(table, roles, predictor=TextModel())


def test_a_favourable_value_the_label_never_takes_is_refused() -> None:
    table = pa.table({"label": ["2"] * 40, "prediction": ["2"] * 40, "sex": ["f", "m"] * 20})
    roles = ColumnRoles(label="label", protected=("sex",), favourable="1", prediction="prediction")
    with pytest.raises(EvaluationError, match="favourable"):
        build_evaluation(table, roles)


@pytest.mark.django_db
def test_a_run_that_lost_its_worker_is_taken_over(
    cast: Cast, media_root: Path, settings: Any, builtin_policies_stored: None
) -> None:
    version = predictions_only_version(cast)
    dataset_version = upload(cast, decision_rows({"f": (100, 60), "m": (100, 62)}))
    run, _ = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
    )
    settings.AUDIT_LEASE_SECONDS = 3600
    # A worker took it and died: it says "running" but started hours ago.
    AuditRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=timezone.now() - dt.timedelta(hours=5)
    )
    assert actions.execute_audit(run.pk).status == RunStatus.DONE

    # A run that is really running (started a minute ago) is left alone.
    again, _ = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
        force=True,
    )
    AuditRun.objects.filter(pk=again.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    assert actions.execute_audit(again.pk).status == RunStatus.RUNNING


def test_a_budget_cap_bounds_every_checks_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Recording(Check):
        name = "explainability"

        def run(self, evaluation: Any, settings: Any, context: Any) -> CheckOutcome:
            seen.update(settings)
            return self.outcome(PASS, "recorded")

    monkeypatch.setattr(engine, "check_classes", lambda: {"explainability": Recording})
    table = pa.table({"label": ["1", "2"] * 20, "prediction": ["1", "2"] * 20, "sex": ["f", "m", "m", "f"] * 10})
    evaluation = build_evaluation(
        table, ColumnRoles(label="label", protected=("sex",), favourable="1", prediction="prediction")
    )
    document = {"checks": {"explainability": {"required": True, "time_budget_seconds": 600}}}

    engine.evaluate(evaluation, document, budget_cap=45)
    assert seen["time_budget_seconds"] == 45
    engine.evaluate(evaluation, document)
    assert seen["time_budget_seconds"] == 600


@pytest.mark.django_db
def test_audits_in_process_cap_check_budgets(settings: Any) -> None:
    settings.AUDIT_INLINE_MAX_BUDGET_SECONDS = 30
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert _inline_budget_cap() == 30
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker runs it: the policy's budgets apply
    assert _inline_budget_cap() is None
