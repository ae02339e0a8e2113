"""Serializers of the audit API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audits.evaluation import ColumnRoles, EvaluationError
from audits.models import AuditRun, CheckResult, Policy, PolicyVersion
from governance.web.api.fields import StrictSerializer


class PolicyVersionSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy.name", read_only=True)
    created_by: serializers.Field = serializers.SlugRelatedField(allow_null=True, read_only=True, slug_field="username")

    class Meta:
        model = PolicyVersion
        fields = [
            "policy",
            "number",
            "text",
            "document",
            "sha256",
            "canonical_sha256",
            "change_reason",
            "created_by",
            "created_at",
        ]


class PolicySerializer(serializers.ModelSerializer):
    latest = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = ["name", "title", "builtin", "created_at", "versions", "latest"]

    def get_versions(self, policy: Policy) -> list[int]:
        return list(policy.versions.order_by("number").values_list("number", flat=True))

    def get_latest(self, policy: Policy) -> dict[str, Any] | None:
        latest = policy.latest_version()
        return PolicyVersionSerializer(latest).data if latest else None


class PolicyCreateSerializer(StrictSerializer):
    text = serializers.CharField(max_length=65536, trim_whitespace=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ColumnRolesSerializer(StrictSerializer):
    """Column roles as ``ColumnRoles.from_json`` reads them; the validated value is their canonical JSON (the form
    stored with a run and hashed into its inputs)."""

    label = serializers.CharField(max_length=200)  # type: ignore[assignment]  # a declared field, not Field.label
    # A list of columns (each its own role), or a mapping role -> column: checked by ColumnRoles.from_json.
    protected = serializers.JSONField(
        help_text='1 to 10 protected columns ["sex", "age_group"], or a policy\'s roles mapped to columns '
        '{"sex": "gender", "race_ethnicity": "race"}.'
    )
    favourable = serializers.CharField(max_length=200, required=False, default="1")
    prediction = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    score = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    threshold = serializers.FloatField(required=False, allow_null=True, default=None)
    reference_groups = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    features = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list, max_length=2000
    )
    # Role (or column) -> extra tokens that mean "unknown"; group name -> the auditor's justification.
    unknown_values = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text='Role (or column) -> values meaning unknown besides an empty cell: {"race_ethnicity": ["NA"]}.',
    )
    exclusions = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Group -> the auditor's justification for leaving it out of impact ratios (LL144's 2% rule): "
        '{"race_ethnicity=Other": "..."}.',
    )
    # Role (or column) -> the feature columns it is derived from (their attribution counts as the role's).
    derived_from = serializers.JSONField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["prediction"] and attrs["score"]:
            raise serializers.ValidationError({"prediction": ["Give a prediction column or a score column, not both."]})
        if attrs["score"] and attrs["threshold"] is None:
            raise serializers.ValidationError({"threshold": ["A score column needs a decision threshold."]})
        try:
            return ColumnRoles.from_json(attrs).as_json()
        except EvaluationError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None


class AuditCreateSerializer(StrictSerializer):
    model = serializers.SlugField(max_length=100)
    version = serializers.IntegerField(min_value=1)
    dataset = serializers.SlugField(max_length=100)
    dataset_version = serializers.IntegerField(min_value=1)
    policy = serializers.SlugField(max_length=64)
    policy_version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    column_roles = ColumnRolesSerializer()
    force = serializers.BooleanField(required=False, default=False)


class CheckResultSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name")

    class Meta:
        model = CheckResult
        fields = ["check", "outcome", "required", "reason", "details"]


class AuditRunSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name")
    version = serializers.IntegerField(source="model_version.number")
    dataset = serializers.CharField(source="dataset_version.dataset.name")
    dataset_version = serializers.IntegerField(source="dataset_version.number")
    policy = serializers.CharField(source="policy_version.policy.name")
    policy_version = serializers.IntegerField(source="policy_version.number")
    created_by: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    checks = CheckResultSerializer(many=True, read_only=True)

    class Meta:
        model = AuditRun
        fields = [
            "id",
            "model",
            "version",
            "dataset",
            "dataset_version",
            "policy",
            "policy_version",
            "column_roles",
            "status",
            "progress",
            "progress_note",
            "verdict",
            "verdict_reasons",
            "checks",
            "results",
            "results_sha256",
            "input_hashes",
            "inputs_sha256",
            "library_versions",
            "seeds",
            "error",
            "forced",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]


class AuditRunListSerializer(AuditRunSerializer):
    class Meta(AuditRunSerializer.Meta):
        fields = [f for f in AuditRunSerializer.Meta.fields if f not in ("checks", "results")]
