"""``GET /api/v1/audits/{id}/ll144-summary/``: the NYC Local Law 144 summary of results of an audit run, as JSON or
(``?format=csv``) its tables as CSV, under the same access rules as the audit itself.

The auditor's fields are query parameters (they are not stored with the run): ``aedt_name``, ``distribution_date``
(YYYY-MM-DD), ``data_source``, ``data_explanation``, ``data_type`` (historical or test), ``test_data_explanation``,
``auditor_name``, ``auditor_statement``. A field not given is listed under ``missing`` in the summary.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.access import access_run
from audits.ll144 import META_FIELDS, summary_csv
from audits.ll144_runs import summary_for_run
from governance.web.api.negotiation import StrictFormatNegotiation


class CsvRenderer(BaseRenderer):
    """``?format=csv`` (or ``Accept: text/csv``): the summary's tables, one row per category; errors as one line."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, dict) and "error" in data:
            return f"error: {data['error'].get('message', '')}\n".encode()
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code == 200:
            response["Content-Disposition"] = 'attachment; filename="summary.csv"'
        return summary_csv(data).encode("utf-8")


class AuditLL144Summary(APIView):
    """The LL144 summary of results of one completed audit run (6 RCNY §§ 5-301 to 5-303): sex, race/ethnicity and
    intersectional tables, the unknown category, excluded categories, and the auditor's fields or what is missing."""

    required_scopes = {"GET": "audits:read"}
    renderer_classes = [JSONRenderer, CsvRenderer]
    content_negotiation_class = StrictFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter(name, str, description=what) for name, (what, _) in META_FIELDS.items()],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = access_run(request.user, pk, request)
        params = request.query_params
        unknown = sorted(set(params) - set(META_FIELDS) - {"format"})
        if unknown:
            names, known = ", ".join(map(repr, unknown)), ", ".join(META_FIELDS)
            raise ValidationError({unknown[0]: [f"Unknown parameter {names}; parameters: {known}."]})
        meta = {name: params[name] for name in META_FIELDS if name in params}
        return Response(summary_for_run(run, meta))
