"""The approval gate and teams: a team's pipeline token asks about its own team's models only. Another team's model
answers the same 404 as a model that does not exist, naming only the models the token can see, and nothing is
decided or recorded for it. A pipeline in no team (the organisation's central pipeline) still asks about every
team's models.

How the rule itself is built and where it applies elsewhere: tests/access/test_team_scoped_ci.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits.models import AuditRun
from governance.access.models import Team, User
from governance.data import actions as data
from registry import actions as registry
from tests.api import assert_error, db_state, events_since, last_seq
from tests.audits.test_gate import ROLES, predictions
from tests.conftest import Cast, Member
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import acting, new_member, register_model, risk_answers

GATE = "/api/v1/gates/check"
CREDIT_RISK_MODELS = ["credit-scoring", "document-router"]
HIRING_MODEL = "cv-screening"


@pytest.fixture
def credit_ci(cast: Cast, media_root: Path) -> Member:
    """Credit-risk's pipeline, beside two credit-risk models and one hiring model (each with a version 1), and an
    evaluation dataset of each team."""
    for name in CREDIT_RISK_MODELS:
        model = register_model(cast, "minimal", name=name)
        registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
    hiring = registry.do_register_model(
        user=cast.outsider.user,
        actor=acting(cast.outsider),
        name=HIRING_MODEL,
        team=Team.objects.get(slug="hiring"),
        purpose="Rank job applications.",
        risk_answers=risk_answers("minimal"),
    )
    registry.do_register_version(model=hiring, user=cast.outsider.user, actor=acting(cast.outsider))
    make_file_version(cast, make_dataset(cast, "decisions"), predictions(0.57, 0.6), name="decisions.csv")
    cv = media_root.parent / "cv.csv"
    cv.write_bytes(predictions(0.57, 0.6))
    data.do_register_dataset_version(
        dataset=make_dataset(cast, "cv-decisions", team="hiring"),
        user=cast.outsider.user,
        actor=acting(cast.outsider),
        file_path=cv,
        file_name="cv.csv",
    )
    return new_member("credit-ci", "ci", ["credit-risk"])


def _ask(member: Member, model: str, **extra: Any) -> Any:
    body = {"model": model, "version": 1, "environment": "production", **extra}
    return member.client().post(GATE, body, format="json")


def test_another_teams_model_answers_404_naming_only_the_tokens_models_and_nothing_is_decided(
    cast: Cast, credit_ci: Member
) -> None:
    before, seq = db_state(), last_seq()

    error = assert_error(_ask(credit_ci, HIRING_MODEL), 404, "not_found")

    assert error["details"] == {"known": CREDIT_RISK_MODELS}
    assert events_since(seq, "gate.decided") == []
    assert not AuditRun.objects.exists()
    assert db_state() == before  # refusals recorded in the trail aside, nothing changed
    # The answer is the one a model that does not exist gets: the token learns nothing of the other team's model.
    # The trail, not the caller, learns the difference: reaching outside one's scope is an authorization failure.
    [denied] = events_since(seq)
    assert (denied.action, denied.actor_user_id, denied.payload["reason"]) == (
        "access.denied",
        credit_ci.user.pk,
        "out_of_scope",
    )
    seq = last_seq()
    ghost = assert_error(_ask(credit_ci, "no-such-model"), 404, "not_found")
    assert json.dumps(error).replace(HIRING_MODEL, "no-such-model") == json.dumps(ghost)
    assert events_since(seq) == []  # a name that exists nowhere is no one's: nothing to record


def test_the_same_token_gets_a_decision_on_its_own_teams_model(cast: Cast, credit_ci: Member) -> None:
    seq = last_seq()

    response = _ask(credit_ci, "credit-scoring")

    body = response.json()
    assert response.status_code in (200, 412), body
    assert (body["model"], body["version"], body["environment"]) == ("credit-scoring", 1, "production")
    [decided] = events_since(seq, "gate.decided")
    assert (decided.payload["model"], decided.payload["decision"]) == ("credit-scoring", body["decision"])
    assert decided.actor_user_id == credit_ci.user.pk


def test_the_central_pipeline_still_asks_about_every_teams_models(cast: Cast, credit_ci: Member) -> None:
    seq = last_seq()

    response = _ask(cast.ci, HIRING_MODEL)

    assert response.status_code in (200, 412), response.content
    assert response.json()["model"] == HIRING_MODEL
    [decided] = events_since(seq, "gate.decided")
    assert decided.payload["model"] == HIRING_MODEL
    ghost = assert_error(_ask(cast.ci, "no-such-model"), 404, "not_found")
    assert ghost["details"] == {"known": sorted([*CREDIT_RISK_MODELS, HIRING_MODEL])}


def test_another_teams_evaluation_data_answers_404_and_starts_no_audit(cast: Cast, credit_ci: Member) -> None:
    before, seq = db_state(), last_seq()

    response = _ask(credit_ci, "credit-scoring", dataset="cv-decisions", dataset_version=1, column_roles=ROLES)

    assert_error(response, 404, "not_found")
    assert "cv-decisions" not in response.content.decode().replace("No dataset named 'cv-decisions'", "")
    assert [(e.action, e.payload["reason"]) for e in events_since(seq)] == [("access.denied", "out_of_scope")]
    assert not AuditRun.objects.exists()
    assert db_state() == before


@pytest.mark.parametrize("model", ["credit-scoring", HIRING_MODEL])
@pytest.mark.parametrize("pipeline", ["central", "team"])
def test_a_gate_request_reads_team_membership_once(cast: Cast, credit_ci: Member, pipeline: str, model: str) -> None:
    """The gate's hot path asks the scope once (a miss up to three times): a pipeline's teams cost one query."""
    member = cast.ci if pipeline == "central" else credit_ci
    memberships = User.teams.through._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        response = _ask(member, model)

    assert response.status_code in (200, 404, 412), response.content
    reads = [q["sql"] for q in queries.captured_queries if memberships in q["sql"]]
    assert len(reads) == 1, reads
