"""Registry API: models, versions (with artifact upload), lifecycle transitions, model cards, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access.permissions import caller
from governance.access.scoping import get_visible_or_404
from governance.data.api.views import LINEAGE_DEPTH, _lineage_params
from governance.data.lineage import graph_as_json, prov_json, traverse
from governance.trail.log import Actor
from governance.web.api.fields import callers_team, parse_aware_datetime, validated
from governance.web.api.parsers import SafeJSONParser, check_json_value
from registry import actions, risk
from registry.access import access_model, access_version, models_visible_to, webhooks_of
from registry.api.serializers import (
    DeliverySerializer,
    DeploySerializer,
    FindingResolveSerializer,
    FindingSerializer,
    HistorySerializer,
    ModelCardSerializer,
    ModelCreateSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
    ReasonSerializer,
    RetireSerializer,
    RiskChangeSerializer,
    VersionMetadataSerializer,
    VersionSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
)
from registry.history import deployed_as_of
from registry.models import Finding, ModelVersion, Webhook, WebhookDelivery


class ModelList(generics.ListAPIView):
    """Registered models you may see; POST registers one (risk tier from the questionnaire)."""

    required_scopes = {"GET": "models:read", "POST": "models:write"}
    serializer_class = ModelSerializer

    def get_queryset(self) -> Any:
        queryset = models_visible_to(self.request.user)
        for field in ("risk_tier",):
            if self.request.query_params.get(field):
                queryset = queryset.filter(**{field: self.request.query_params[field]})
        if self.request.query_params.get("team"):
            queryset = queryset.filter(team__slug=self.request.query_params["team"])
        return queryset

    @extend_schema(request=ModelCreateSerializer, responses={201: ModelSerializer})
    def post(self, request: Request) -> Response:
        data = validated(ModelCreateSerializer, request.data)
        team = callers_team(caller(request), data.pop("team"))
        model = actions.do_register_model(user=caller(request), actor=Actor.from_request(request), team=team, **data)
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetail(APIView):
    required_scopes = {"GET": "models:read", "PATCH": "models:write"}

    @extend_schema(responses=ModelSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ModelSerializer(access_model(request.user, name, request)).data)

    @extend_schema(request=ModelUpdateSerializer, responses=ModelSerializer)
    def patch(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        changes = validated(ModelUpdateSerializer, request.data)
        model = actions.do_update_model(
            model=model, user=caller(request), actor=Actor.from_request(request), changes=changes
        )
        return Response(ModelSerializer(model).data)


class ModelRisk(APIView):
    """Re-classify a model (officers), with the new questionnaire answers and a reason."""

    required_scopes = {"POST": "models:classify"}

    @extend_schema(request=RiskChangeSerializer, responses=ModelSerializer)
    def post(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        data = validated(RiskChangeSerializer, request.data)
        model = actions.do_change_risk(model=model, user=caller(request), actor=Actor.from_request(request), **data)
        return Response(ModelSerializer(model).data)


class RiskQuestionnaire(APIView):
    """The risk questionnaire: its questions in the Act's order, each option with the provision it quotes."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(risk.questionnaire())


class ModelHistory(APIView):
    """Which version was live in each environment at ``as_of`` (default: now), with its approvals."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(
        parameters=[OpenApiParameter("as_of", str, description="ISO 8601 time with timezone")],
        responses=HistorySerializer,
    )
    def get(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        raw = request.query_params.get("as_of")
        as_of = timezone.now() if not raw else parse_aware_datetime(raw, field="as_of")
        return Response(deployed_as_of(model, as_of))


class VersionList(generics.ListAPIView):
    """A model's versions; POST registers the next one: multipart ``artifact`` (ONNX or skops) and ``metadata``
    (a JSON string), or a JSON body for a predictions-only version."""

    required_scopes = {"GET": "models:read", "POST": "models:write"}
    serializer_class = VersionSerializer
    parser_classes = [MultiPartParser, SafeJSONParser]
    max_body_setting = "ARTIFACT_MAX_BYTES"

    def get_queryset(self) -> Any:
        model = access_model(self.request.user, self.kwargs["name"], self.request)
        return ModelVersion.objects.filter(model=model).select_related(
            "model", "created_by", "submitted_by", "signature_record"
        )

    @extend_schema(
        request={
            "application/json": VersionMetadataSerializer,
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "artifact": {"type": "string", "format": "binary", "description": "ONNX or skops model file."},
                    "metadata": {"type": "string", "description": "The VersionMetadata object, as a JSON string."},
                    "signature": {
                        "type": "string",
                        "format": "binary",
                        "description": "An OpenSSF model signature of the artifact (model-signing's Sigstore bundle, "
                        "key or certificate), verified on upload (docs/supply-chain.md).",
                    },
                },
            },
        },
        responses={201: VersionSerializer},
    )
    def post(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        upload = request.FILES.get("artifact")
        data: Any = request.data
        # Multipart: the metadata is a JSON string in the "metadata" field; a JSON body is the metadata itself.
        is_form = upload is not None or (hasattr(data, "getlist") and "metadata" in data)
        if hasattr(data, "getlist") and not is_form:
            # A form with neither field (or a body that is no form at all) registers nothing: refused, not read as {}.
            raise ValidationError({"metadata": ["Send the artifact file, the metadata JSON string, or both."]})
        raw_metadata: Any = data.get("metadata", "{}") if is_form else data
        if isinstance(raw_metadata, str):
            try:
                raw_metadata = json.loads(raw_metadata or "{}")
            except json.JSONDecodeError as exc:
                raise ValidationError({"metadata": [f"Not valid JSON: {exc.msg} (line {exc.lineno})."]}) from None
            except RecursionError:
                raise ValidationError({"metadata": ["The JSON is nested too deeply."]}) from None
            check_json_value(raw_metadata, where="metadata")
        metadata = validated(VersionMetadataSerializer, raw_metadata)
        artifact_path = None
        if upload is not None:
            # TemporaryFileUploadHandler is the only handler: every upload is on disk, streamed, never in memory.
            artifact_path = Path(upload.temporary_file_path())
        version = actions.do_register_version(
            model=model,
            user=caller(request),
            actor=Actor.from_request(request),
            artifact_path=artifact_path,
            artifact_name=upload.name if upload is not None else "",
            signature_path=Path(signed.temporary_file_path()) if (signed := request.FILES.get("signature")) else None,
            **metadata,
        )
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetail(APIView):
    required_scopes = {"GET": "models:read"}

    @extend_schema(responses=VersionSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(VersionSerializer(access_version(request.user, name, number, request)).data)


class ModelCard(APIView):
    """A version's model card; PUT replaces the given sections (while draft or submitted)."""

    required_scopes = {"GET": "models:read", "PUT": "models:write"}

    @extend_schema(responses=ModelCardSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(access_version(request.user, name, number, request).model_card)

    @extend_schema(request=ModelCardSerializer, responses=ModelCardSerializer)
    def put(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        card = validated(ModelCardSerializer, request.data)
        version = actions.do_edit_model_card(
            version=version, user=caller(request), actor=Actor.from_request(request), card=card
        )
        return Response(version.model_card)


class _Transition(APIView):
    """POST one lifecycle transition; the action enforces the state machine and separation of duties."""

    serializer_class: type = ReasonSerializer
    action_name = ""

    def post(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        # An empty body parses as {}; a body that is not an object ([] or false) is refused, not taken as {}.
        data = validated(self.serializer_class, request.data)
        action = getattr(actions, f"do_{self.action_name}")
        action(version=version, user=caller(request), actor=Actor.from_request(request), **data)
        version.refresh_from_db()  # actions return different things (deploy: a deployment); show the version
        return Response(VersionSerializer(version).data)


def _transition(action_name: str, scope: str, serializer: type, doc: str) -> type[_Transition]:
    # A post of each view's own: extend_schema annotates the function it is given, and annotating the shared
    # _Transition.post documented every transition with the last one's request (retire's).
    @extend_schema(request=serializer, responses=VersionSerializer)
    def post(self: _Transition, request: Request, name: str, number: int) -> Response:
        return _Transition.post(self, request, name, number)

    return type(
        f"{action_name.title()}Version",
        (_Transition,),
        {
            "required_scopes": {"POST": scope},
            "serializer_class": serializer,
            "action_name": action_name,
            "__doc__": doc,
            "post": post,
        },
    )


SubmitVersion = _transition("submit", "models:write", ReasonSerializer, "Submit a draft for review.")
ApproveVersion = _transition("approve", "models:approve", ReasonSerializer, "Approve a submitted version.")
RejectVersion = _transition(
    "reject", "models:approve", ReasonSerializer, "Reject a submitted version (reason required)."
)
DeployVersion = _transition(
    "deploy", "models:deploy", DeploySerializer, "Deploy an approved version to an environment."
)
RetireVersion = _transition("retire", "models:deploy", RetireSerializer, "Retire a deployed version (reason required).")


def _webhooks_of(request: Request, name: str) -> Any:
    return webhooks_of(request.user, access_model(request.user, name, request))


class WebhookList(generics.ListAPIView):
    """A model's webhooks; POST adds one and answers its signing secret, once."""

    required_scopes = {"GET": "models:read", "POST": "models:write"}
    serializer_class = WebhookSerializer

    def get_queryset(self) -> Any:
        return _webhooks_of(self.request, self.kwargs["name"])

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookSerializer})
    def post(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        data = validated(WebhookCreateSerializer, request.data)
        webhook, secret = actions.do_add_webhook(
            model=model, user=caller(request), actor=Actor.from_request(request), url=data["url"]
        )
        return Response({**WebhookSerializer(webhook).data, "secret": secret}, status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    required_scopes = {"GET": "models:read", "DELETE": "models:write"}

    def _get(self, request: Request, name: str, pk: int) -> Webhook:
        return get_visible_or_404(_webhooks_of(request, name), request.user, request, within_visible_parent=True, pk=pk)

    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, name: str, pk: int) -> Response:
        return Response(WebhookSerializer(self._get(request, name, pk)).data)

    @extend_schema(request=None, responses={200: WebhookSerializer})
    def delete(self, request: Request, name: str, pk: int) -> Response:
        webhook = actions.do_remove_webhook(
            webhook=self._get(request, name, pk), user=caller(request), actor=Actor.from_request(request)
        )
        return Response(WebhookSerializer(webhook).data)


class DeliveryList(generics.ListAPIView):
    """Every delivery to one webhook, newest first, with attempts and outcomes."""

    required_scopes = {"GET": "models:read"}
    serializer_class = DeliverySerializer

    def get_queryset(self) -> Any:
        webhook = get_visible_or_404(
            _webhooks_of(self.request, self.kwargs["name"]),
            self.request.user,
            self.request,
            within_visible_parent=True,
            pk=self.kwargs["pk"],
        )
        return WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")


class VersionLineage(APIView):
    """What a model version was trained from, to any depth (upstream), or what was made from it (downstream)."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("direction", str, enum=["upstream", "downstream"], description="Default: upstream."),
            OpenApiParameter("depth", LINEAGE_DEPTH, description="How many runs deep (default, or empty: all)."),
        ],
        responses=dict,
    )
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        direction, depth = _lineage_params(request)
        return Response(graph_as_json(traverse(version, direction=direction, max_depth=depth), user=request.user))


class VersionProv(APIView):
    """A model version's full upstream lineage as a W3C PROV-JSON document."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses=dict)
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        response = Response(prov_json(version, user=request.user, namespace_uri=settings.PROV_NAMESPACE_URI))
        response["Content-Disposition"] = f'inline; filename="{name}-v{number}.prov.json"'
        return response


class FindingList(generics.ListAPIView):
    """Findings on a version (``status=open`` for the open ones), newest first."""

    required_scopes = {"GET": "models:read"}
    serializer_class = FindingSerializer

    def get_queryset(self) -> Any:
        version = access_version(self.request.user, self.kwargs["name"], self.kwargs["number"], self.request)
        queryset = Finding.objects.filter(version=version).select_related("version__model", "resolved_by")
        if self.request.query_params.get("status"):
            queryset = queryset.filter(status=self.request.query_params["status"])
        return queryset


class ResolveFinding(APIView):
    """Resolve an open finding: retrain, accept (with a reason) or retire the version."""

    required_scopes = {"POST": "findings:resolve"}

    @extend_schema(request=FindingResolveSerializer, responses=FindingSerializer)
    def post(self, request: Request, name: str, number: int, pk: int) -> Response:
        version = access_version(request.user, name, number, request)
        finding = get_visible_or_404(
            Finding.objects.filter(version=version), request.user, request, within_visible_parent=True, pk=pk
        )
        data = validated(FindingResolveSerializer, request.data)
        finding = actions.do_resolve_finding(
            finding=finding, user=caller(request), actor=Actor.from_request(request), **data
        )
        return Response(FindingSerializer(finding).data)
