"""Serializers of the data-governance API: datasets and versions, lineage runs, purposes and consent, subjects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from governance.data.lineage import node_id
from governance.data.models import (
    ConsentEvent,
    ConsentKind,
    Dataset,
    DatasetVersion,
    LegalBasis,
    LineageRun,
    Purpose,
    QualityFinding,
)
from governance.web.api.fields import StrictSerializer, parse_aware_datetime

# --- datasets -----------------------------------------------------------------------------------------------------


class DatasetSerializer(serializers.ModelSerializer):
    team: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="slug")
    created_by: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "name",
            "team",
            "description",
            "openlineage_namespace",
            "openlineage_name",
            "created_by",
            "created_at",
            "versions",
        ]

    def get_versions(self, dataset: Dataset) -> int:
        return dataset.versions.count()


class DatasetCreateSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=100)
    team = serializers.SlugField(max_length=64)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    openlineage_namespace = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    openlineage_name = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class QualityFindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityFinding
        fields = ["kind", "column", "severity", "measured", "message"]


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name", read_only=True)
    created_by: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    location = serializers.SerializerMethodField()
    quality_findings = QualityFindingSerializer(many=True, read_only=True)

    class Meta:
        model = DatasetVersion
        fields = [
            "dataset",
            "number",
            "format",
            "sha256",
            "size_bytes",
            "row_count",
            "schema",
            "location",
            "source_uri",
            "source_evidence",
            "original_name",
            "delimiter",
            "source",
            "licence",
            "collected_from",
            "collected_to",
            "subject_id_column",
            "label_column",
            "subject_count",
            "profile",
            "quality_findings",
            "created_by",
            "created_at",
        ]

    def get_location(self, version: DatasetVersion) -> str:
        return version.source_uri or version.external_uri or (f"storage:{version.file.name}" if version.file else "")


class SchemaColumnSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    dtype = serializers.CharField(max_length=100)
    nullable = serializers.BooleanField(required=False, default=True)


class DatasetVersionMetadataSerializer(StrictSerializer):
    """What describes a version besides its file: provenance, and the columns with a role."""

    external_uri = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    # A source Assay reads where it lives (docs/data-sources.md): parquet:///path or postgresql://<connection>/<table>
    source_uri = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A source read where it lives: parquet:///folder, or postgresql://<connection>/<schema.table> "
        "(or postgresql://<connection>?query=SELECT ... where the connection allows queries) on a connection the "
        "operator declared in DATA_SOURCE_CONNECTIONS, which fixes the host, database, role and password; "
        "delta:///table, delta+s3://bucket/table or iceberg://<catalog>/<namespace.table> (pinned to the current "
        "version unless ?version=N or ?snapshot=ID), or s3://bucket/prefix of Parquet objects in a declared bucket.",
    )
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, allow_blank=True, default="")
    row_count = serializers.IntegerField(
        required=False, min_value=0, max_value=2**53 - 1, allow_null=True, default=None
    )
    schema = serializers.ListField(child=SchemaColumnSerializer(), required=False, default=list, max_length=2000)
    # Named like DRF's Field.source; the serializer metaclass removes declared fields, so the attribute is intact.
    source = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    licence = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    collected_from = serializers.DateField(required=False, allow_null=True, default=None)
    collected_to = serializers.DateField(required=False, allow_null=True, default=None)
    subject_id_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    label_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    delimiter = serializers.CharField(max_length=4, required=False, default=",", trim_whitespace=False)
    missing_markers = serializers.ListField(
        child=serializers.CharField(max_length=20, allow_blank=True), required=False, default=list, max_length=20
    )

    def validate_external_uri(self, value: str) -> str:
        if value and "://" not in value:
            raise serializers.ValidationError("An external URI needs a scheme, e.g. s3://bucket/path.parquet.")
        if value and ("@" in urlsplit(value).netloc or any(c in value for c in "\r\n\x00")):
            raise serializers.ValidationError(
                "An external URI must not carry credentials (user:password@); the trail keeps it for ever."
            )
        return value


class CoverageSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    version = serializers.IntegerField()
    purpose = serializers.CharField()
    at = serializers.DateTimeField()
    subjects = serializers.IntegerField()
    consenting = serializers.IntegerField()
    withdrawn = serializers.IntegerField()
    expired = serializers.IntegerField()
    never_asked = serializers.IntegerField()


# --- lineage runs -------------------------------------------------------------------------------------------------


class NodeRefSerializer(StrictSerializer):
    """A dataset version (``dataset``) or, for outputs, a model version (``model``), by name and number."""

    dataset = serializers.SlugField(max_length=100, required=False)
    model = serializers.SlugField(max_length=100, required=False)
    version = serializers.IntegerField(min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("dataset" in attrs) == ("model" in attrs):
            raise serializers.ValidationError("Name either a dataset or a model.")
        return attrs


class RunCreateSerializer(StrictSerializer):
    run_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    job_namespace = serializers.CharField(max_length=500, required=False, default="assay")
    job_name = serializers.CharField(max_length=500)
    code_ref = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    parameters = serializers.DictField(required=False, default=dict)
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ended_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    inputs = serializers.ListField(child=NodeRefSerializer(), required=False, default=list, max_length=500)
    outputs = serializers.ListField(child=NodeRefSerializer(), min_length=1, max_length=500)

    def validate_inputs(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any("model" in ref for ref in value):
            raise serializers.ValidationError("Inputs are dataset versions; a model version can only be an output.")
        return value


class RunSerializer(serializers.ModelSerializer):
    team: serializers.Field = serializers.SlugRelatedField(allow_null=True, read_only=True, slug_field="slug")
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()

    class Meta:
        model = LineageRun
        fields = [
            "run_id",
            "job_namespace",
            "job_name",
            "code_ref",
            "parameters",
            "state",
            "started_at",
            "ended_at",
            "source",
            "team",
            "created_at",
            "inputs",
            "outputs",
        ]

    def _side(self, run: LineageRun, direction: str) -> list[str]:
        return [
            node_id(link.dataset_version or link.model_version)
            for link in run.links.filter(direction=direction).select_related(
                "dataset_version__dataset", "model_version__model"
            )
        ]

    def get_inputs(self, run: LineageRun) -> list[str]:
        return self._side(run, "input")

    def get_outputs(self, run: LineageRun) -> list[str]:
        return self._side(run, "output")


# --- consent ------------------------------------------------------------------------------------------------------


class PurposeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Purpose
        fields = ["code", "description", "legal_basis", "created_at"]


class PurposeCreateSerializer(StrictSerializer):
    code = serializers.SlugField(max_length=64)
    description = serializers.CharField(max_length=2000)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)


class AwareDateTimeField(serializers.DateTimeField):
    """A time that must carry its timezone: a naive time is refused, never assumed to be UTC."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return parse_aware_datetime(value, field=self.field_name or "time")
        return super().to_internal_value(value)


class ConsentEventCreateSerializer(StrictSerializer):
    external_id = serializers.CharField(max_length=500, required=False, allow_blank=False, trim_whitespace=False)
    pseudonym = serializers.RegexField(r"^[0-9a-f]{64}$", required=False)
    purpose = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    occurred_at = AwareDateTimeField()
    expires_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    notice_version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    controller = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    pii_categories = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=50
    )
    collection_method = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    jurisdiction = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("external_id" in attrs) == ("pseudonym" in attrs):
            raise serializers.ValidationError({"external_id": ["Give external_id or pseudonym (exactly one)."]})
        return attrs


class ConsentEventSerializer(serializers.ModelSerializer):
    subject = serializers.CharField(source="subject_id")
    purpose = serializers.CharField(source="purpose.code")

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "subject",
            "purpose",
            "kind",
            "occurred_at",
            "recorded_at",
            "expires_at",
            "source",
            "notice_version",
            "controller",
            "pii_categories",
            "collection_method",
            "jurisdiction",
            "batch",
        ]


# --- subjects -----------------------------------------------------------------------------------------------------


class LookupSerializer(StrictSerializer):
    external_id = serializers.CharField(max_length=500, trim_whitespace=False)


class PersonalDataSerializer(StrictSerializer):
    category = serializers.SlugField(max_length=64)
    data = serializers.DictField()  # type: ignore[assignment]  # a declared field; Serializer.data is intact

    def validate_data(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > settings.PERSONAL_RECORD_MAX_BYTES:
            raise serializers.ValidationError(f"At most {settings.PERSONAL_RECORD_MAX_BYTES} bytes of JSON.")
        return value
