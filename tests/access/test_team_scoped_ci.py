"""CI pipelines and teams: a CI user in one or more teams is scoped to them, exactly as the teams' owners and
reviewers are (another team's models, datasets and runs answer 404); a CI user in no team is the organisation's
central pipeline and sees every team's objects, as before.

The rule lives in one place (``governance.access.scoping`` and ``User.is_organisation_wide``); these tests speak to
the HTTP API with each pipeline's own token. The permission ladder (test_permission_ladder.py) climbs every
endpoint with a pipeline of each team too; the gate's side is tests/audits/test_gate_team_scope.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.access.actions import do_change_role, do_create_user, do_issue_token
from governance.access.models import Team, User
from governance.trail.log import Actor
from registry import actions as registry
from tests.api import assert_error, db_state, events_since, last_seq, token_row
from tests.conftest import Cast, Member
from tests.data.conftest import make_dataset, make_external_version, make_run
from tests.registry.conftest import acting, new_member, register_model, risk_answers

API = "/api/v1"


@dataclass
class Teams:
    """Two teams' models, datasets and lineage runs, and pipelines of one team, of the other, and of both."""

    credit_ci: Member  # CI in credit-risk (the owner's team)
    hiring_ci: Member  # CI in hiring (the outsider's team)
    both_ci: Member  # CI in both teams


@pytest.fixture
def teams(cast: Cast) -> Teams:
    credit_model = register_model(cast, "minimal", name="credit-scoring")
    hiring_model = registry.do_register_model(
        user=cast.outsider.user,
        actor=acting(cast.outsider),
        name="cv-screening",
        team=Team.objects.get(slug="hiring"),
        purpose="Rank job applications.",
        risk_answers=risk_answers("minimal"),
    )
    for model, member in ((credit_model, cast.owner), (hiring_model, cast.outsider)):
        registry.do_register_version(model=model, user=member.user, actor=acting(member))
    applications = make_external_version(cast, make_dataset(cast, "applications"))
    cvs = make_external_version(cast, make_dataset(cast, "cvs", team="hiring"))
    make_run(cast, "build-applications", outputs=[applications])
    make_run(cast, "build-cvs", outputs=[cvs])
    return Teams(
        credit_ci=new_member("credit-ci", "ci", ["credit-risk"]),
        hiring_ci=new_member("hiring-ci", "ci", ["hiring"]),
        both_ci=new_member("both-ci", "ci", ["credit-risk", "hiring"]),
    )


def _pipeline(cast: Cast, teams: Teams, name: str) -> Member:
    return cast.ci if name == "central" else getattr(teams, name)


def _names(response: Any, key: str) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item[key] for item in response.json()["results"])


CREDIT_RISK = (["credit-scoring"], ["applications"], ["build-applications"])
HIRING = (["cv-screening"], ["cvs"], ["build-cvs"])
BOTH = tuple(sorted(a + b) for a, b in zip(CREDIT_RISK, HIRING, strict=True))


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [("central", BOTH), ("credit_ci", CREDIT_RISK), ("hiring_ci", HIRING), ("both_ci", BOTH)],
)
def test_a_pipeline_lists_its_teams_objects_and_the_central_one_lists_everyones(
    cast: Cast, teams: Teams, pipeline: str, expected: tuple[list[str], list[str], list[str]]
) -> None:
    """Models, datasets and lineage runs, each listed through the same scope."""
    client = _pipeline(cast, teams, pipeline).client()
    models, datasets, runs = expected

    assert _names(client.get(f"{API}/models/"), "name") == models
    assert _names(client.get(f"{API}/datasets/"), "name") == datasets
    assert _names(client.get(f"{API}/lineage/runs/"), "job_name") == runs
    # A team filter naming another team finds nothing, rather than another team's objects.
    assert _names(client.get(f"{API}/models/", {"team": "credit-risk"}), "name") == [
        m for m in models if m == "credit-scoring"
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/models/credit-scoring/", None),
        ("get", "/models/credit-scoring/versions/", None),
        ("get", "/models/credit-scoring/versions/1/", None),
        ("get", "/models/credit-scoring/history", None),
        ("post", "/models/credit-scoring/versions/", {}),
        ("patch", "/models/credit-scoring/", {"purpose": "Taken over by another team's pipeline."}),
        ("post", "/models/credit-scoring/versions/1/submit", {}),
        ("get", "/datasets/applications/", None),
        ("get", "/datasets/applications/versions/1/", None),
        ("post", "/datasets/applications/versions/", {"external_uri": "s3://lake/applications/v9.parquet"}),
    ],
)
def test_another_teams_model_or_dataset_answers_404_to_a_pipeline_and_nothing_changes(
    cast: Cast, teams: Teams, method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = teams.hiring_ci.client()
    before, seq = db_state(), last_seq()

    response = getattr(client, method)(f"{API}{path}", body, format="json")

    assert_error(response, 404, "not_found")
    assert "credit" not in response.content.decode()
    assert "applications" not in response.content.decode()
    assert db_state() == before
    [denied] = events_since(seq)
    assert denied.action == "access.denied"
    assert denied.payload["reason"] == "out_of_scope"
    assert (denied.actor_user_id, denied.actor_token_id) == (teams.hiring_ci.user.pk, token_row(teams.hiring_ci).pk)


def test_registering_a_version_climbs_the_ladder_for_pipelines(cast: Cast, teams: Teams, anonymous: Any) -> None:
    """POST /models/credit-scoring/versions/: anonymous 401, a read-only pipeline token 403, another team's
    pipeline 404, the model's team's pipeline and the central pipeline 201 (each with its trail event)."""
    url = f"{API}/models/credit-scoring/versions/"
    read_only = Member(
        user=teams.credit_ci.user,
        token=do_issue_token(user=teams.credit_ci.user, actor=Actor.system(), read_only=True, days=1).raw,
    )

    for client, status, code in (
        (anonymous, 401, "not_authenticated"),
        (read_only.client(), 403, "permission_denied"),
        (teams.hiring_ci.client(), 404, "not_found"),
    ):
        before, seq = db_state(), last_seq()
        assert_error(client.post(url, {}, format="json"), status, code)
        assert db_state() == before, f"a refused {status} changed the database"
        assert [e.action for e in events_since(seq)] == ([] if status == 401 else ["access.denied"])

    for member, number in ((teams.credit_ci, 2), (teams.both_ci, 3), (cast.ci, 4)):
        seq = last_seq()
        response = member.client().post(url, {}, format="json")
        assert response.status_code == 201, response.content
        assert (response.json()["number"], response.json()["created_by"]) == (number, member.user.username)
        [registered] = events_since(seq)
        assert (registered.action, registered.payload["model"], registered.payload["version"]) == (
            "model_version.registered",
            "credit-scoring",
            number,
        )
        assert registered.actor_token_id == token_row(member).pk


def test_a_pipeline_cannot_register_a_model_or_dataset_for_another_team_as_an_owner_cannot(
    cast: Cast, teams: Teams
) -> None:
    model = {"name": "poached", "team": "credit-risk", "purpose": "Not ours.", "risk_answers": risk_answers("minimal")}
    dataset = {"name": "poached-data", "team": "credit-risk"}

    # A model's or dataset's team is looked up among the caller's teams, so another team's slug reads like a
    # missing one (422): team names are not revealed.
    for path, body in (("/models/", model), ("/datasets/", dataset)):
        for member in (cast.outsider, teams.hiring_ci):  # an owner of hiring, and hiring's pipeline
            before = db_state()
            error = assert_error(member.client().post(f"{API}{path}", body, format="json"), 422)
            assert db_state() == before, (path, member.user.username)
            assert error["details"]["team"] == ["There is no such team among yours."], error
            missing = {**body, "team": "no-such-team"}
            assert assert_error(member.client().post(f"{API}{path}", missing, format="json"), 422) == error

    # Its own team's pipeline registers both.
    for path, body in (("/models/", model), ("/datasets/", dataset)):
        response = teams.credit_ci.client().post(f"{API}{path}", body, format="json")
        assert response.status_code == 201, response.content


def test_a_pipeline_cannot_audit_another_teams_model_nor_with_another_teams_data(cast: Cast, teams: Teams) -> None:
    audit = {"model": "credit-scoring", "version": 1, "dataset": "applications", "dataset_version": 1}
    audit |= {"policy": "baseline", "column_roles": {"label": "label", "protected": ["sex"], "prediction": "p"}}

    for body in (audit, {**audit, "model": "cv-screening"}):  # credit-risk's model, then its data with hiring's
        before = db_state()
        assert_error(teams.hiring_ci.client().post(f"{API}/audits/", body, format="json"), 404, "not_found")
        assert db_state() == before


def test_a_pipelines_teams_change_its_scope_on_the_next_request(cast: Cast, teams: Teams) -> None:
    client = teams.hiring_ci.client()
    assert _names(client.get(f"{API}/models/"), "name") == ["cv-screening"]

    # Out of every team: the organisation's central pipeline.
    do_change_role(user=teams.hiring_ci.user, actor=Actor.system(), role="ci", teams=[])
    assert _names(client.get(f"{API}/models/"), "name") == ["credit-scoring", "cv-screening"]

    # Into credit-risk: credit-risk's pipeline.
    do_change_role(user=teams.hiring_ci.user, actor=Actor.system(), role="ci", teams=["credit-risk"])
    assert _names(client.get(f"{API}/models/"), "name") == ["credit-scoring"]
    assert_error(client.get(f"{API}/models/cv-screening/"), 404, "not_found")


@pytest.mark.parametrize("pipeline", ["central", "credit_ci", "both_ci"])
def test_a_pipelines_request_reads_its_teams_once(cast: Cast, teams: Teams, pipeline: str) -> None:
    """Team membership costs one query per request however often the scope is asked (the gate asks once on a hit
    and up to three times on a miss; a version list asks for the model and then its versions)."""
    client = _pipeline(cast, teams, pipeline).client()
    memberships = User.teams.through._meta.db_table

    for path in ("/models/", "/models/credit-scoring/versions/", "/models/no-such-model/", "/datasets/"):
        with CaptureQueriesContext(connection) as queries:
            client.get(f"{API}{path}")
        reads = [q["sql"] for q in queries.captured_queries if memberships in q["sql"]]
        assert len(reads) == 1, (path, reads)


@pytest.mark.parametrize(
    ("role", "teams", "expected"),
    [
        ("admin", [], True),
        ("officer", [], True),
        ("officer", ["credit-risk"], True),
        ("ci", [], True),
        ("ci", ["credit-risk"], False),
        ("ci", ["credit-risk", "hiring"], False),
        ("owner", [], False),
        ("owner", ["credit-risk"], False),
        ("reviewer", ["credit-risk"], False),
        ("regulator", [], False),
    ],
)
def test_who_is_organisation_wide(db: Any, role: str, teams: list[str], expected: bool) -> None:
    user = do_create_user(username=f"{role}-{len(teams)}", role=role, teams=teams, actor=Actor.system())

    fresh = User.objects.get(pk=user.pk)  # as a request loads it
    assert fresh.is_organisation_wide is expected
