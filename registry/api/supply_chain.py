"""Supply-chain documents of a version: its CycloneDX 1.6 ML-BOM (docs/supply-chain.md)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import access_version
from registry.mlbom import MEDIA_TYPE, version_mlbom


class CycloneDXRenderer(JSONRenderer):
    """CycloneDX's own JSON media type, so a client asking for it by name is answered (not refused with 406)."""

    media_type = MEDIA_TYPE
    format = "cdx"


class VersionMLBOM(APIView):
    """A version's CycloneDX 1.6 ML-BOM (JSON): the model with its hashes and model card, its datasets and their
    lineage, the libraries of its audits, and the audits' outcomes as properties."""

    required_scopes = {"GET": "models:read"}
    renderer_classes = [CycloneDXRenderer, JSONRenderer]

    @extend_schema(
        summary="Download a version's CycloneDX 1.6 ML-BOM",
        tags=["versions"],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A CycloneDX 1.6 JSON BOM.")},
    )
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        response = Response(version_mlbom(version, user=request.user))
        response["Content-Disposition"] = f'attachment; filename="{name}-v{number}.cdx.json"'
        return response
