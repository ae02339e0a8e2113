"""The permission ladder (STYLE.md), climbed for every method of every endpoint under /api/v1/.

The endpoints come from the URLconf itself, so a new endpoint is on the ladder the day it is routed. For each
(endpoint, method), every caller climbs one rung:

- anonymous                                  -> 401, and nothing changed
- a cast member whose scopes lack the scope  -> 403, nothing changed, and an ``access.denied`` event
- a member with the scope who cannot see it  -> 404, nothing changed, and an ``access.denied`` event
- a member with the scope who can see it     -> served (not 401/403/404/405, not a server error)

Beside the cast, two pipelines of one team climb every rung: a CI user in credit-risk and one in hiring. A CI user in
a team is scoped to it as the team's people are (the cast's ``ci``, in no team, is the organisation's central
pipeline and sees everything). Each climbs with the CI role's scopes and sees what a cast member of its team who owns
nothing of their own sees (the reviewer for credit-risk, the outsider for hiring).

An endpoint with path parameters needs an entry in ``OBJECTS`` below: how to make an object for the URL and
which cast members can see it. A write that needs a body to succeed gets one in ``BODIES``. When an action
refuses a member who holds the scope and sees the object (a rule of the action, such as team membership),
``REFUSED_BY_ACTION`` says so, and that rung expects the action's own 403.

Refused requests share one object (they must not change it, and each rung checks that they did not); every
write that is served gets a fresh one, so that it finds the object in the state it needs.

What lies around the ladder (lists, deny by default, routes outside /api/v1/) is tested in
test_permission_defaults.py.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audits import actions as audits
from audits.actions import ensure_builtin_policies
from audits.models import Policy
from governance.access.actions import do_issue_token
from governance.access.models import Team
from governance.access.roles import scopes_for
from governance.data import actions as data
from governance.data.models import DatasetUpload, Purpose
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry
from registry.models import Finding, ModelVersion, RegisteredModel
from tests.api import (
    HTTP_METHODS,
    Endpoint,
    api_endpoints,
    assert_error,
    db_state,
    drf_endpoints,
    events_since,
    last_seq,
    token_row,
)
from tests.audits import gate_ladder
from tests.conftest import Cast, Member
from tests.evidence import ladder as evidence_ladder
from tests.exports import ladder as exports_ladder
from tests.ladder_rungs import CREDIT_RISK, EVERYONE, Target
from tests.monitoring import arrange as monitoring_arrange
from tests.obligations import ladder as obligations_ladder
from tests.registry.conftest import new_member
from tests.reports import ladder as reports_ladder

ENDPOINTS = drf_endpoints()


REFUSED = {401, 403, 404, 405}


def _fresh_owner_token(cast: Cast) -> dict[str, Any]:
    # A new token per request, so that a DELETE that is allowed does not spoil the next caller's rung.
    issued = do_issue_token(user=cast.owner.user, actor=Actor.system(), name="ladder")
    return {"pk": issued.token.pk}


def _newest_event(cast: Cast) -> dict[str, Any]:
    return {"seq": last_seq()}


# Questionnaire answers that classify a model as minimal risk (one approval, nothing blocks a deployment).
MINIMAL_RISK = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}


_model_numbers = itertools.count(1)


def _new_model(cast: Cast) -> RegisteredModel:
    """A fresh minimal-risk model of the owner's team, registered by the owner."""
    return registry.do_register_model(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        name=f"ladder-model-{next(_model_numbers)}",
        team=Team.objects.get(slug="credit-risk"),
        purpose="A model for the permission ladder.",
        risk_answers=MINIMAL_RISK,
    )


def _model(cast: Cast) -> dict[str, Any]:
    return {"name": _new_model(cast).name}


def _version(*steps: str) -> Callable[[Cast], dict[str, Any]]:
    """A fresh version of a fresh model, walked through ``steps`` by the cast members whose job each step is."""
    by = {"submit": "owner", "approve": "reviewer", "deploy": "officer"}
    extra = {"deploy": {"environment": "staging"}}

    def make(cast: Cast) -> dict[str, Any]:
        model = _new_model(cast)
        version = registry.do_register_version(model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
        for step in steps:
            user = getattr(cast, by[step]).user
            getattr(registry, f"do_{step}")(
                version=version, user=user, actor=Actor.for_user(user), **extra.get(step, {})
            )
        return {"name": model.name, "number": version.number}

    return make


def _webhook(cast: Cast) -> dict[str, Any]:
    """A webhook of a fresh model, added by the owner.

    A public address literal: it resolves without DNS, and nothing is ever sent to it here.
    """
    model = _new_model(cast)
    webhook, _secret = registry.do_add_webhook(
        model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user), url="https://93.184.215.14/hook"
    )
    return {"name": model.name, "pk": webhook.pk}


_dataset_numbers = itertools.count(1)


def _new_dataset(cast: Cast) -> Any:
    """A fresh dataset of the owner's team with one version (an external URI: nothing to parse)."""
    dataset = data.do_register_dataset(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        name=f"ladder-dataset-{next(_dataset_numbers)}",
        team=Team.objects.get(slug="credit-risk"),
    )
    data.do_register_dataset_version(
        dataset=dataset,
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        external_uri="s3://ladder/data.parquet",
    )
    return dataset


def _dataset(cast: Cast) -> dict[str, Any]:
    return {"name": _new_dataset(cast).name}


def _dataset_version(cast: Cast) -> dict[str, Any]:
    return {"name": _new_dataset(cast).name, "number": 1}


def _dataset_upload(cast: Cast) -> dict[str, Any]:
    """A large upload waiting for a worker (stored bytes: a few German-credit rows)."""
    dataset = _new_dataset(cast)
    upload = DatasetUpload.objects.create(
        dataset=dataset, file="datasets/ab/ladder.csv", sha256="ab" * 32, size_bytes=1, created_by=cast.owner.user
    )
    return {"name": dataset.name, "upload_id": upload.pk}


def _run(cast: Cast) -> dict[str, Any]:
    dataset = _new_dataset(cast)
    run = data.do_record_run(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        job_name="ladder",
        outputs=[dataset.versions.get()],
    )
    return {"run_id": run.run_id}


def _subject(cast: Cast) -> dict[str, Any]:
    """A subject who consented to a purpose (both created by the officer who keeps consent records)."""
    purpose = Purpose.objects.filter(code="ladder-purpose").first() or data.do_create_purpose(
        user=cast.officer.user,
        actor=Actor.system(),
        code="ladder-purpose",
        description="For the ladder.",
        legal_basis="consent",
    )
    event = data.do_record_consent(
        user=cast.officer.user,
        actor=Actor.system(),
        purpose=purpose,
        kind="given",
        occurred_at=timezone.now(),
        external_id=f"ladder-subject-{next(_dataset_numbers)}",
    )
    return {"pseudonym": event.subject_id}


def _finding(cast: Cast) -> dict[str, Any]:
    """An open finding on a fresh version (opened directly: how a finding arises is tested elsewhere)."""
    kwargs = _version()(cast)
    version = ModelVersion.objects.get(model__name=kwargs["name"], number=kwargs["number"])
    finding = Finding.objects.create(version=version, kind="test", title="Ladder finding", cause="ladder")
    return {**kwargs, "pk": finding.pk}


def _policy(cast: Cast) -> dict[str, Any]:
    ensure_builtin_policies()
    return {"name": "baseline"}


def _policy_version(cast: Cast) -> dict[str, Any]:
    return {**_policy(cast), "number": 1}


_AUDIT_CSV = "sex,label,prediction\n" + "".join(f"{'f' if i % 2 else 'm'},{i % 3 % 2},{i % 5 % 2}\n" for i in range(80))


def _audit(cast: Cast) -> dict[str, Any]:
    """A finished audit of a fresh predictions-only version of the owner's team, under the baseline policy."""
    kwargs = _version()(cast)
    version = ModelVersion.objects.get(model__name=kwargs["name"], number=kwargs["number"])
    dataset = _new_dataset(cast)
    path = Path(tempfile.mkdtemp()) / "audit.csv"
    path.write_text(_AUDIT_CSV)
    dataset_version = data.do_register_dataset_version(
        dataset=dataset, user=cast.owner.user, actor=Actor.system(), file_path=path, file_name="audit.csv"
    )
    audits.ensure_builtin_policies()
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=Policy.objects.get(name="baseline").latest_version(),
        column_roles={"label": "label", "prediction": "prediction", "protected": ["sex"]},
    )
    return {"pk": run.pk}


# One entry per endpoint with path parameters, keyed by URL name.
OBJECTS: dict[str, Target] = {
    "api:team-detail": Target(lambda cast: {"slug": "credit-risk"}, visible_to=CREDIT_RISK),
    # The owner's token: the owner sees it (through either token), and so does whoever holds tokens:manage.
    "api:token-detail": Target(_fresh_owner_token, visible_to=frozenset({"owner", "read_only", "admin"})),
    "api:trail-event-detail": Target(_newest_event, visible_to=EVERYONE),
    # Registry objects belong to the credit-risk team; regulators see only what is shared with them.
    "registry-api:model-detail": Target(_model, visible_to=CREDIT_RISK),
    "registry-api:model-risk": Target(_model, visible_to=CREDIT_RISK),
    "registry-api:model-history": Target(_model, visible_to=CREDIT_RISK),
    "registry-api:version-list": Target(_model, visible_to=CREDIT_RISK),
    "registry-api:version-detail": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-model-card": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-mlbom": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-submit": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-approve": Target(_version("submit"), visible_to=CREDIT_RISK),
    "registry-api:version-reject": Target(_version("submit"), visible_to=CREDIT_RISK),
    "registry-api:version-deploy": Target(_version("submit", "approve"), visible_to=CREDIT_RISK),
    "registry-api:version-retire": Target(_version("submit", "approve", "deploy"), visible_to=CREDIT_RISK),
    "registry-api:webhook-list": Target(_model, visible_to=CREDIT_RISK),
    "registry-api:webhook-detail": Target(_webhook, visible_to=CREDIT_RISK),
    "registry-api:webhook-deliveries": Target(_webhook, visible_to=CREDIT_RISK),
    "registry-api:version-lineage": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-prov": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-findings": Target(_version(), visible_to=CREDIT_RISK),
    "registry-api:version-finding-resolve": Target(_finding, visible_to=CREDIT_RISK),
    # Datasets and lineage runs belong to the credit-risk team, like its models.
    "api:dataset-detail": Target(_dataset, visible_to=CREDIT_RISK),
    "api:dataset-version-list": Target(_dataset, visible_to=CREDIT_RISK),
    "api:dataset-version-detail": Target(_dataset_version, visible_to=CREDIT_RISK),
    "api:dataset-version-lineage": Target(_dataset_version, visible_to=CREDIT_RISK),
    "api:dataset-version-coverage": Target(_dataset_version, visible_to=CREDIT_RISK),
    "api:dataset-upload-detail": Target(_dataset_upload, visible_to=CREDIT_RISK),
    "api:lineage-run-detail": Target(_run, visible_to=CREDIT_RISK),
    # Policies are organisation-wide rules; an audit run is visible with its model.
    "audits-api:policy-detail": Target(_policy, visible_to=EVERYONE),
    "audits-api:policy-version": Target(_policy_version, visible_to=EVERYONE),
    "audits-api:policy-diff": Target(_policy, visible_to=EVERYONE),
    "audits-api:audit-detail": Target(_audit, visible_to=CREDIT_RISK),
    "audits-api:audit-ll144-summary": Target(_audit, visible_to=CREDIT_RISK),  # the audit's own access rules
    # Subjects are organisation records; only the consent scopes (officers, administrators) reach them.
    "api:subject-detail": Target(_subject, visible_to=EVERYONE),
    "api:subject-access": Target(_subject, visible_to=EVERYONE),
    "api:subject-erasure": Target(_subject, visible_to=EVERYONE),
    "api:subject-personal-data": Target(_subject, visible_to=EVERYONE),
    # Reports are visible with their model (issue 8); how each object is made: tests/reports/ladder.py.
    "audits-api:audit-reports": Target(
        lambda cast: reports_ladder.completed_run(cast, _audit),
        visible_to=CREDIT_RISK,
    ),
    "audits-api:version-reports": Target(_version(), visible_to=CREDIT_RISK),
    "audits-api:report-detail": Target(
        lambda cast: reports_ladder.run_report(cast, _audit),
        visible_to=CREDIT_RISK,
    ),
    "audits-api:report-pdf": Target(
        lambda cast: reports_ladder.run_report(cast, _audit),
        visible_to=CREDIT_RISK,
    ),
    # (ladder objects: reports, issue 8)
    **exports_ladder.OBJECTS,
    # (ladder objects: exports, issue 8)
    # Monitoring: a deployed demo version with monitoring configured, and a batch of it (tests/monitoring/arrange.py).
    "registry-api:version-monitoring": Target(monitoring_arrange.ladder_monitored_version, visible_to=CREDIT_RISK),
    "registry-api:version-monitoring-source": Target(
        monitoring_arrange.ladder_monitored_version, visible_to=CREDIT_RISK
    ),
    "registry-api:version-batches": Target(monitoring_arrange.ladder_monitored_version, visible_to=CREDIT_RISK),
    "registry-api:version-batch-detail": Target(monitoring_arrange.ladder_batch, visible_to=CREDIT_RISK),
    "registry-api:version-batch-labels": Target(monitoring_arrange.ladder_batch, visible_to=CREDIT_RISK),
    "registry-api:version-drift": Target(_version(), visible_to=CREDIT_RISK),
    # (ladder objects: monitoring, issue 10)
    **obligations_ladder.OBJECTS,
    **gate_ladder.OBJECTS,  # a gate decision's proof (issue 26)
    **evidence_ladder.OBJECTS,  # imported evidence (issue 23)
}


# Members who hold the scope (and see the object) but whom the action itself refuses, per (URL name, method).
REFUSED_BY_ACTION: dict[tuple[str, str], frozenset[str]] = {
    # The body registers the model for credit-risk, and the outsider is not in that team (422: no such team of theirs).
    ("registry-api:model-list", "POST"): frozenset({"outsider"}),
    # (ladder refused: reports, issue 8)
    # (ladder refused: exports, issue 8)
    # (ladder refused: monitoring, issue 10)
}


# Bodies that make an allowed write succeed (without one, a write is sent an empty JSON object).
BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "registry-api:model-list": lambda: {
        "name": f"ladder-model-{next(_model_numbers)}",
        "team": "credit-risk",
        "purpose": "Registered by the permission ladder.",
        "risk_answers": MINIMAL_RISK,
    },
    "registry-api:model-detail": lambda: {"purpose": "Changed by the permission ladder."},
    "registry-api:model-risk": lambda: {"risk_answers": MINIMAL_RISK, "reason": "Re-checked by the ladder."},
    "registry-api:version-model-card": lambda: {"intended_use": "Ladder climbing."},
    "registry-api:version-reject": lambda: {"reason": "Not ready."},
    "registry-api:version-deploy": lambda: {"environment": "staging"},
    "registry-api:version-retire": lambda: {"reason": "Replaced."},
    "registry-api:webhook-list": lambda: {"url": "https://93.184.215.14/hook"},
    "registry-api:version-finding-resolve": lambda: {"resolution": "accept", "reason": "Checked by the ladder."},
    "api:dataset-list": lambda: {"name": f"ladder-dataset-{next(_dataset_numbers)}", "team": "credit-risk"},
    "api:dataset-version-list": lambda: {"external_uri": "s3://ladder/next.parquet"},
    "api:consent-purpose-list": lambda: {
        "code": f"ladder-purpose-{next(_dataset_numbers)}",
        "description": "Defined by the ladder.",
        "legal_basis": "consent",
    },
    "api:subject-personal-data": lambda: {"category": "contact", "data": {"email": "ladder@example.org"}},
    # (ladder bodies: reports, issue 8)
    **exports_ladder.BODIES,
    # (ladder bodies: exports, issue 8)
    "registry-api:version-monitoring": lambda: dict(monitoring_arrange.CONFIG),
    # (ladder bodies: monitoring, issue 10)
    **obligations_ladder.BODIES,
}


# Query strings that make a served request a useful one (without them these answer 422, which is also fine).
QUERIES: dict[str, dict[str, str]] = {
    "api:trail-proof-inclusion": {"seq": "0"},
    "api:trail-proof-consistency": {"from": "1"},
    "audits-api:policy-diff": {"from": "1", "to": "1"},
    # (ladder queries: reports, issue 8)
    # (ladder queries: exports, issue 8)
    "registry-api:version-drift": {"feature": "credit_amount"},
    # (ladder queries: monitoring, issue 10)
}


def _missing_object_message(endpoint: Endpoint) -> str:
    return (
        f"{endpoint.name} ({endpoint.route}) has path parameters {list(endpoint.kwargs)} but no entry in OBJECTS in "
        f"tests/access/test_permission_ladder.py. Add one: how to make an object owned by the owner's team "
        f"(credit-risk) or by the owner, and which cast members can see it."
    )


def _member_scopes(member: Member) -> frozenset[str]:
    return scopes_for(member.user.role, read_only=token_row(member).read_only)


def _send(client: APIClient, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    if method in ("POST", "PUT", "PATCH"):
        return getattr(client, method.lower())(path, body or {}, format="json")
    if method == "DELETE":
        return client.delete(path)
    return client.generic(method, path, QUERY_STRING="&".join(f"{k}={v}" for k, v in query.items()))


# Team pipelines: name -> (its team, the cast member whose visibility and action refusals it shares).
TEAM_PIPELINES: dict[str, tuple[str, str]] = {
    "credit_risk_ci": ("credit-risk", "reviewer"),
    "hiring_ci": ("hiring", "outsider"),
}


@pytest.fixture
def world(cast: Cast) -> Cast:
    """The cast, plus a signed checkpoint so the proof endpoints have something to prove against."""
    issue_checkpoint(reason="test")
    return cast


@pytest.fixture
def climbers(world: Cast) -> dict[str, tuple[Member, str]]:
    """Everyone who climbs a rung: name -> (member, the cast name whose visibility they have)."""
    pipelines = {
        name: (new_member(name.replace("_", "-"), "ci", [team]), sees_as)
        for name, (team, sees_as) in TEAM_PIPELINES.items()
    }
    return {**{name: (member, name) for name, member in world.members().items()}, **pipelines}


def test_every_api_route_is_a_drf_view_declaring_its_scopes() -> None:
    routes = api_endpoints()
    assert routes, "the URL walk found no endpoint under /api/v1/"
    for endpoint in routes:
        assert endpoint in ENDPOINTS, f"{endpoint.name} ({endpoint.route}) is not a DRF view: no scope guards it"
        assert endpoint.required_scopes, f"{endpoint.name} declares no required_scopes: it is refused for everyone"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_every_implemented_method_is_mapped_to_a_scope_and_nothing_else(endpoint: Endpoint) -> None:
    assert set(endpoint.required_scopes) == set(endpoint.implemented_methods), (
        f"{endpoint.name}: required_scopes maps {sorted(endpoint.required_scopes)} but the view implements "
        f"{sorted(endpoint.implemented_methods)}"
    )


def test_every_endpoint_with_path_parameters_has_an_objects_entry() -> None:
    missing = [_missing_object_message(e) for e in ENDPOINTS if e.kwargs and e.name not in OBJECTS]
    assert not missing, "\n".join(missing)
    stale = set(OBJECTS) - {e.name for e in ENDPOINTS}
    assert not stale, f"OBJECTS names endpoints that no longer exist: {sorted(stale)}"


LADDER = [(e, method) for e in ENDPOINTS for method in sorted(e.required_scopes)]


@pytest.mark.parametrize(("endpoint", "method"), LADDER, ids=[f"{e.name} {m}" for e, m in LADDER])
def test_permission_ladder(
    world: Cast, climbers: dict[str, tuple[Member, str]], anonymous: APIClient, endpoint: Endpoint, method: str
) -> None:
    if endpoint.kwargs and endpoint.name not in OBJECTS:
        pytest.fail(_missing_object_message(endpoint))
    target = OBJECTS.get(endpoint.name)
    scope = endpoint.required_scopes[method]
    query = QUERIES.get(endpoint.name, {})
    body = BODIES.get(endpoint.name, dict)
    shared = reverse(endpoint.name, kwargs=target.make(world) if target else None)

    def rung(member: Member, sees_as: str) -> str:
        if scope not in _member_scopes(member):
            return "forbidden"
        if target is not None and sees_as not in target.visible_to:
            return "hidden"
        if sees_as in REFUSED_BY_ACTION.get((endpoint.name, method), ()):
            return "refused by the action"
        return "served"

    # Anonymous: 401 with a Bearer challenge, nothing changed, nothing recorded (there is no one to record).
    url = shared
    before, seq = db_state(), last_seq()
    response = _send(anonymous, method, url, query, body())
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="assay"'
    assert db_state() == before, f"anonymous {method} {url} changed the database"
    assert events_since(seq) == []

    for name, (member, sees_as) in climbers.items():
        expected = rung(member, sees_as)
        fresh = expected == "served" and method != "GET" and target is not None
        url = reverse(endpoint.name, kwargs=target.make(world)) if fresh else shared
        where = f"{name} ({member.user.role}) {method} {url}, expected {expected}"
        before, seq = db_state(), last_seq()
        response = _send(member.client(), method, url, query, body())
        denials = events_since(seq, "access.denied")

        if expected == "forbidden":
            error = assert_error(response, 403, "permission_denied")
            assert scope in error["message"], where
            assert db_state() == before, f"{where} was refused but changed the database"
            assert len(denials) == 1, f"{where}: expected one access.denied event, got {denials}"
            _assert_denial(denials[0], member, method=method, path=url, reason="missing_scope", scope=scope)
        elif expected == "hidden":
            assert_error(response, 404, "not_found")
            assert db_state() == before, f"{where} was refused but changed the database"
            assert len(denials) == 1, f"{where}: expected one access.denied event, got {denials}"
            _assert_denial(denials[0], member, method=method, path=url, reason="out_of_scope", scope="")
        elif expected == "refused by the action":
            # The action's own rule (403), or a lookup among the caller's own teams that reads another team's name
            # like a missing one (422, team names are not revealed).
            assert response.status_code in (403, 422), f"{where}: {response.status_code} {response.content[:300]!r}"
            error = assert_error(response, response.status_code)
            assert error["code"] != "permission_denied", f"{where}: expected the action's refusal, got {error}"
            assert db_state() == before, f"{where} was refused but changed the database"
        else:
            answer = f"{where}: {response.status_code} {response.content[:300]!r}"
            assert response.status_code not in REFUSED, f"refused: {answer}"
            assert response.status_code < 500, answer
            assert denials == [], f"{where} was served but recorded a refusal"


def _assert_denial(event: Event, member: Member, *, method: str, path: str, reason: str, scope: str) -> None:
    token = token_row(member)
    # The route pattern, never the path: a caller chooses the path, and the trail keeps it forever.
    route = resolve(path.split("?", maxsplit=1)[0]).route
    assert event.payload == {"method": method, "path": route, "reason": reason, "scope": scope}
    assert (event.actor_kind, event.actor_user_id, event.actor_token_id) == ("token", member.user.pk, token.pk)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_method_the_view_does_not_implement_answers_405(cast: Cast, endpoint: Endpoint) -> None:
    target = OBJECTS.get(endpoint.name)
    unimplemented = [m for m in HTTP_METHODS if m not in endpoint.implemented_methods]
    if not unimplemented:
        pytest.skip(f"{endpoint.name} implements every method")
    url = reverse(endpoint.name, kwargs=target.make(cast) if target else None)
    for method in unimplemented:
        before, seq = db_state(), last_seq()
        response = _send(cast.admin.client(), method, url, {})
        error = assert_error(response, 405, "method_not_allowed")
        assert method in error["message"]
        assert db_state() == before
        assert events_since(seq, "access.denied") == []


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_need_the_get_scope(cast: Cast, method: str) -> None:
    url = reverse("api:team-list")
    seq = last_seq()
    refused = cast.regulator.client().generic(method, url)  # regulators lack teams:read
    assert refused.status_code == 403
    [denial] = events_since(seq, "access.denied")
    assert denial.payload["scope"] == "teams:read"
    assert cast.owner.client().generic(method, url).status_code == 200
