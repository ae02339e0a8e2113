"""The API reference can drive the main flows (issue 19): every operation of the OpenAPI schema has a tag from the
declared areas, a summary in words, the error responses it can give (each the API's one error body), file fields
for uploads, and the main flows have examples that work.

The schema is checked as OpenAPI 3 by openapi-spec-validator, which is independent of drf-spectacular (which writes
it). Beyond the schema's text, the documented errors are held to what the API answers: every operation is called
anonymously, with ids that do not exist and with a malformed body, and each answer's status must be one its operation
documents, with a body that validates against the schema's ``Error``. The examples are sent to the API and do what
they say.

A new endpoint fails here until it is documented; each failure says what to add, and where.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec
from rest_framework.parsers import MultiPartParser
from rest_framework.test import APIClient
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from governance.api.openapi_reference import EXAMPLES, OPERATIONS, RESPONSE_EXAMPLES, TAGS
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import RegisteredModel
from tests.api import Endpoint, drf_endpoints
from tests.conftest import Cast
from tests.registry.conftest import register_model

METHODS = ("get", "post", "put", "patch", "delete")
BODY_METHODS = ("post", "put", "patch")
REFERENCE = "governance/api/openapi_reference.py"
TAG_NAMES = [area.name for area in TAGS]
ERROR_REF = "#/components/schemas/Error"
# The main flows: each has at least one example request body.
MAIN_FLOWS = [
    "POST /api/v1/models/",
    "POST /api/v1/models/{name}/versions/",
    "POST /api/v1/audits/",
    "POST /api/v1/gates/check",
]
# Uploads and the binary field each one reads.
UPLOADS = {
    "POST /api/v1/models/{name}/versions/": "artifact",
    "POST /api/v1/datasets/{name}/versions/": "file",
    "POST /api/v1/consent/events/bulk": "file",
    "POST /api/v1/models/{name}/versions/{number}/batches/": "file",
    "POST /api/v1/models/{name}/versions/{number}/batches/{batch}/labels": "file",
}
FILE_REQUEST = (
    "{'multipart/form-data': {'type': 'object', 'properties': {'file': {'type': 'string', 'format': 'binary'}}}}"
)


@functools.cache
def reference() -> dict[str, Any]:
    """The schema as drf-spectacular generates it, as plain JSON."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@functools.cache
def views() -> dict[str, Endpoint]:
    """The endpoint (and view class) of each path, as the schema spells it."""
    return {endpoint.openapi_path: endpoint for endpoint in drf_endpoints()}


def where(method: str, path: str) -> str:
    """The view method an operation runs, for failure messages."""
    endpoint = views().get(path)
    view = endpoint.view if endpoint is not None else None
    return f"{view.__module__}.{view.__qualname__}.{method.lower()}" if view is not None else "its view"


def test_the_schema_is_valid_openapi_3() -> None:
    schema = reference()
    assert schema["openapi"].startswith("3.")
    validate_spec(schema)  # raises OpenAPIValidationError naming the path of the first problem
    assert len(operations(schema)) >= 116  # measured when this test was written; endpoints are only added


def test_every_operation_has_one_tag_from_the_declared_areas() -> None:
    schema = reference()
    assert [tag["name"] for tag in schema["tags"]] == TAG_NAMES
    assert all(tag["description"].strip() for tag in schema["tags"])
    problems = [
        f"{method} {path} has tags {operation.get('tags')}: add a rule for its path to AREAS in {REFERENCE}, or "
        f"@extend_schema(tags=[<one of {TAG_NAMES}>]) on {where(method, path)}"
        for method, path, operation in operations(schema)
        if len(operation.get("tags", [])) != 1 or operation["tags"][0] not in TAG_NAMES
    ]
    assert not problems, "\n".join(problems)
    used = {operation["tags"][0] for _, _, operation in operations(schema)}
    assert used == set(TAG_NAMES), f"declared areas with no operation: {set(TAG_NAMES) - used}"


def test_the_reference_tables_name_only_operations_that_exist() -> None:
    """An entry left behind by a renamed or removed endpoint would document nothing (and hide nothing)."""
    keys = {f"{method} {path}" for method, path, _ in operations(reference())}
    stale = sorted((set(OPERATIONS) | set(EXAMPLES) | set(RESPONSE_EXAMPLES)) - keys)
    assert not stale, f"entries in {REFERENCE} for operations that do not exist: {stale}"


def _summary_problem(summary: str, operation: dict[str, Any], view_method: str) -> str | None:
    """What keeps ``summary`` from being a summary in words, or None."""
    if not summary.strip():
        return "none"
    if summary == operation["operationId"] or re.fullmatch(r"[\w.]+", summary):
        return f"{summary!r} is a name, not words"
    if summary.lower() in view_method.lower():
        return f"{summary!r} is the function's name"
    if not (summary[0].isupper() and len(summary.split()) >= 2 and len(summary) <= 80 and not summary.endswith(".")):
        return f"{summary!r}: begin with a capital, use two to a few words (at most 80 characters), no final period"
    return None


def test_every_operation_has_a_summary_in_words() -> None:
    problems, seen = [], {}
    for method, path, operation in operations(reference()):
        summary = operation.get("summary", "")
        problem = _summary_problem(summary, operation, where(method, path))
        if problem is None and summary in seen:
            problem = f"{summary!r} is also {seen[summary]}'s: say how this one differs"
        seen.setdefault(summary, f"{method} {path}")
        if problem:
            problems.append(
                f"{method} {path}: summary {problem}. Add @extend_schema(summary='Verb the thing') to "
                f"{where(method, path)}, or a line to OPERATIONS in {REFERENCE}"
            )
    assert not problems, "\n".join(problems)


def _expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[str]:
    """The statuses every operation of this shape can answer (the view may add more)."""
    expected = {"401", "403", "429"}
    parameters = operation.get("parameters", [])
    if any(parameter["in"] == "path" for parameter in parameters) or any(
        parameter["in"] == "query" and parameter["name"] == "page" for parameter in parameters
    ):
        expected.add("404")
    if method.lower() in BODY_METHODS and operation.get("requestBody", {}).get("content"):
        expected |= {"400", "413", "415", "422"}
    return expected


def test_every_operation_documents_its_error_responses_with_the_error_body() -> None:
    problems = []
    for method, path, operation in operations(reference()):
        responses = operation["responses"]
        missing = sorted(_expected_errors(method, path, operation) - set(responses))
        if missing:
            problems.append(f"{method} {path} does not document {', '.join(missing)}")
        for status, response in responses.items():
            if not status.startswith("4") or status == "412":  # the gate's 412 is its decision, not an error
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != ERROR_REF or not response.get("description", "").strip():
                problems.append(
                    f"{method} {path}: {status} does not say when, with the error body ({ERROR_REF}): declare "
                    f"{status}: OpenApiResponse(description='When ...') in @extend_schema on {where(method, path)}, "
                    f"or add it to the operation in OPERATIONS in {REFERENCE}"
                )
    assert not problems, "\n".join(problems)


def _binary_fields(content: dict[str, Any]) -> set[str]:
    properties = content.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
    return {name for name, field in properties.items() if field.get("format") == "binary"}


def test_uploads_declare_their_binary_file_fields() -> None:
    schema = reference()
    found = {f"{method} {path}": operation for method, path, operation in operations(schema)}
    for key, field in UPLOADS.items():
        assert field in _binary_fields(found[key]["requestBody"]["content"]), key
    problems = []
    for method, path, operation in operations(schema):
        endpoint = views().get(path)
        reads_files = endpoint is not None and any(
            issubclass(parser, MultiPartParser) for parser in endpoint.view.parser_classes
        )
        if method.lower() in BODY_METHODS and reads_files:
            content = operation.get("requestBody", {}).get("content", {})
            if not _binary_fields(content):
                problems.append(
                    f"{method} {path} reads multipart but declares no file: add @extend_schema(request="
                    + FILE_REQUEST
                    + f") to {where(method, path)}"
                )
    assert not problems, "\n".join(problems)


def _validator(schema: dict[str, Any], media: dict[str, Any]) -> OAS30Validator:
    """A validator for one media type's schema, resolving ``#/components/...`` against the whole document."""
    return OAS30Validator({**media["schema"], "components": schema["components"]})


def test_the_main_flows_have_examples_that_fit_their_schemas() -> None:
    schema = reference()
    found = {f"{method} {path}": operation for method, path, operation in operations(schema)}
    assert sorted(EXAMPLES) == sorted(MAIN_FLOWS)
    for key in MAIN_FLOWS:
        content = found[key]["requestBody"]["content"]
        examples = [(media, example) for media in content for example in content[media].get("examples", {}).values()]
        assert examples, f"{key} has no example"
        for media, example in examples:
            errors = list(_validator(schema, content[media]).iter_errors(example["value"]))
            assert not errors, f"{key} ({media}) {example['summary']}: {errors[0].message}"
    # The multipart example's metadata is itself a VersionMetadata object.
    upload = found["POST /api/v1/models/{name}/versions/"]["requestBody"]["content"]
    metadata = json.loads(upload["multipart/form-data"]["examples"]["onnx_artifact"]["value"]["metadata"])
    assert not list(_validator(schema, upload["application/json"]).iter_errors(metadata))


# --- what the API answers is what the reference says ------------------------------------------------------------

# A value for each path parameter that names nothing.
_NOTHING = {"name": "no-such-thing", "slug": "no-such-team", "pseudonym": "0" * 64, "run_id": str(uuid.UUID(int=7))}


def _nowhere(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: _NOTHING.get(match.group(1), "999999"), path)


def _check_answer(schema: dict[str, Any], method: str, path: str, response: Any, *, what: str) -> str | None:
    """What is wrong with ``response`` to the operation: a status it does not document, or not the error body."""
    documented = schema["paths"][path][method.lower()]["responses"]
    status = str(response.status_code)
    if status not in documented:
        return f"{what}: {method} {path} answered {status}, which it does not document ({sorted(documented)})"
    if status.startswith("4") and status != "412":
        body = response.json()
        error_schema = {"$ref": ERROR_REF, "components": schema["components"]}
        errors = list(OAS30Validator(error_schema).iter_errors(body))
        if errors:
            return f"{what}: {method} {path} answered {status} with {body}: {errors[0].message}"
    return None


@pytest.mark.django_db
def test_bad_requests_get_documented_answers_with_the_error_body(cast: Cast) -> None:
    response = cast.officer.client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["paths"] == reference()["paths"]  # what is served is what the tests above read
    anonymous, officer, answers = APIClient(), cast.officer.client(), []
    for method, path, operation in operations(schema):
        url = _nowhere(path)
        answers.append((method, path, anonymous.generic(method, url), "anonymous"))
        if "{" in path:
            answers.append((method, path, officer.generic(method, url), "nothing there"))
        if method.lower() in BODY_METHODS and operation.get("requestBody", {}).get("content"):
            response = officer.generic(method, url, b'{"not": json', content_type="application/json")
            answers.append((method, path, response, "malformed JSON"))
    problems = [problem for answer in answers if (problem := _check_answer(schema, *answer[:3], what=answer[3]))]
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_the_register_and_upload_examples_do_what_they_say(cast: Cast) -> None:
    """The register-model example registers a high-risk model; the upload examples register versions of it, one
    with a real ONNX artifact in the documented ``artifact`` field."""
    owner = cast.owner.client()
    ((_, register),) = EXAMPLES["POST /api/v1/models/"]["application/json"].values()
    response = owner.post("/api/v1/models/", register, format="json")
    assert response.status_code == 201, response.content
    assert RegisteredModel.objects.get(name=register["name"]).risk_tier == "high"

    versions = f"/api/v1/models/{register['name']}/versions/"
    ((_, predictions_only),) = EXAMPLES["POST /api/v1/models/{name}/versions/"]["application/json"].values()
    response = owner.post(versions, predictions_only, format="json")
    assert response.status_code == 201, response.content

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    artifact = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()
    ((_, form),) = EXAMPLES["POST /api/v1/models/{name}/versions/"]["multipart/form-data"].values()
    upload = SimpleUploadedFile("model.onnx", artifact, content_type="application/octet-stream")
    response = owner.post(versions, {**form, "artifact": upload}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["framework"]) == (2, "onnx")
    assert body["code_commit"] == json.loads(form["metadata"])["code_commit"]


@pytest.mark.django_db
def test_the_gate_examples_have_the_gates_answer(cast: Cast) -> None:
    """The gate's documented answers have exactly the fields of a real one, and the decision their status means."""
    model = register_model(cast, "high")
    registry.do_register_version(
        model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user), metrics={"auc": 0.8}
    )
    response = cast.ci.client().post(
        "/api/v1/gates/check", {"model": model.name, "version": 1, "environment": "production"}, format="json"
    )
    assert response.status_code == 412, response.content  # a draft: not a pass
    documented = reference()["paths"]["/api/v1/gates/check"]["post"]["responses"]
    for status, decisions in (("200", {"pass"}), ("412", {"fail", "insufficient_evidence", "pending_approval"})):
        for example in documented[status]["content"]["application/json"]["examples"].values():
            assert set(example["value"]) == set(response.json()), example["summary"]
            assert example["value"]["decision"] in decisions
