"""Obligations API views: parse, check access (the registry's chokepoints: not yours answers 404), act, respond."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.reports.signing import sign_pdf
from governance.access.permissions import caller
from governance.trail.log import Actor
from governance.web.api.fields import validated
from obligations import actions, soa
from obligations.annex_iv import diff, technical_documentation
from obligations.api.serializers import (
    CatalogueTextSerializer,
    DecisionSerializer,
    IncidentSerializer,
    IncidentStepSerializer,
    ScopeSerializer,
    SoaEntrySerializer,
)
from obligations.documentation import do_generate_annex_iv, do_generate_monitoring_plan
from obligations.incidents import clock_citation, do_record_incident, do_record_incident_step, do_report_incident
from obligations.models import Catalogue, CatalogueVersion, Incident
from obligations.monitoring_plan import monitoring_plan
from obligations.oscal import assessment_results, catalog
from obligations.status import compliance_status, scope_of
from registry.access import access_model, access_version


def _catalogue_body(version: CatalogueVersion, *, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": version.catalogue.name,
        "title": version.catalogue.title,
        "builtin": version.catalogue.builtin,
        "version": version.number,
        "sha256": version.sha256,
        "canonical_sha256": version.canonical_sha256,
        "created_at": version.created_at.isoformat(),
    }
    if full:
        body["document"] = version.document
        body["text"] = version.text
    return body


class CatalogueList(APIView):
    """The obligation catalogues (their latest versions); POST stores a new version of one (YAML text)."""

    required_scopes = {"GET": "audits:read", "POST": "policies:write"}

    @extend_schema(operation_id="v1_obligation_catalogues_list", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        actions.ensure_builtin_catalogues()
        latest = [c.versions.order_by("-number").first() for c in Catalogue.objects.all()]
        return Response({"results": [_catalogue_body(v, full=False) for v in latest if v is not None]})

    @extend_schema(request=CatalogueTextSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = validated(CatalogueTextSerializer, request.data)
        version = actions.do_save_catalogue(
            user=caller(request), actor=Actor.from_request(request), text=data["text"], reason=data["reason"]
        )
        return Response(_catalogue_body(version, full=True), status=status.HTTP_201_CREATED)


def _catalogue_version(request: Request, name: str) -> CatalogueVersion:
    """Catalogue ``name``'s latest version, or the one ``?version=N`` names; 404 for either missing."""
    actions.ensure_builtin_catalogues()
    versions = CatalogueVersion.objects.select_related("catalogue").filter(catalogue__name=name)
    raw = request.query_params.get("version")
    if raw is not None:
        if not raw.isdigit() or len(raw) > 9:
            raise NotFound("No such version.")
        versions = versions.filter(number=int(raw))
    version = versions.order_by("-number").first()
    if version is None:
        raise NotFound("No such catalogue.")
    return version


def _incident(request: Request, name: str, pk: int) -> Incident:
    """Incident ``pk`` of model ``name`` if the caller may see the model (else 404, as for a missing one)."""
    model = access_model(request.user, name, request)
    incident = Incident.objects.filter(model=model, pk=pk).select_related("model", "version").first()
    if incident is None:
        raise NotFound("No such incident.")
    return incident


class CatalogueDetail(APIView):
    """One catalogue: its latest version's document, or ``?version=N``."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(operation_id="v1_obligation_catalogues_retrieve_one", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str) -> Response:
        version = _catalogue_version(request, name)
        return Response(_catalogue_body(version, full=True))


class CatalogueOscal(APIView):
    """A catalogue (its latest version, or ``?version=N``) as an OSCAL catalog (JSON)."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(operation_id="v1_obligation_catalogues_oscal", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str) -> Response:
        version = _catalogue_version(request, name)
        return Response(catalog(version))


class ModelScope(APIView):
    """The roles the organisation holds for a model and the catalogues that apply; PUT sets them (officers)."""

    required_scopes = {"GET": "models:read", "PUT": "models:classify"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        roles, catalogues, scope = scope_of(model)
        return Response(
            {"model": model.name, "roles": list(roles), "catalogues": list(catalogues), "declared": bool(scope)}
        )

    @extend_schema(request=ScopeSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        data = validated(ScopeSerializer, request.data)
        scope = actions.do_set_scope(user=caller(request), actor=Actor.from_request(request), model=model, **data)
        body = {"model": model.name, "roles": scope.roles, "catalogues": scope.catalogues, "declared": True}
        return Response({**body, "event_seq": scope.event_seq})


class VersionObligations(APIView):
    """A version's compliance status: every applicable obligation, met (with its trail events), attested, not
    applicable or missing."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(compliance_status(access_version(request.user, name, number, request)))


class VersionOscal(APIView):
    """The version's compliance status as an OSCAL assessment-results document (JSON)."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        return Response(assessment_results(version, compliance_status(version)))


class ObligationDecisionView(APIView):
    """An officer's decision on one obligation of a version: attested (document hash) or not applicable (reason)."""

    required_scopes = {"POST": "models:classify"}

    @extend_schema(request=DecisionSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, name: str, number: int, catalogue: str, obligation: str) -> Response:
        version = access_version(request.user, name, number, request)
        data = validated(DecisionSerializer, request.data)
        decision = actions.do_decide(
            user=caller(request),
            actor=Actor.from_request(request),
            version=version,
            catalogue=catalogue,
            obligation=obligation,
            kind=data["decision"],
            reason=data["reason"],
            document_name=data["document_name"],
            document_sha256=data["document_sha256"],
        )
        body = {
            "catalogue": decision.catalogue,
            "catalogue_version": decision.catalogue_version,
            "obligation": decision.obligation,
            "decision": decision.kind,
            "document_name": decision.document_name,
            "document_sha256": decision.document_sha256,
            "event_seq": decision.event_seq,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class VersionAnnexIv(APIView):
    """The version's Annex IV technical documentation as JSON, every gap shown; ``?against=N`` adds what changed
    since version N of the same model."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(parameters=[OpenApiParameter("against", int)], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        document = technical_documentation(version, compliance_status(version))
        raw = request.query_params.get("against")
        if raw is not None:
            if not raw.isdigit() or len(raw) > 9:
                raise ValidationError({"against": ["A version number."]})
            other = access_version(request.user, name, int(raw), request)
            earlier = technical_documentation(other, compliance_status(other))
            document["changes_since"] = {"version": other.number, "changes": diff(earlier, document)}
        return Response(document)


class VersionAnnexIvPdf(APIView):
    """The version's Annex IV technical documentation as a PAdES-signed PDF; each one issued is a trail event."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, name: str, number: int) -> HttpResponse:
        version = access_version(request.user, name, number, request)
        signed = do_generate_annex_iv(version=version, actor=Actor.from_request(request))
        response = HttpResponse(signed.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}-v{number}-annex-iv.pdf"'
        response["X-Assay-Trail-Event"] = str(signed.event_seq)
        return response


class VersionMonitoringPlan(APIView):
    """The version's post-market monitoring plan (Art. 72) as JSON, from its monitoring configuration, every gap
    shown."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(monitoring_plan(access_version(request.user, name, number, request)))


class VersionMonitoringPlanPdf(APIView):
    """The version's post-market monitoring plan as a PAdES-signed PDF; each one issued is a trail event."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, name: str, number: int) -> HttpResponse:
        version = access_version(request.user, name, number, request)
        signed = do_generate_monitoring_plan(version=version, actor=Actor.from_request(request))
        response = HttpResponse(signed.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}-v{number}-monitoring-plan.pdf"'
        response["X-Assay-Trail-Event"] = str(signed.event_seq)
        return response


def _incident_body(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "model": incident.model.name,
        "version": incident.version.number if incident.version is not None else None,
        "kind": incident.kind,
        "description": incident.description,
        "aware_at": incident.aware_at.isoformat(),
        "deadline": incident.deadline.isoformat(),
        "clock": clock_citation(incident.kind),
        "reminders": incident.reminders,
        "reported_at": incident.reported_at.isoformat() if incident.reported_at else None,
        "report_export": incident.report_export_id,
        "steps": [
            {
                "kind": step.kind,
                "note": step.note,
                "document_name": step.document_name,
                "document_sha256": step.document_sha256,
                "recorded_at": step.recorded_at.isoformat(),
                "trail_event": step.event_seq,
            }
            for step in incident.steps.all()
        ],
    }


class IncidentList(APIView):
    """A model's serious incidents (Art. 73) with their deadlines; POST records one (officers)."""

    required_scopes = {"GET": "models:read", "POST": "models:classify"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        incidents = Incident.objects.filter(model=model).select_related("model", "version")
        return Response({"results": [_incident_body(i) for i in incidents]})

    @extend_schema(request=IncidentSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, name: str) -> Response:
        model = access_model(request.user, name, request)
        data = validated(IncidentSerializer, request.data)
        number = data.pop("version")
        version = access_version(request.user, name, number, request) if number is not None else None
        incident = do_record_incident(
            user=caller(request), actor=Actor.from_request(request), model=model, version=version, **data
        )
        return Response(_incident_body(incident), status=status.HTTP_201_CREATED)


class IncidentReport(APIView):
    """Report an incident to the authority: an evidence bundle of the model is built and the report recorded."""

    required_scopes = {"POST": "models:classify"}

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, name: str, pk: int) -> Response:
        incident = _incident(request, name, pk)
        reported = do_report_incident(user=caller(request), actor=Actor.from_request(request), incident=incident)
        return Response(_incident_body(reported))


class IncidentSteps(APIView):
    """Record a step taken about an incident (investigation, risk assessment, corrective action, contact with the
    authority); officers only."""

    required_scopes = {"POST": "models:classify"}

    @extend_schema(request=IncidentStepSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, name: str, pk: int) -> Response:
        incident = _incident(request, name, pk)
        data = validated(IncidentStepSerializer, request.data)
        do_record_incident_step(user=caller(request), actor=Actor.from_request(request), incident=incident, **data)
        return Response(_incident_body(incident), status=status.HTTP_201_CREATED)


class StatementOfApplicability(APIView):
    """The organisation's ISO/IEC 42001 statement of applicability: every Annex A control and the decision on it."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response({"results": soa.statement()})


class StatementOfApplicabilityCsv(APIView):
    """The statement of applicability as CSV."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(soa.soa_csv(soa.statement()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="iso-42001-statement-of-applicability.csv"'
        return response


class StatementOfApplicabilityPdf(APIView):
    """The statement of applicability as a PAdES-signed PDF."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> HttpResponse:
        signed = sign_pdf(soa.soa_pdf(soa.statement()), reason="ISO/IEC 42001 statement of applicability")
        response = HttpResponse(signed.pdf, content_type="application/pdf")
        response["Content-Disposition"] = 'attachment; filename="iso-42001-statement-of-applicability.pdf"'
        return response


class StatementOfApplicabilityControl(APIView):
    """PUT an officer's decision on one Annex A control (applicable or excluded, why, how far implemented)."""

    required_scopes = {"PUT": "models:classify"}

    @extend_schema(request=SoaEntrySerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request: Request, control: str) -> Response:
        data = validated(SoaEntrySerializer, request.data)
        entry = soa.do_set_soa_entry(user=caller(request), actor=Actor.from_request(request), control=control, **data)
        row = next(r for r in soa.statement() if r["control"] == entry.control)
        return Response(row)
