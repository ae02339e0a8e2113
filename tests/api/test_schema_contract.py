"""The API keeps its OpenAPI schema's promises (issue 17): schemathesis fuzzes every operation of the schema that
``/api/schema/`` serves, in process through the WSGI application, as the officer and as the owner.

Three checks of schemathesis on every response: no 5xx (``not_a_server_error``), every documented response matches
its schema (``response_schema_conformance``: nullable fields, list shapes), and a request that breaks the schema is
refused (``negative_data_rejection``: a 4xx); and one of the project's: every 4xx carries the API's JSON error body.
Generation is bounded and deterministic: hypothesis ``derandomize=True`` and ``MAX_EXAMPLES`` per operation in the
fuzzing phase, besides schemathesis's examples and coverage phases (boundary and wrong-type values derived from the
schema: a finite set).

So that operations reach real objects rather than only 404s, a small world is arranged through the actions (a model
with two versions, a dataset, a purpose with consent, a share, a webhook, a lineage run, a checkpoint) and its names
and ids are given to the schema's path parameters as ``example`` values; nothing else of the served schema changes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from audits.actions import ensure_builtin_policies
from governance.access.actions import do_issue_token
from governance.access.models import ApiToken, Team
from governance.data import actions as data
from governance.exports.actions import do_create_share
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.log import Actor
from registry import actions as registry
from tests.api import token_row
from tests.conftest import Cast, Member
from tests.data.conftest import pseudonym
from tests.registry.conftest import register_model

# Fuzzing-phase examples per operation and role; the coverage phase adds its own finite set (about four fifths of the
# run). Measured on the project's 2-core machine: 3,850 requests per role; both roles 50 s when the machine is quiet,
# 4 to 5.5 minutes while seven other jobs share its two cores.
MAX_EXAMPLES = 5
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]
SUBJECT = "DE-APPL-0001"
MIN_OPERATIONS_SUCCEEDED = {"olivia": 45, "omar": 40}  # measured: 54 and 45


def _arrange_world(cast: Cast) -> dict[str, Any]:
    """The objects the path parameters point at, arranged through the actions; returns the example values."""
    owner, officer = cast.owner, cast.officer
    as_owner, as_officer = Actor.for_user(owner.user), Actor.for_user(officer.user)
    ensure_builtin_policies()
    model = register_model(cast, "high")
    for _ in (1, 2):
        version = registry.do_register_version(
            model=model,
            user=owner.user,
            actor=as_owner,
            metrics={"auc": 0.8},
            input_schema=[{"name": "income", "type": "float"}, {"name": "age", "type": "int"}],
        )
    registry.do_submit(version=version, user=owner.user, actor=as_owner)
    # A local address, allowed for this one registration: nothing resolves names here, and deliveries run on commit,
    # which never comes in a test's transaction.
    with override_settings(WEBHOOK_ALLOW_LOCAL=True, WEBHOOK_ALLOW_HTTP=True):
        webhook, _secret = registry.do_add_webhook(
            model=model, user=owner.user, actor=as_owner, url="http://127.0.0.1:9/assay"
        )
    dataset = data.do_register_dataset(
        user=owner.user, actor=as_owner, name="applications-2025", team=Team.objects.get(slug="credit-risk")
    )
    dataset_version = data.do_register_dataset_version(
        dataset=dataset, user=owner.user, actor=as_owner, external_uri="s3://credit/applications/1"
    )
    run = data.do_record_run(
        user=cast.ci.user,
        actor=Actor.for_user(cast.ci.user),
        job_name="train",
        inputs=[dataset_version],
        model_outputs=[version],
    )
    purpose = data.do_create_purpose(
        user=officer.user, actor=as_officer, code="model_training", description="Model training.", legal_basis="consent"
    )
    data.do_record_consent(
        user=officer.user,
        actor=as_officer,
        purpose=purpose,
        kind="given",
        occurred_at=timezone.now() - dt.timedelta(days=1),
        external_id=SUBJECT,
    )
    share = do_create_share(
        user=officer.user,
        actor=as_officer,
        regulator=cast.regulator.user,
        expires_at=timezone.now() + dt.timedelta(days=30),
        reason="Market surveillance request.",
        model=model,
    )
    checkpoint = issue_checkpoint()
    assert checkpoint is not None
    return {
        "model": model.name,
        "dataset": dataset.name,
        "webhook": webhook.pk,
        "run_id": str(run.run_id),
        "share": share.pk,
        "token": ApiToken.objects.get(user=cast.read_only.user, read_only=True).pk,
        "pseudonym": pseudonym(SUBJECT),
        "seq": checkpoint.tree_size,
    }


def _example(path: str, name: str, world: dict[str, Any]) -> Any:
    """The example value of path parameter ``name`` of ``path``, or None to leave it to generation."""
    collection = path.removeprefix("/api/v1/").split("/")[0]
    by_name: dict[str, Any] = {
        "name": {"datasets": world["dataset"], "policies": "baseline"}.get(collection, world["model"]),
        "number": 1,
        "slug": "credit-risk",
        "seq": world["seq"],
        "run_id": world["run_id"],
        "pseudonym": world["pseudonym"],
        "id": {"models": world["webhook"], "shares": world["share"], "tokens": world["token"]}.get(collection),
    }
    return by_name.get(name)


@pytest.fixture(params=["officer", "owner"])
def member(request: pytest.FixtureRequest, cast: Cast) -> Member:
    return getattr(cast, request.param)  # type: ignore[no-any-return]


@contextmanager
def one_connection() -> Iterator[None]:
    """Requests through the WSGI handler keep the test's database connection open (and its transaction), as
    Django's test client arranges: the handler would otherwise close it when each request starts and finishes."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(cast: Cast, member: Member) -> Any:
    """The schema ``/api/schema/`` serves to ``member``, with the world's names as path-parameter examples."""
    world = _arrange_world(cast)
    response = member.client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    raw = response.json()
    for path, operations in raw["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and (value := _example(path, parameter["name"], world)) is not None:
                    parameter["example"] = value
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    # The caller's token is sent by the test; generated credentials would only test schemathesis's guesses.
    schema.config.generation.update(with_security_parameters=False)
    # One method the operation does not declare, per operation, is enough to see it refused; schemathesis's default
    # of six per path was a tenth of the run.
    schema.config.phases.coverage.unexpected_methods = {"DELETE"}
    return schema


def _renew_if_revoked(member: Member) -> None:
    """``DELETE /tokens/{id}/`` may revoke the caller's own token (it may); go on with a fresh one."""
    if token_row(member).revoked_at is not None:
        member.token = do_issue_token(user=member.user, actor=Actor.system(), days=30).raw


def _error_body_problem(case: Any, response: Any) -> str | None:
    """What is wrong with a 4xx answer's body, which must be the API's JSON error (governance.web.api.errors)."""
    if not 400 <= response.status_code < 500:
        return None
    if (case.query or {}).get("format") not in (None, "json"):
        return None  # ?format=csv, pdf or note: the view's own renderer answers an error as a line of text
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.content[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if set(body) != {"error"} or not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
        return f"not the API's error body: {str(body)[:300]}"
    return None


def _call_and_validate(case: Any, member: Member, answers: dict[str, Counter[int]]) -> None:
    headers = {"Authorization": f"Bearer {member.token}"}
    response = case.call(headers=headers)
    answers[case.operation.label][response.status_code] += 1
    if case.method == "DELETE" and case.path == "/api/v1/tokens/{id}/":
        _renew_if_revoked(member)
    case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs={"headers": headers})
    problem = _error_body_problem(case, response)
    assert problem is None, f"{case.method} {case.formatted_path} answered {response.status_code}, {problem}"


SETTINGS = settings(
    max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_the_api_keeps_its_schemas_promises(api_schema: Any, member: Member) -> None:
    """Every operation, as ``member``: each one's failures (shrunk by hypothesis, with a curl line to reproduce) are
    collected, so one run names them all.

    The operations are driven here rather than by ``schemathesis.pytest.from_fixture``, whose lazy mode sets
    ``Function._nodeid``, which pytest 9 no longer has; the phases, strategies and checks are schemathesis's own.
    """
    failures: list[str] = []
    answers: dict[str, Counter[int]] = defaultdict(Counter)
    operations = 0
    tests = get_all_tests(schema=api_schema, test_func=_call_and_validate, settings=SETTINGS, given_kwargs={})
    for result in tests:
        operation, run = result.ok()
        operations += 1
        try:
            with one_connection():
                run(member=member, answers=answers)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup, or an error of the application
            failures.append(f"{operation.label}: {exc}")
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    assert operations == sum(1 for path in api_schema.raw_schema["paths"].values() for name in path if name in methods)
    requests = sum(sum(counts.values()) for counts in answers.values())
    succeeded = sorted(label for label, counts in answers.items() if any(200 <= code < 300 for code in counts))
    print(f"{operations} operations, {requests} requests, {len(succeeded)} operations answered 2xx at least once")
    # The world is reached: most operations answer 2xx at least once (the rest refuse this role, or need objects,
    # such as audit runs and reports, that the world does not build).
    assert len(succeeded) >= MIN_OPERATIONS_SUCCEEDED[member.user.username], succeeded
    assert not failures, f"{len(failures)} of {operations} operations broke the schema's promises:\n\n" + "\n\n".join(
        failures
    )
