"""Evidence imports API, served under the registry's API namespace (``registry.hooks.API_ROUTES``):

GET  /api/v1/models/{name}/versions/{n}/evidence/          the version's imported files, newest first
POST /api/v1/models/{name}/versions/{n}/evidence/          multipart: file, tool (optional: recognised),
                                                           tool_version (optional: stated by the uploader)
GET  /api/v1/models/{name}/versions/{n}/evidence/{id}/     one file: its measurements, normalised
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.evidence.actions import do_import_evidence
from audits.evidence.formats import TOOLS
from audits.evidence.models import EvidenceImport, EvidenceMeasurement
from governance.access.permissions import caller
from governance.access.scoping import get_visible_or_404
from governance.trail.log import Actor
from governance.web.api.fields import StrictSerializer, validated
from governance.web.api.parsers import SafeJSONParser
from registry.access import access_version

_TAGS = ["versions"]


class MeasurementSerializer(serializers.ModelSerializer):
    has_outcomes = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceMeasurement
        fields = ["task", "metric", "value", "sample_size", "successes", "higher_is_better", "has_outcomes", "details"]

    def get_has_outcomes(self, obj: EvidenceMeasurement) -> bool:
        return obj.outcomes is not None


class EvidenceSerializer(serializers.ModelSerializer):
    imported_by = serializers.CharField(source="imported_by.username", read_only=True)
    measurement_count = serializers.IntegerField(source="measurements.count", read_only=True)
    tool_version_source = serializers.SerializerMethodField(
        help_text="file: read from the file; uploader: stated by the uploader (the file records none); unknown."
    )

    class Meta:
        model = EvidenceImport
        fields = [
            "id",
            "tool",
            "tool_version",
            "tool_version_source",
            "format",
            "sha256",
            "size_bytes",
            "original_name",
            "summary",
            "imported_by",
            "imported_at",
            "measurement_count",
        ]

    def get_tool_version_source(self, obj: EvidenceImport) -> Literal["file", "uploader", "unknown"]:
        if obj.tool_version_stated:
            return "uploader"
        return "unknown" if obj.tool_version == "unknown" else "file"


class EvidenceDetailSerializer(EvidenceSerializer):
    measurements = MeasurementSerializer(many=True, read_only=True)

    class Meta(EvidenceSerializer.Meta):
        fields = [*EvidenceSerializer.Meta.fields, "measurements"]


class _Upload(StrictSerializer):
    tool = serializers.ChoiceField(
        choices=list(TOOLS), required=False, help_text="Recognised from the file if left out."
    )
    tool_version = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The tool's version, for a file that does not record it (Evidently, Giskard): recorded as "
        "stated by the uploader. When the file records one, a stated version must be the same.",
    )


def _imports(request: Request, name: str, number: int) -> Any:
    version = access_version(request.user, name, number, request)
    return EvidenceImport.objects.filter(version=version).select_related("imported_by")


class EvidenceList(generics.ListAPIView):
    """A version's imported result files, newest first; POST imports one (multipart ``file``, optional ``tool``)."""

    required_scopes = {"GET": "models:read", "POST": "models:write"}
    serializer_class = EvidenceSerializer
    parser_classes = [MultiPartParser, SafeJSONParser]  # JSON answers 422 naming the multipart file it needs
    max_body_setting = "EVIDENCE_MAX_BYTES"

    def get_queryset(self) -> Any:
        return _imports(self.request, self.kwargs["name"], self.kwargs["number"]).order_by("-imported_at", "-id")

    @extend_schema(summary="List a version's imported evidence files", tags=_TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Import another tool's result file as evidence",
        tags=_TAGS,
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "tool": {"type": "string", "enum": list(TOOLS)},
                    "tool_version": {"type": "string", "maxLength": 100},
                },
                "required": ["file"],
            }
        },
        responses={
            201: EvidenceDetailSerializer,
            409: OpenApiResponse(description="When the same file (by its sha256) is already imported for the version."),
        },
    )
    def post(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Send the result file as a multipart file field named 'file'."]})
        raw: Any = request.data
        options = validated(_Upload, {k: v for k, v in raw.items() if k != "file"})
        item = do_import_evidence(
            version=version,
            user=caller(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only upload handler: the file is on disk, never in memory.
            file_path=Path(upload.temporary_file_path()),
            file_name=upload.name or "",
            tool=options.get("tool", ""),
            tool_version=options.get("tool_version", ""),
        )
        return Response(EvidenceDetailSerializer(item).data, status=status.HTTP_201_CREATED)


class EvidenceDetail(APIView):
    """One imported file: what it is, and its measurements in the normalised form the policies judge."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(
        summary="Show an imported evidence file and its measurements", tags=_TAGS, responses=EvidenceDetailSerializer
    )
    def get(self, request: Request, name: str, number: int, pk: int) -> Response:
        found = get_visible_or_404(
            _imports(request, name, number), request.user, request, within_visible_parent=True, pk=pk
        )
        return Response(EvidenceDetailSerializer(found).data)


_V = "models/<slug:name>/versions/<int:number>"

API_ROUTES = [
    path(f"{_V}/evidence/", EvidenceList.as_view(), name="version-evidence"),
    path(f"{_V}/evidence/<int:pk>/", EvidenceDetail.as_view(), name="version-evidence-detail"),
]
