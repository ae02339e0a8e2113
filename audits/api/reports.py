"""Report API: build and list signed PDF compliance reports of audit runs and model versions, and download them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.access import access_run
from audits.models import Report
from audits.reports.access import access_report, reports_visible_to
from audits.reports.service import build_run_report, build_version_report
from governance.trail.log import Actor
from governance.web.api.negotiation import StrictFormatNegotiation
from registry.access import access_version


class ReportSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.number", read_only=True)
    run = serializers.IntegerField(source="run_id", read_only=True, allow_null=True)
    created_by: serializers.Field = serializers.SlugRelatedField(allow_null=True, read_only=True, slug_field="username")
    pdf = serializers.SerializerMethodField()
    # Text, not a choice field: the OpenAPI schema has other choice sets named "kind" (consent events).
    kind = serializers.CharField(read_only=True, help_text="run or version")

    class Meta:
        model = Report
        fields = [
            "id",
            "kind",
            "model",
            "version",
            "run",
            "verdict",
            "sha256",
            "size",
            "pages",
            "unsigned_sha256",
            "signer_certificate_sha256",
            "signed_at",
            "created_by",
            "created_at",
            "pdf",
        ]

    def get_pdf(self, report: Report) -> str:
        return reverse("audits-api:report-pdf", kwargs={"pk": report.pk})


class ReportListSerializer(serializers.Serializer):
    """The newest 200 reports (``count`` is how many are listed here), newest first; not paginated."""

    count = serializers.IntegerField()
    results = ReportSerializer(many=True)


def _created(report: Report) -> Response:
    return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)


def _listed(queryset: Any) -> Response:
    reports = list(queryset.order_by("-created_at")[:200])
    return Response({"count": len(reports), "results": ReportSerializer(reports, many=True).data})


class RunReports(APIView):
    """Signed reports of one audit run; POST builds a new one (409 while the run is not complete)."""

    required_scopes = {"GET": "audits:read", "POST": "audits:run"}

    @extend_schema(responses=ReportListSerializer)
    def get(self, request: Request, pk: int) -> Response:
        run = access_run(request.user, pk, request)
        return _listed(reports_visible_to(request.user).filter(run=run))

    @extend_schema(request=None, responses={201: ReportSerializer, 409: dict})
    def post(self, request: Request, pk: int) -> Response:
        run = access_run(request.user, pk, request)
        return _created(build_run_report(run, actor=Actor.from_request(request)))


class VersionReports(APIView):
    """Signed reports of a model version (all its completed audit runs); POST builds a new one."""

    required_scopes = {"GET": "audits:read", "POST": "audits:run"}

    @extend_schema(responses=ReportListSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        return _listed(reports_visible_to(request.user).filter(model_version=version, kind="version"))

    @extend_schema(request=None, responses={201: ReportSerializer})
    def post(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        return _created(build_version_report(version, actor=Actor.from_request(request)))


class ReportDetail(APIView):
    """One report's metadata: what it covers, its verdict, the signed PDF's sha256 and the signer's certificate."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses=ReportSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(ReportSerializer(access_report(request.user, pk, request)).data)


class PdfRenderer(BaseRenderer):
    """``Accept: application/pdf``: the view answers the PDF itself; errors become a line of text."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        return f"error: {error.get('message', data)}\n".encode()


class ReportPdf(APIView):
    """The signed PDF, byte for byte as stored; its ETag is its sha256 (what the trail's report.signed records)."""

    required_scopes = {"GET": "audits:read"}
    renderer_classes = [JSONRenderer, PdfRenderer]
    content_negotiation_class = StrictFormatNegotiation

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF.")}
    )
    def get(self, request: Request, pk: str) -> Any:
        report = access_report(request.user, pk, request, access_kind="download")
        etag = f'"{report.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(report.read_bytes(), content_type="application/pdf")
            version = report.model_version
            label = f"{version.model.name}-v{version.number}" if version else "report"
            response["Content-Disposition"] = f'attachment; filename="assay-report-{label}-{report.pk}.pdf"'
        response["ETag"] = etag
        return response
