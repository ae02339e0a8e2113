"""The approval gate, as a pipeline that only has curl sees it: blocked by a failing audit and by missing approvals,
passed once both are satisfied, with a token that verifies offline and is refused after one byte is changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from audits.models import AuditRun
from governance.access.actions import do_issue_token
from governance.trail.keys import published_verifier_keys
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import Deployment, Finding, FindingStatus
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

GATE = "/api/v1/gates/check"
ASK_V1 = {"model": "credit-scoring", "version": 1, "environment": "production"}
VERIFIER = Path(__file__).resolve().parents[2] / "governance" / "trail" / "verifier.py"
ROLES = {"label": "label", "favourable": "1", "prediction": "prediction", "protected": ["sex"]}


def predictions(rate_f: float, rate_m: float, n: int = 200) -> bytes:
    """n rows per sex; the given share of each approved (prediction 1); labels alternate."""
    lines = ["sex,label,prediction"]
    for sex, rate in (("f", rate_f), ("m", rate_m)):
        approved = round(n * rate)
        lines += [f"{sex},{i % 2},{1 if i < approved else 0}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def world(cast: Cast, media_root: Path) -> dict[str, Any]:
    """A high-risk model with two predictions-only versions: v1 approves women at half men's rate, v2 at 95%."""
    dataset = make_dataset(cast, "decisions")
    unfair = make_file_version(cast, dataset, predictions(0.3, 0.6), name="v1.csv")
    fair = make_file_version(cast, dataset, predictions(0.57, 0.6), name="v2.csv")
    model = register_model(cast, "high")
    owner = Actor.for_user(cast.owner.user)
    v1 = registry.do_register_version(model=model, user=cast.owner.user, actor=owner)
    v2 = registry.do_register_version(model=model, user=cast.owner.user, actor=owner)
    return {"model": model, "v1": v1, "v2": v2, "unfair": unfair, "fair": fair}


def ask(cast: Cast, version: int, dataset_version: int | None, **extra: Any) -> Any:
    body: dict[str, Any] = {"model": "credit-scoring", "version": version, "environment": "production"}
    if dataset_version is not None:
        body.update(dataset="decisions", dataset_version=dataset_version, column_roles=ROLES)
    body.update(extra)
    return cast.ci.client().post(GATE, body, format="json")


def approve(cast: Cast, version: Any) -> None:
    registry.do_submit(version=version, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    for member in (cast.reviewer, cast.officer):  # high risk: two distinct approvers
        registry.do_approve(version=version, user=member.user, actor=Actor.for_user(member.user))


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_a_curl_pipeline_is_blocked_then_passes_and_its_token_verifies_offline(
    cast: Cast, world: dict[str, Any], tmp_path: Path
) -> None:
    # 1. No audit and no data: insufficient evidence, 412 (curl --fail-with-body fails the job).
    response = ask(cast, 1, None)
    assert response.status_code == 412
    assert response.json()["decision"] == "insufficient_evidence"
    assert "four-fifths" in response.json()["reasons"][0]

    # 2. With the evaluation data the gate runs the audit: v1 fails four-fifths.
    seq = last_seq()
    response = ask(cast, 1, 1)
    body = response.json()
    assert (response.status_code, body["decision"]) == (412, "fail")
    assert "impact ratio 0.500" in body["reasons"][0]
    assert body["audit"]["verdict"] == "fail"
    assert [e.action for e in events_since(seq)] == ["audit.started", "audit.completed", "gate.decided"]

    # Asking again gives the same decision and starts no second audit.
    again = ask(cast, 1, 1)
    assert (again.status_code, again.json()["decision"], again.json()["audit"]["id"]) == (
        412,
        "fail",
        body["audit"]["id"],
    )
    assert AuditRun.objects.count() == 1

    # 3. v2's audit passes, but nobody approved it yet: pending approval.
    response = ask(cast, 2, 2)
    assert (response.status_code, response.json()["decision"]) == (412, "pending_approval")
    assert "0 of the 2 approval(s)" in " ".join(response.json()["reasons"])
    assert response.json()["token"] is None

    # 4. Approved by two people: pass, 200, with a signed token.
    approve(cast, world["v2"])
    seq = last_seq()
    response = ask(cast, 2, 2)
    body = response.json()
    assert (response.status_code, body["decision"]) == (200, "pass"), body
    token = body["token"]
    [decided] = events_since(seq, "gate.decided")
    assert decided.payload["decision"] == "pass"
    assert decided.payload["token_sha256"] is not None

    # 5. The token verifies offline with the standalone verifier and the published keys, and not after one change.
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(k + "\n" for k in published_verifier_keys()))
    offline = subprocess.run(
        [sys.executable, str(VERIFIER), "gate-token", token, "--trusted-keys", str(keys)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stderr
    position = len(token) // 2
    changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    refused = subprocess.run(
        [sys.executable, str(VERIFIER), "gate-token", changed, "--trusted-keys", str(keys)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert refused.stderr.strip()


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"}, GATE_REQUIRE_TOKEN_FOR_DEPLOY=True)
def test_deploying_through_the_api_can_require_the_gates_token(cast: Cast, world: dict[str, Any]) -> None:
    ask(cast, 2, 2)
    approve(cast, world["v2"])
    token = ask(cast, 2, 2).json()["token"]
    url = "/api/v1/models/credit-scoring/versions/2/deploy"
    officer = cast.officer.client()

    before = db_state()
    assert_error(officer.post(url, {"environment": "production"}, format="json"), 422, "gate_token_required")
    wrong_env = officer.post(url, {"environment": "staging", "gate_token": token}, format="json")
    assert_error(wrong_env, 422, "gate_token_invalid")
    assert "environment" in wrong_env.json()["error"]["message"]
    tampered = token[:-3] + ("x" if token[-3] != "x" else "y") + token[-2:]
    assert_error(
        officer.post(url, {"environment": "production", "gate_token": tampered}, format="json"),
        422,
        "gate_token_invalid",
    )
    assert db_state() == before

    deployed = officer.post(url, {"environment": "production", "gate_token": token}, format="json")
    assert deployed.status_code == 200, deployed.content
    assert Deployment.objects.filter(version=world["v2"], environment="production").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"model": "ghost", "version": 1, "environment": "production"}, 404, "credit-scoring"),
        (
            {"model": "credit-scoring", "version": 9, "environment": "production"},
            404,
            "credit-scoring has no version 9.",
        ),
        ({"model": "credit-scoring", "artifact_sha256": "0" * 64, "environment": "production"}, 404, "artifact"),
        ({"model": "credit-scoring", "version": 1, "environment": "moon"}, 422, "Unknown environment"),
        ({"model": "credit-scoring", "environment": "production"}, 422, "version"),
        (
            {**ASK_V1, "dataset": "ghost", "dataset_version": 1},
            404,
            'No dataset named \'ghost\' that this token can see.", "details": {"known": ["decisions"]}',
        ),
        (
            {**ASK_V1, "dataset": "decisions", "dataset_version": 7},
            404,
            '"decisions has no version 7.", "details": {"known": ["1", "2"]}',
        ),
        ({**ASK_V1, "policy": "no-such-policy"}, 422, "Unknown policy 'no-such-policy'"),
        ({**ASK_V1, "column_roles": ROLES}, 422, "column_roles describe an evaluation dataset"),
        (
            {**ASK_V1, "policy": "nyc-ll144"},
            422,
            "credit-scoring is high-risk, so the gate judges it by 'four-fifths' (AUDIT_REQUIRED_POLICIES), not "
            "'nyc-ll144'",
        ),
    ],
    ids=[
        "unknown-model",
        "unknown-version",
        "unknown-artifact",
        "unknown-environment",
        "no-version",
        "unknown-dataset",
        "unknown-dataset-version",
        "unknown-policy",
        "roles-without-a-dataset",
        "another-policy-than-the-tiers",
    ],
)
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_bad_questions_get_clear_answers_and_nothing_is_recorded_as_a_pass(
    cast: Cast, world: dict[str, Any], body: dict[str, Any], status: int, expected: str
) -> None:
    seq = last_seq()
    response = cast.ci.client().post(GATE, body, format="json")
    assert response.status_code == status
    assert expected in json.dumps(response.json())
    assert events_since(seq, "gate.decided") == []
    assert not AuditRun.objects.exists()


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"minimal": ""})
def test_a_tier_without_a_required_policy_is_judged_by_the_policy_asked_for(cast: Cast, media_root: Path) -> None:
    model = register_model(cast, "minimal")
    registry.do_register_version(model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    make_file_version(cast, make_dataset(cast, "decisions"), predictions(0.3, 0.6), name="v1.csv")
    body = {"model": model.name, "version": 1, "environment": "production"}
    response = cast.ci.client().post(
        GATE,
        {**body, "policy": "four-fifths", "dataset": "decisions", "dataset_version": 1, "column_roles": ROLES},
        format="json",
    )
    assert (response.status_code, response.json()["decision"]) == (412, "fail")
    assert response.json()["policy"]["name"] == "four-fifths"
    unknown = cast.ci.client().post(GATE, {**body, "policy": "no-such-policy"}, format="json")
    assert_error(unknown, 422)
    assert "Unknown policy 'no-such-policy'" in unknown.json()["error"]["message"]


@pytest.mark.django_db
def test_a_token_of_another_team_does_not_see_the_model(cast: Cast, world: dict[str, Any]) -> None:
    # An owner of another team holds no gates:check (only CI does). A CI token of no team sees the organisation; a
    # team's CI token is scoped to its teams (tests/audits/test_gate_team_scope.py). The
    # outsider's refusal is the scope's 403, and the model's name is not confirmed to them.
    token = do_issue_token(user=cast.outsider.user, actor=Actor.system(), days=1).raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(GATE, {"model": "credit-scoring", "version": 1, "environment": "production"}, format="json")
    assert response.status_code == 403
    assert "credit-scoring" not in response.content.decode()


@pytest.mark.django_db
def test_the_client_script_is_served_and_is_stdlib_only(cast: Cast) -> None:
    response = cast.ci.client().get("/api/v1/gates/client.py")
    assert response.status_code == 200
    source = response.content.decode()
    compile(source, "client.py", "exec")
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_column_roles_are_inputs_other_roles_audit_again_the_same_roles_never_do(
    cast: Cast, world: dict[str, Any]
) -> None:
    first = ask(cast, 1, 1).json()
    assert first["decision"] == "fail"
    # Other roles are other inputs: a new run, judged on them (favourable "0" reads the same data the other way).
    other_roles = {**ROLES, "favourable": "0"}
    second = ask(cast, 1, 1, column_roles=other_roles).json()
    assert second["audit"]["id"] != first["audit"]["id"]
    assert AuditRun.objects.get(pk=second["audit"]["id"]).column_roles["favourable"] == "0"
    # The same roles again: the same run, whichever was audited last.
    assert ask(cast, 1, 1).json()["audit"]["id"] == first["audit"]["id"]
    assert ask(cast, 1, 1, column_roles=other_roles).json()["audit"]["id"] == second["audit"]["id"]
    # No roles: the latest audit of the version on this dataset, whatever its roles.
    assert ask(cast, 1, 1, column_roles=None).json()["audit"]["id"] == second["audit"]["id"]
    assert AuditRun.objects.count() == 2


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_an_audit_that_could_not_run_is_the_answer_until_the_inputs_change(cast: Cast, world: dict[str, Any]) -> None:
    broken = {**ROLES, "reference_groups": {"sex": "x"}}  # valid JSON, but no such group: the run ends in error
    response = ask(cast, 2, 2, column_roles=broken)
    body = response.json()
    assert (response.status_code, body["decision"]) == (412, "insufficient_evidence")
    assert "has no group 'x'" in body["reasons"][0]
    assert '"force": true' in body["reasons"][1]
    seq = last_seq()
    assert ask(cast, 2, 2, column_roles=broken).json()["audit"]["id"] == body["audit"]["id"]
    assert [e.action for e in events_since(seq)] == ["gate.decided"]  # no second audit
    fixed = ask(cast, 2, 2).json()  # the fixture's roles: other inputs, a run that works
    assert fixed["audit"]["id"] != body["audit"]["id"]
    assert fixed["decision"] == "pending_approval"


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_open_findings_are_shown_with_every_decision_and_link_to_where_they_are_resolved(
    cast: Cast, world: dict[str, Any]
) -> None:
    finding = Finding.objects.create(
        version=world["v1"], kind="consent_withdrawn", title="A subject withdrew consent", status=FindingStatus.OPEN
    )
    body = ask(cast, 1, 1).json()
    assert body["decision"] == "fail"  # the audit decides; the finding is shown beside it
    assert body["open_findings"] == [
        {
            "id": finding.pk,
            "kind": "consent_withdrawn",
            "title": "A subject withdrew consent",
            "resolve_url": f"/api/v1/models/credit-scoring/versions/1/findings/{finding.pk}/resolve",
        }
    ]
    assert body["findings_url"] == "/api/v1/models/credit-scoring/versions/1/findings/"
    assert body["reasons"][-1] == "1 open finding(s) on credit-scoring v1 need a decision first."
    listed = cast.ci.client().get(body["findings_url"])
    assert finding.pk in [f["id"] for f in listed.json()["results"]]
