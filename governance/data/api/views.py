"""Data governance over HTTP: datasets and versions, lineage (OpenLineage in, PROV-JSON out), consent, subjects.

Consent and subject endpoints need the ``consent:*`` scopes (officers, administrators). Model owners see a
dataset version's consent coverage as counts, never who.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access.permissions import caller, caller_scopes
from governance.data import actions, hooks
from governance.data.access import (
    access_dataset,
    access_dataset_version,
    access_run,
    access_subject,
    datasets_visible_to,
    runs_visible_to,
)
from governance.data.actions import sources as source_actions
from governance.data.actions.uploads import profiled_in_worker
from governance.data.api import uploads
from governance.data.api.serializers import (
    ConsentEventCreateSerializer,
    ConsentEventSerializer,
    CoverageSerializer,
    DatasetCreateSerializer,
    DatasetSerializer,
    DatasetVersionMetadataSerializer,
    DatasetVersionSerializer,
    LookupSerializer,
    PersonalDataSerializer,
    PurposeCreateSerializer,
    PurposeSerializer,
    RunCreateSerializer,
    RunSerializer,
)
from governance.data.consent import CoverageTooSmall, coverage_for, subject_states
from governance.data.consent_import import do_import_consent_csv
from governance.data.lineage import describe_run, graph_as_json, node_id, traverse
from governance.data.models import ConsentEvent, DatasetVersion, Purpose, Subject
from governance.trail.log import Actor
from governance.web.api.fields import callers_team, parse_aware_datetime, validated
from governance.web.api.parsers import SafeJSONParser, check_json_value

# --- datasets -----------------------------------------------------------------------------------------------------


def _json_field(data: Any, name: str) -> Any:
    """A multipart field that carries JSON text (``metadata``), parsed with the API's limits."""
    raw = data.get(name, "{}")
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValidationError({name: [f"Not valid JSON: {exc.msg} (line {exc.lineno})."]}) from None
    except RecursionError:
        raise ValidationError({name: ["The JSON is nested too deeply."]}) from None
    check_json_value(value, where=name)
    return value


class DatasetList(generics.ListAPIView):
    """Datasets you may see; POST registers one for your team."""

    required_scopes = {"GET": "datasets:read", "POST": "datasets:write"}
    serializer_class = DatasetSerializer

    def get_queryset(self) -> Any:
        queryset = datasets_visible_to(self.request.user)
        if self.request.query_params.get("team"):
            queryset = queryset.filter(team__slug=self.request.query_params["team"])
        return queryset

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request: Request) -> Response:
        data = validated(DatasetCreateSerializer, request.data)
        team = callers_team(caller(request), data.pop("team"))
        dataset = actions.do_register_dataset(
            user=caller(request), actor=Actor.from_request(request), team=team, **data
        )
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetail(APIView):
    required_scopes = {"GET": "datasets:read"}

    @extend_schema(responses=DatasetSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(DatasetSerializer(access_dataset(request.user, name, request)).data)


class DatasetVersionList(generics.ListAPIView):
    """A dataset's versions; POST registers the next one: multipart ``file`` (CSV or Parquet) and ``metadata``
    (a JSON string), or a JSON body with ``external_uri`` for data Assay does not store, or with ``source_uri`` for
    a source Assay audits where it lives (a Parquet folder, a PostgreSQL table or query: docs/data-sources.md)."""

    required_scopes = {"GET": "datasets:read", "POST": "datasets:write"}
    serializer_class = DatasetVersionSerializer
    parser_classes = [MultiPartParser, SafeJSONParser]
    max_body_setting = "DATASET_MAX_BYTES"

    def get_queryset(self) -> Any:
        dataset = access_dataset(self.request.user, self.kwargs["name"], self.request)
        return DatasetVersion.objects.filter(dataset=dataset).select_related("dataset", "created_by")

    @extend_schema(
        request={
            "application/json": DatasetVersionMetadataSerializer,
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "CSV or Parquet file."},
                    "metadata": {
                        "type": "string",
                        "description": "The DatasetVersionMetadata object, as a JSON string.",
                    },
                },
            },
        },
        responses={201: DatasetVersionSerializer, 202: uploads.DatasetUploadSerializer},
    )
    def post(self, request: Request, name: str) -> Response:
        dataset = access_dataset(request.user, name, request)
        upload = request.FILES.get("file")
        data: Any = request.data
        is_form = upload is not None or (hasattr(data, "getlist") and "metadata" in data)
        metadata = validated(DatasetVersionMetadataSerializer, _json_field(data, "metadata") if is_form else data)
        if upload is not None and metadata["external_uri"]:
            raise ValidationError({"external_uri": ["Give a file or an external_uri, not both."]})
        source_uri = metadata.pop("source_uri")
        if source_uri:
            return _register_source(request, dataset, source_uri, metadata, upload=upload is not None)
        if upload is not None and profiled_in_worker(upload.size):
            return uploads.receive(request, dataset, upload, metadata)  # 202: a worker profiles it
        version = actions.do_register_dataset_version(
            dataset=dataset,
            user=caller(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only handler: uploads are streamed to disk, never held in memory.
            file_path=Path(upload.temporary_file_path()) if upload is not None else None,
            file_name=upload.name if upload is not None else "",
            **metadata,
        )
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


# What a source version takes besides its URI; the rest (file settings, a claimed hash) belongs to files.
_SOURCE_METADATA = ("source", "licence", "collected_from", "collected_to", "label_column")


def _register_source(request: Request, dataset: Any, source_uri: str, metadata: dict, *, upload: bool) -> Response:
    """Register a source version (``source_uri``): no file, no external_uri, and no setting only files have."""
    defaults = DatasetVersionMetadataSerializer().to_internal_value({})
    foreign = sorted(k for k, v in metadata.items() if k not in _SOURCE_METADATA and v != defaults.get(k))
    if upload or foreign:
        given = ", ".join(["file"] * upload + foreign)
        raise ValidationError({"source_uri": [f"A source is read where it lives; do not give {given} with it."]})
    version = source_actions.do_register_source_version(
        dataset=dataset,
        user=caller(request),
        actor=Actor.from_request(request),
        source_uri=source_uri,
        **{k: metadata[k] for k in _SOURCE_METADATA},
    )
    return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DatasetVersionDetail(APIView):
    required_scopes = {"GET": "datasets:read"}

    @extend_schema(responses=DatasetVersionSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(DatasetVersionSerializer(access_dataset_version(request.user, name, number, request)).data)


# 1 to 1000, or empty (as if not given: all the way).
LINEAGE_DEPTH = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, {"type": "string", "enum": [""]}]}


_LINEAGE_PARAMETERS = [
    OpenApiParameter("direction", str, enum=["upstream", "downstream"], description="Default: upstream."),
    OpenApiParameter("depth", LINEAGE_DEPTH, description="How many runs deep (default, or empty: all)."),
]


def _lineage_params(request: Request) -> tuple[str, int | None]:
    direction = request.query_params.get("direction", "upstream")
    if direction not in ("upstream", "downstream"):
        raise ValidationError({"direction": ["Use 'upstream' or 'downstream'."]})
    raw = request.query_params.get("depth")
    if raw is None or raw == "":
        return direction, None
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= 1000:
        raise ValidationError({"depth": ["A whole number of runs from 1 to 1000."]})
    return direction, int(raw)


class DatasetVersionLineage(APIView):
    """What a dataset version was made from (upstream) or what was made from it (downstream), to any depth."""

    required_scopes = {"GET": "datasets:read"}

    @extend_schema(parameters=_LINEAGE_PARAMETERS, responses=dict)
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_dataset_version(request.user, name, number, request)
        direction, depth = _lineage_params(request)
        return Response(graph_as_json(traverse(version, direction=direction, max_depth=depth), user=request.user))


class DatasetVersionCoverage(APIView):
    """How many subjects in a dataset version consent to a purpose at an instant: counts, never who."""

    required_scopes = {"GET": "datasets:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("purpose", str, required=True, description="A purpose code, e.g. model_training"),
            OpenApiParameter("at", str, description="ISO 8601 time with timezone (default: now)"),
        ],
        responses=CoverageSerializer,
    )
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_dataset_version(request.user, name, number, request)
        code = request.query_params.get("purpose", "")
        purpose = Purpose.objects.filter(code=code).first()
        if purpose is None:
            known = ", ".join(Purpose.objects.values_list("code", flat=True)) or "none defined yet"
            raise ValidationError({"purpose": [f"Unknown purpose {code!r}. Purposes: {known}."]})
        if not version.subject_id_column:
            raise ValidationError(
                {"dataset": [f"{node_id(version)} has no subject-id column, so its subjects are not known."]}
            )
        raw = request.query_params.get("at")
        at = timezone.now() if not raw else parse_aware_datetime(raw, field="at")
        try:
            # The privacy floor lives with coverage itself, so the portal obeys the same rule.
            counts = coverage_for(version, purpose, at, consent_keeper="consent:read" in caller_scopes(request))
        except CoverageTooSmall as exc:
            raise ValidationError({"dataset": [str(exc)]}) from None
        return Response(counts)


# --- lineage runs -------------------------------------------------------------------------------------------------


def _resolve(request: Request, ref: dict[str, Any]) -> Any:
    """A referenced dataset or model version, through the caller's access chokepoints (404 if not theirs)."""
    if "dataset" in ref:
        return access_dataset_version(request.user, ref["dataset"], ref["version"], request)
    return hooks.access_model_version(request.user, ref["model"], ref["version"], request)  # the registry answers


class RunList(generics.ListAPIView):
    """Lineage runs you may see; POST records one (inputs, outputs and model versions trained)."""

    required_scopes = {"GET": "datasets:read", "POST": "datasets:write"}
    serializer_class = RunSerializer

    def get_queryset(self) -> Any:
        queryset = runs_visible_to(self.request.user).order_by("-id")
        if self.request.query_params.get("job"):
            queryset = queryset.filter(job_name=self.request.query_params["job"])
        return queryset

    @extend_schema(request=RunCreateSerializer, responses={201: RunSerializer})
    def post(self, request: Request) -> Response:
        data = validated(RunCreateSerializer, request.data)
        inputs = [_resolve(request, ref) for ref in data.pop("inputs")]
        resolved = [_resolve(request, ref) for ref in data.pop("outputs")]
        outputs = [o for o in resolved if isinstance(o, DatasetVersion)]
        models = [o for o in resolved if not isinstance(o, DatasetVersion)]
        run = actions.do_record_run(
            user=caller(request),
            actor=Actor.from_request(request),
            inputs=inputs,
            outputs=outputs,
            model_outputs=models,
            **data,
        )
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetail(APIView):
    required_scopes = {"GET": "datasets:read"}

    @extend_schema(responses=RunSerializer)
    def get(self, request: Request, run_id: Any) -> Response:
        return Response(RunSerializer(access_run(request.user, run_id, request)).data)


class OpenLineageIntake(APIView):
    """Accept an OpenLineage RunEvent unchanged (what the Airflow, Spark and dbt integrations send).

    Datasets map to Assay dataset versions by their registered OpenLineage namespace and name, or by the
    ``assay`` namespace (``datasets/<name>``, ``models/<name>/versions/<n>``). What does not map is answered
    in ``unmapped`` and kept with the event; the pipeline is not refused for it.
    """

    required_scopes = {"POST": "datasets:write"}

    @extend_schema(request=dict, responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        run, unmapped = actions.do_record_openlineage(
            user=caller(request), actor=Actor.from_request(request), body=request.data
        )
        created = getattr(run, "created_now", False)
        return Response(
            {**describe_run(run), "unmapped": unmapped},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- consent ------------------------------------------------------------------------------------------------------


class PurposeList(generics.ListAPIView):
    """Purposes of processing with their GDPR Art. 6 legal basis; POST defines one."""

    required_scopes = {"GET": "consent:read", "POST": "consent:write"}
    serializer_class = PurposeSerializer
    queryset = Purpose.objects.all()

    @extend_schema(request=PurposeCreateSerializer, responses={201: PurposeSerializer})
    def post(self, request: Request) -> Response:
        data = validated(PurposeCreateSerializer, request.data)
        purpose = actions.do_create_purpose(user=caller(request), actor=Actor.from_request(request), **data)
        return Response(PurposeSerializer(purpose).data, status=status.HTTP_201_CREATED)


def _purpose(code: str) -> Purpose:
    purpose = Purpose.objects.filter(code=code).first()
    if purpose is None:
        known = ", ".join(Purpose.objects.values_list("code", flat=True)) or "none defined yet"
        raise ValidationError({"purpose": [f"Unknown purpose {code!r}. Purposes: {known}."]})
    return purpose


class ConsentEventList(generics.ListAPIView):
    """Consent events (filter by ``subject`` pseudonym or ``purpose``); POST records one."""

    required_scopes = {"GET": "consent:read", "POST": "consent:write"}
    serializer_class = ConsentEventSerializer

    def get_queryset(self) -> Any:
        queryset = ConsentEvent.objects.select_related("purpose").order_by("-id")
        if self.request.query_params.get("subject"):
            queryset = queryset.filter(subject_id=self.request.query_params["subject"])
        if self.request.query_params.get("purpose"):
            queryset = queryset.filter(purpose__code=self.request.query_params["purpose"])
        return queryset

    @extend_schema(request=ConsentEventCreateSerializer, responses={201: ConsentEventSerializer})
    def post(self, request: Request) -> Response:
        data = validated(ConsentEventCreateSerializer, request.data)
        purpose = _purpose(data.pop("purpose"))
        event = actions.do_record_consent(
            user=caller(request),
            actor=Actor.from_request(request),
            purpose=purpose,
            subject_pseudonym=data.pop("pseudonym", ""),
            **data,
        )
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)


class ConsentBulkImport(APIView):
    """Import many consent events from a CSV file (multipart ``file``); the whole file or nothing."""

    required_scopes = {"POST": "consent:write"}
    parser_classes = [MultiPartParser]
    max_body_setting = "DATASET_MAX_BYTES"

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The consent events as CSV (columns on docs/data.md).",
                    }
                },
                "required": ["file"],
            }
        },
        responses={201: dict},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Send the CSV as a multipart field named 'file'."]})
        batch = do_import_consent_csv(
            user=caller(request),
            actor=Actor.from_request(request),
            path=Path(upload.temporary_file_path()),
            file_name=upload.name,
        )
        return Response(
            {
                "batch": batch.pk,
                "sha256": batch.sha256,
                "rows": batch.row_count,
                "subjects": batch.subject_count,
            },
            status=status.HTTP_201_CREATED,
        )


# --- subjects -----------------------------------------------------------------------------------------------------


class SubjectLookup(APIView):
    """The pseudonym of an external id (computed with the server's key; the id itself is never stored)."""

    required_scopes = {"POST": "consent:read"}

    @extend_schema(request=LookupSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = validated(LookupSerializer, request.data)
        pseudonym = actions.pseudonym_of(data["external_id"])
        return Response({"pseudonym": pseudonym, "known": Subject.objects.filter(pseudonym=pseudonym).exists()})


class SubjectDetail(APIView):
    """A subject's consent state for every purpose at ``at`` (default now), and what Assay holds about them."""

    required_scopes = {"GET": "consent:read"}

    @extend_schema(parameters=[OpenApiParameter("at", str, description="ISO 8601 time with timezone")], responses=dict)
    def get(self, request: Request, pseudonym: str) -> Response:
        subject = access_subject(request.user, pseudonym)
        raw = request.query_params.get("at")
        at = timezone.now() if not raw else parse_aware_datetime(raw, field="at")
        impact = actions.impact_of(subject.pseudonym)
        return Response(
            {
                "pseudonym": subject.pseudonym,
                "first_seen_at": subject.first_seen_at,
                "erased_at": subject.erased_at,
                "at": at,
                "consent": subject_states(subject, at),
                "personal_records": subject.personal_records.count(),
                "datasets": impact["datasets"],
                "model_versions": impact["model_versions"],
            }
        )


class SubjectAccess(APIView):
    """Answer an access request (GDPR Art. 15): what Assay records about the subject and the Art. 15 information
    (or the gaps the controller must fill), as JSON; its ``scope`` says what it does not include. Recorded."""

    required_scopes = {"POST": "consent:write"}

    @extend_schema(request=None, responses=dict)
    def post(self, request: Request, pseudonym: str) -> Response:
        subject = access_subject(request.user, pseudonym)
        return Response(
            actions.do_export_subject(subject=subject, user=caller(request), actor=Actor.from_request(request))
        )


class SubjectErasure(APIView):
    """An erasure request (GDPR Art. 17): the subject's key is destroyed, so their sealed data can no longer be read.
    The answer says what remains (rows in dataset files, the pseudonym). Idempotent: a second call changes nothing."""

    required_scopes = {"POST": "consent:write"}

    @extend_schema(request=None, responses=dict)
    def post(self, request: Request, pseudonym: str) -> Response:
        subject = access_subject(request.user, pseudonym)
        subject, destroyed_now = actions.do_erase_subject(
            subject=subject, user=caller(request), actor=Actor.from_request(request)
        )
        # Uploaded dataset files are not sealed per subject: the versions listed still hold the subject's rows and
        # need a new version without them; the model versions downstream have findings.
        report = actions.erasure_report(subject)
        return Response({**report, "erased_now": destroyed_now}, status=status.HTTP_200_OK)


class SubjectPersonalData(APIView):
    """Store personal data about a subject (contact details for a request, say), sealed under their key."""

    required_scopes = {"POST": "consent:write"}

    @extend_schema(request=PersonalDataSerializer, responses={201: dict})
    def post(self, request: Request, pseudonym: str) -> Response:
        subject = access_subject(request.user, pseudonym)
        data = validated(PersonalDataSerializer, request.data)
        record = actions.do_store_personal_data(
            subject=subject, user=caller(request), actor=Actor.from_request(request), **data
        )
        return Response(
            {"id": record.pk, "category": record.category, "created_at": record.created_at},
            status=status.HTTP_201_CREATED,
        )
