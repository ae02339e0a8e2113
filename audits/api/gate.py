"""The approval gate over HTTP: one POST from any pipeline; 200 only for a pass, 412 for every other decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.api.serializers import ColumnRolesSerializer
from audits.gate import reads
from audits.gate.decisions import PASS, GateDecision, decide
from audits.gate.proofs import NotCovered, decision_event, decision_proof
from governance.access.permissions import caller
from governance.access.throttling import GateThrottle
from governance.data.access import access_dataset, datasets_visible_to
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.web.api.errors import error_body
from governance.web.api.fields import StrictSerializer, validated
from registry.access import access_model, models_visible_to
from registry.models import Environment, ModelVersion

CLIENT = Path(__file__).resolve().parents[1] / "gate" / "client.py"
# The programs a pipeline downloads beside the client to verify a decision against the witnesses (docs/gate.md).
PROGRAMS = {
    "client.py": CLIENT,
    "decision_proof.py": CLIENT.with_name("decision_proof.py"),
    "verifier.py": Path(__file__).resolve().parents[2] / "governance" / "trail" / "verifier.py",
}


class GateCheckSerializer(StrictSerializer):
    model = serializers.SlugField(max_length=100)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    artifact_sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, allow_blank=True, default="")
    environment = serializers.CharField(max_length=32)
    dataset = serializers.SlugField(max_length=100, required=False, allow_blank=True, default="")
    dataset_version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    policy = serializers.SlugField(max_length=64, required=False, allow_blank=True, default="")
    column_roles = ColumnRolesSerializer(required=False, allow_null=True, default=None)
    wait_seconds = serializers.FloatField(min_value=0, max_value=3600, required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["version"] is None and not attrs["artifact_sha256"]:
            raise serializers.ValidationError({"version": ["Give the version number or the artifact_sha256."]})
        if bool(attrs["dataset"]) != (attrs["dataset_version"] is not None):
            raise serializers.ValidationError({"dataset": ["Give both dataset and dataset_version, or neither."]})
        if attrs["column_roles"] and not attrs["dataset"]:
            # Roles say how to read an evaluation dataset: without one they would be silently ignored.
            raise serializers.ValidationError(
                {"column_roles": ["column_roles describe an evaluation dataset: give dataset and dataset_version too."]}
            )
        if attrs["environment"] not in Environment.values:
            raise serializers.ValidationError(
                {"environment": [f"Unknown environment {attrs['environment']!r}; use {', '.join(Environment.values)}."]}
            )
        return attrs


def _not_found(message: str, names: list[str]) -> Response:
    return Response(error_body("not_found", message, {"known": names}), status=status.HTTP_404_NOT_FOUND)


# What a decision reads of the version and its model; the rest (model card, schemas, metrics: JSON that can be
# large) is loaded only if a slow path (starting an audit) touches it.
_DECISION_FIELDS = (
    "id",
    "model_id",
    "number",
    "state",
    "framework",
    "artifact_sha256",
    "model__id",
    "model__name",
    "model__team_id",
    "model__risk_tier",
)


def _version(request: Request, data: dict[str, Any]) -> ModelVersion | Response:
    """The version asked about, through the caller's scope; a miss names what exists for this caller."""
    # The usual question (a model the token sees, a version that exists) costs one query, hand-written for the
    # callers whose scope reads.visible_version computes; a miss costs more, to name what exists.
    found = reads.visible_version(
        request.user, model=data["model"], number=data["version"], artifact_sha256=data["artifact_sha256"]
    )
    if found is not None and found is not reads.SCOPED_ELSEWHERE:
        return found
    versions = (
        ModelVersion.objects.filter(model__in=models_visible_to(request.user).filter(name=data["model"]))
        .select_related("model")
        .only(*_DECISION_FIELDS)
    )
    if data["version"] is not None:
        versions = versions.filter(number=data["version"])
    if data["artifact_sha256"]:
        versions = versions.filter(artifact_sha256=data["artifact_sha256"])
    found = versions.order_by("-number").first()
    if found is not None:
        return found
    try:
        model = access_model(request.user, data["model"], request)  # records a reach outside the caller's scope
    except Http404:
        names = sorted(models_visible_to(request.user).values_list("name", flat=True))[:100]
        return _not_found(f"No model named {data['model']!r} that this token can see.", names)
    numbers = [str(n) for n in ModelVersion.objects.filter(model=model).values_list("number", flat=True)]
    what = f"no version {data['version']}" if data["version"] is not None else "no version"
    if data["artifact_sha256"]:
        what += f" with artifact sha256 {data['artifact_sha256']}"
    return _not_found(f"{model.name} has {what}.", numbers)


def _dataset_version(request: Request, data: dict[str, Any]) -> Any:
    """The evaluation dataset version asked for, through the caller's scope; a miss names what exists for this
    caller (the datasets it can see, or the dataset's version numbers)."""
    try:
        dataset = access_dataset(request.user, data["dataset"], request)  # records a reach outside the scope
    except Http404:
        names = sorted(datasets_visible_to(request.user).values_list("name", flat=True))[:100]
        return _not_found(f"No dataset named {data['dataset']!r} that this token can see.", names)
    found = DatasetVersion.objects.filter(dataset=dataset, number=data["dataset_version"]).select_related("dataset")
    version = found.first()
    if version is None:
        numbers = [str(n) for n in DatasetVersion.objects.filter(dataset=dataset).values_list("number", flat=True)]
        return _not_found(f"{dataset.name} has no version {data['dataset_version']}.", numbers)
    return version


def _body(result: GateDecision) -> dict[str, Any]:
    version, run = result.version, result.run
    findings_url = f"/api/v1/models/{version.model.name}/versions/{version.number}/findings/"
    body = {
        "decision": result.decision,
        "reasons": result.reasons,
        "model": version.model.name,
        "version": version.number,
        "artifact_sha256": version.artifact_sha256 or None,
        "environment": result.environment,
        "policy": (
            {"name": result.policy_version.policy.name, "version": result.policy_version.number}
            if result.policy_version
            else None
        ),
        "audit": (
            {
                "id": run.pk,
                "status": run.status,
                "verdict": run.verdict or None,
                "url": f"/api/v1/audits/{run.pk}/",
                "results_sha256": run.results_sha256 or None,
            }
            if run
            else None
        ),
        "approvers": result.approvers,
        "open_findings": [
            {**finding, "resolve_url": f"{findings_url}{finding['id']}/resolve"} for finding in result.open_findings
        ],
        "findings_url": findings_url,
        "group_facts": result.group_facts,
        # The policy's criteria over imported evidence, as the audit judged them (docs/evidence.md).
        "imported_evidence": result.imported_evidence,
        "token": result.token or None,
        # The decision's id (its trail event); its proof against the witnessed trail: docs/gate.md.
        "decision_id": result.seq,
        "proof_url": f"/api/v1/gates/decisions/{result.seq}/proof" if result.seq is not None else None,
    }
    if result.queued is not None:
        # Batched sequencing: the decision is recorded (its event committed to the trail's queue) but has no place
        # in the trail yet, so no id and nothing to prove; the URL answers 202 until the sequencer gives it one, then
        # its seq (the decision_id) and inclusion proof.
        body["trail"] = {
            "state": "queued",
            "queued": result.queued,
            "url": f"/api/v1/trail/proofs/inclusion?queued={result.queued}",
        }
    return body


class GateCheck(APIView):
    """Ask the gate for a decision on one version (by number or artifact sha256) and environment. Runs the audit
    the risk tier requires when an evaluation dataset is given and no audit of these inputs exists. 200 only for
    ``pass`` (with a signed decision token); 412 with the same body for every other decision.

    The decision is recorded in the trail before the answer. ``decision_id`` is its trail event's seq, and
    ``proof_url`` proves it once a checkpoint covers it. With ``TRAIL_SEQUENCING=batched`` the answer comes once
    the event is committed to the trail's queue, before it has a place in the trail: ``decision_id`` and
    ``proof_url`` are then null, and ``trail`` says ``{"state": "queued", "queued": <queue id>, "url":
    "/api/v1/trail/proofs/inclusion?queued=<queue id>"}``: that URL answers 202 until the sequencer places the
    decision, then its seq (the decision's id) and inclusion proof. Until then the decision is recorded but not
    provable; the token verifies at once (docs/gate.md)."""

    required_scopes = {"POST": "gates:check"}
    throttle_classes = [GateThrottle]

    @extend_schema(request=GateCheckSerializer, responses={200: dict, 412: dict})
    def post(self, request: Request) -> Response:
        data = validated(GateCheckSerializer, request.data)
        found = _version(request, data)
        if isinstance(found, Response):
            return found
        dataset_version = None
        if data["dataset"]:
            dataset_version = _dataset_version(request, data)
            if isinstance(dataset_version, Response):
                return dataset_version
        result = decide(
            user=caller(request),
            actor=Actor.from_request(request),
            version=found,
            environment=data["environment"],
            dataset_version=dataset_version,
            policy=data["policy"],
            column_roles=data["column_roles"],
            wait_seconds=data["wait_seconds"],
        )
        code = status.HTTP_200_OK if result.decision == PASS else status.HTTP_412_PRECONDITION_FAILED
        return Response(_body(result), status=code)


class GateDecisionProof(APIView):
    """The proof of gate decision ``seq`` (its trail event, inclusion proof and a checkpoint with the witnesses'
    cosignatures, ``assay-gate-proof/1``). 404 for a decision that does not exist or whose model the token cannot
    see; 409 ``not_checkpointed`` while no checkpoint covers it, with ``Retry-After`` and whether to wait."""

    required_scopes = {"GET": "gates:check"}
    throttle_classes = [GateThrottle]

    @extend_schema(responses={200: dict, 404: dict, 409: dict})
    def get(self, request: Request, seq: int) -> Response:
        event = decision_event(request.user, seq, request)
        proof = decision_proof(event)
        if isinstance(proof, NotCovered):
            return Response(
                error_body("not_checkpointed", proof.message(), proof.details()),
                status=status.HTTP_409_CONFLICT,
                headers={"Retry-After": str(proof.retry_after_seconds)} if proof.retry_after_seconds else None,
            )
        return Response(proof)


class GateClient(APIView):
    """The gate's programs for pipelines: ``client.py``, a small stdlib-only client (exit code 0 pass, 1 fail, 2
    insufficient evidence, 3 pending or error), and ``decision_proof.py`` with ``verifier.py``, which verify a
    decision against the witnesses (they need the ``cryptography`` package)."""

    required_scopes = {"GET": "meta:read"}

    @extend_schema(responses={200: str})
    def get(self, request: Request, name: str = "client.py") -> Any:
        path = PROGRAMS.get(name)
        if path is None or not path.exists():
            raise Http404
        response = HttpResponse(path.read_bytes(), content_type="text/x-python; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
