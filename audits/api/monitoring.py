"""Monitoring API: a version's monitoring configuration, its production batches (and their late labels), and the
time series of every statistic over batches.

    PUT  /api/v1/models/{name}/versions/{n}/monitoring                 configure (profiles the reference once)
    GET  /api/v1/models/{name}/versions/{n}/monitoring
    POST /api/v1/models/{name}/versions/{n}/batches/                   multipart: file (CSV or Parquet), delimiter
    GET  /api/v1/models/{name}/versions/{n}/batches/                   newest first
    GET  /api/v1/models/{name}/versions/{n}/batches/{batch}/           results, alerts, warnings
    POST /api/v1/models/{name}/versions/{n}/batches/{batch}/labels     multipart: file with the label column
    GET  /api/v1/models/{name}/versions/{n}/drift?feature=age&statistic=psi
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.api.monitoring_source import BatchSourceView
from audits.monitoring import actions
from audits.monitoring.batch import BatchError, check_delimiter
from audits.monitoring.judge import batch_outcome, evidence_gaps
from audits.monitoring.series import checked_statistics
from governance.access.permissions import caller
from governance.access.scoping import get_visible_or_404
from governance.data.access import datasets_visible_to
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.web.api.fields import StrictSerializer, validated
from governance.web.api.parsers import SafeJSONParser
from registry.access import access_version
from registry.models import MonitorConfig, MonitoringBatch, ReferenceKind


class _DatasetRef(StrictSerializer):
    dataset = serializers.SlugField(max_length=100)
    version = serializers.IntegerField(min_value=1)


class _Feature(StrictSerializer):
    name = serializers.CharField(max_length=200)  # type: ignore[assignment]  # a column name, not Field.name
    # A pattern, not a choice field: the OpenAPI schema has other enums named "kind".
    kind = serializers.RegexField(r"^(numeric|categorical)$", required=False, help_text="numeric or categorical")


class MonitorConfigSerializer(StrictSerializer):
    reference_kind = serializers.ChoiceField(choices=ReferenceKind.values, default=ReferenceKind.TRAINING)
    reference = _DatasetRef(
        required=False, help_text="Default: the version's (first) training dataset, or its latest audit's dataset."
    )
    features = _Feature(many=True, required=False, help_text="Default: the version's input schema.")
    prediction = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    score = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    threshold = serializers.FloatField(required=False, allow_null=True, default=None)
    favourable = serializers.CharField(max_length=200, required=False, default="1")
    label = serializers.CharField(  # type: ignore[assignment]  # the label column, not Field.label
        max_length=200, required=False, allow_blank=True, default=""
    )
    protected = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list, max_length=10
    )
    reference_groups = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    policy = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


def _config_json(config: MonitorConfig) -> dict[str, Any]:
    features = {}
    for name, profile in config.profile["features"].items():
        summary = {"kind": profile["kind"], "rows": profile["n"], "missing": profile["missing"]}
        if profile["kind"] == "numeric":
            summary |= {"mean": profile["mean"], "std": profile["std"], "bin_edges": profile["edges"]}
            summary["non_finite"] = profile.get("non_finite", 0)  # inf and -inf, counted among the missing
            summary["ks_exact"] = profile["ecdf"]["exact"]
        else:
            summary["categories"] = len(profile["categories"])
        features[name] = summary
    return {
        "configured": True,
        "reference_kind": config.reference_kind,
        "reference": {"dataset": config.reference.dataset.name, "version": config.reference.number},
        **config.spec,
        "policy": config.policy or None,
        "profile_sha256": config.profile_sha256,
        "profile": {
            "rows": config.profile["rows"],
            "features": features,
            "decisions": bool(config.profile.get("decision")),
            "decision_source": config.profile.get("decision_source"),
        },
        "baseline": config.baseline,
        "batches_dataset": config.batches_dataset.name,
        "configured_at": config.configured_at,
    }


class MonitoringConfigView(APIView):
    """A version's monitoring configuration; PUT sets it and profiles the reference (once, stored)."""

    required_scopes = {"GET": "models:read", "PUT": "models:write"}

    @extend_schema(responses=dict)
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        config = MonitorConfig.objects.filter(version=version).select_related("reference__dataset").first()
        return Response(_config_json(config) if config else {"configured": False})

    @extend_schema(request=MonitorConfigSerializer, responses=dict)
    def put(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        data = validated(MonitorConfigSerializer, request.data)
        reference = None
        if data.get("reference"):
            ref = data.pop("reference")
            reference = DatasetVersion.objects.filter(
                dataset__in=datasets_visible_to(request.user), dataset__name=ref["dataset"], number=ref["version"]
            ).first()
            if reference is None:
                raise ValidationError({"reference": ["There is no such dataset version that you can see."]})
        config = actions.do_configure_monitoring(
            version=version, user=caller(request), actor=Actor.from_request(request), reference=reference, **data
        )
        return Response(_config_json(config))


class BatchSerializer(serializers.ModelSerializer):
    batch = serializers.IntegerField(source="number")
    status = serializers.CharField(read_only=True, help_text="pending, running, checked or error")
    data = serializers.SerializerMethodField()  # type: ignore[assignment]  # the batch's dataset version
    labels = serializers.SerializerMethodField()
    received_by: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)
    outcome = serializers.SerializerMethodField(
        help_text="pending, running or error until checked; then alert, insufficient_evidence (a part could not be "
        "judged: see evidence_gaps), warning or ok"
    )
    evidence_gaps = serializers.SerializerMethodField(
        help_text="What the check could not judge for want of evidence: {part, missing, reason} each"
    )

    class Meta:
        model = MonitoringBatch
        fields = [
            "batch",
            "status",
            "outcome",
            "evidence_gaps",
            "rows",
            "deployed",
            "environments",
            "data",
            "labels",
            "alerts",
            "warnings",
            "error",
            "policy_version",
            "profile_sha256",
            "results_sha256",
            "received_by",
            "received_at",
            "checked_at",
        ]

    def get_outcome(self, batch: MonitoringBatch) -> str:
        return batch_outcome(batch.status, alerts=batch.alerts, warnings=batch.warnings, results=batch.results)

    def get_evidence_gaps(self, batch: MonitoringBatch) -> list[dict[str, str]]:
        return evidence_gaps(batch.results or {}) if batch.status == "checked" else []

    def get_data(self, batch: MonitoringBatch) -> dict[str, Any]:
        return {"dataset": batch.data.dataset.name, "version": batch.data.number, "sha256": batch.data.sha256}

    def get_labels(self, batch: MonitoringBatch) -> dict[str, Any] | None:
        if batch.labels is None:
            return None
        return {"dataset": batch.labels.dataset.name, "version": batch.labels.number, "sha256": batch.labels.sha256}


class BatchDetailSerializer(BatchSerializer):
    results = serializers.JSONField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "results"]


class _Upload(StrictSerializer):
    # Not trimmed: a tab (or a space) is a delimiter. The length bound only keeps the error message short; the
    # delimiter itself must be one character (check_delimiter), or pyarrow would be handed something it refuses.
    delimiter = serializers.CharField(
        max_length=10, required=False, default=",", trim_whitespace=False, allow_blank=True
    )


def _upload(request: Request) -> tuple[Path, str, str]:
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationError({"file": ["Send the batch as a multipart file field named 'file'."]})
    raw: Any = request.data
    fields = {k: v for k, v in raw.items() if k != "file"}
    options = validated(_Upload, fields)
    try:
        delimiter = check_delimiter(options["delimiter"])
    except BatchError as exc:
        raise ValidationError({"delimiter": [str(exc)]}) from None
    # TemporaryFileUploadHandler is the only handler: every upload is on disk, streamed, never in memory.
    return Path(upload.temporary_file_path()), upload.name, delimiter


def _upload_request(file_description: str) -> dict[str, Any]:
    """The OpenAPI request body of an upload that ``_upload`` reads: a binary ``file`` and its ``delimiter``."""
    fields = {
        "file": {"type": "string", "format": "binary", "description": file_description},
        "delimiter": {"type": "string", "maxLength": 10, "default": ",", "description": "CSV only: one character."},
    }
    return {"multipart/form-data": {"type": "object", "properties": fields, "required": ["file"]}}


def _batches(request: Request, name: str, number: int) -> Any:
    version = access_version(request.user, name, number, request)
    return MonitoringBatch.objects.filter(version=version).select_related("data__dataset", "labels__dataset")


class BatchList(generics.ListAPIView):
    """A version's production batches, newest first; POST sends one (multipart ``file``: CSV or Parquet)."""

    required_scopes = {"GET": "models:read", "POST": "models:write"}
    serializer_class = BatchSerializer
    parser_classes = [MultiPartParser, SafeJSONParser]
    max_body_setting = "MONITORING_BATCH_MAX_BYTES"

    def get_queryset(self) -> Any:
        return (
            _batches(self.request, self.kwargs["name"], self.kwargs["number"])
            .select_related("received_by")
            .order_by("-number")
        )

    @extend_schema(
        request=_upload_request("The batch: CSV or Parquet, with the columns the monitoring configuration names."),
        responses={201: BatchDetailSerializer},
    )
    def post(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        path, filename, delimiter = _upload(request)
        batch = actions.do_upload_batch(
            version=version,
            user=caller(request),
            actor=Actor.from_request(request),
            file_path=path,
            file_name=filename,
            delimiter=delimiter,
        )
        batch.refresh_from_db()  # checked already when jobs run in process
        return Response(BatchDetailSerializer(batch).data, status=status.HTTP_201_CREATED)


def _batch(request: Request, name: str, number: int, batch: int) -> MonitoringBatch:
    return get_visible_or_404(
        _batches(request, name, number), request.user, request, within_visible_parent=True, number=batch
    )


class BatchDetail(APIView):
    """One batch: every statistic, the live fairness table, performance, alerts and warnings."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(responses=BatchDetailSerializer)
    def get(self, request: Request, name: str, number: int, batch: int) -> Response:
        return Response(BatchDetailSerializer(_batch(request, name, number, batch)).data)


class BatchLabels(APIView):
    """Labels for an earlier batch (multipart ``file``: one column, the configured label, a row per batch row)."""

    required_scopes = {"POST": "models:write"}
    parser_classes = [MultiPartParser, SafeJSONParser]
    max_body_setting = "MONITORING_BATCH_MAX_BYTES"

    @extend_schema(
        request=_upload_request("One column, the configured label, with a row per row of the batch (CSV or Parquet)."),
        responses=BatchDetailSerializer,
    )
    def post(self, request: Request, name: str, number: int, batch: int) -> Response:
        found = _batch(request, name, number, batch)
        path, filename, delimiter = _upload(request)
        updated = actions.do_add_labels(
            batch=found,
            user=caller(request),
            actor=Actor.from_request(request),
            file_path=path,
            file_name=filename,
            delimiter=delimiter,
        )
        updated.refresh_from_db()
        return Response(BatchDetailSerializer(updated).data)


class DriftSeries(APIView):
    """A statistic over batches: ``feature`` (a feature name, ``(prediction)``, ``(score)``, ``(label)``,
    ``group:<group>`` or ``performance``) and optionally ``statistic`` (psi, ks, chi2, js_distance,
    mean_shift_sd, selection_rate, impact_ratio, count, accuracy, accuracy_drop...). Without ``feature``: the
    subjects and statistics that exist."""

    required_scopes = {"GET": "models:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("feature", str, description="Subject: a feature, (prediction), group:<name>, ..."),
            OpenApiParameter("statistic", str, description="One statistic (default: all of the subject's)."),
        ],
        responses=dict,
    )
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        subject = request.query_params.get("feature", "")
        if not subject:
            pairs = (
                checked_statistics(version)
                .values_list("subject", "kind", "statistic")
                .distinct()
                .order_by("subject", "statistic")
            )
            subjects: dict[str, dict[str, Any]] = {}
            for name_, kind, statistic in pairs:
                subjects.setdefault(name_, {"kind": kind, "statistics": []})["statistics"].append(statistic)
            return Response({"model": name, "version": number, "subjects": subjects})
        statistic = request.query_params.get("statistic")
        rows = checked_statistics(version, subject=subject, statistics=[statistic] if statistic else None)
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows.select_related("batch"):
            series.setdefault(row.statistic, []).append(
                {
                    "batch": row.batch.number,
                    "received_at": row.batch.received_at,
                    "value": row.value,
                    "p_value": row.p_value,
                    "level": row.level,
                }
            )
        return Response({"model": name, "version": number, "feature": subject, "series": series})


_V = "models/<slug:name>/versions/<int:number>"

# Served under the registry API's namespace (registry-api:version-monitoring, ...), at the same paths as before.
API_ROUTES = [
    path(f"{_V}/monitoring", MonitoringConfigView.as_view(), name="version-monitoring"),
    path(f"{_V}/monitoring/source", BatchSourceView.as_view(), name="version-monitoring-source"),
    path(f"{_V}/batches/", BatchList.as_view(), name="version-batches"),
    path(f"{_V}/batches/<int:batch>/", BatchDetail.as_view(), name="version-batch-detail"),
    path(f"{_V}/batches/<int:batch>/labels", BatchLabels.as_view(), name="version-batch-labels"),
    path(f"{_V}/drift", DriftSeries.as_view(), name="version-drift"),
]
