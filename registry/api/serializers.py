"""Serializers of the registry API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.access.permissions import caller_scopes
from governance.web.api.fields import StrictSerializer
from registry import risk
from registry.models import (
    MODEL_CARD_SECTIONS,
    Deployment,
    Environment,
    Finding,
    FindingResolution,
    ModelVersion,
    RegisteredModel,
    Review,
    Webhook,
    WebhookDelivery,
)


@extend_schema_field(
    {
        "type": "object",
        "description": "The risk questionnaire's answers, one per question of registry.risk.QUESTIONS (the Act's "
        "structure: Art. 5, Art. 6(1), Annex III, Art. 6(3), Art. 50). Answers of the first questionnaire "
        "(prohibited_practice, annex_iii_area, ...) are still accepted.",
    }
)
class RiskAnswersField(serializers.Field):
    """The questionnaire's answers, checked question by question (every problem named at once)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return risk.clean_answers(data)
        except risk.QuestionnaireError as exc:
            raise serializers.ValidationError(exc.problems) from None

    def to_representation(self, value: Any) -> Any:
        return value


class ModelSerializer(serializers.ModelSerializer):
    team: serializers.Field = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)
    live = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "team",
            "purpose",
            "intended_use",
            "out_of_scope_uses",
            "business_kpis",
            "risk_tier",
            "risk_answers",
            "risk_rationale",
            "risk_basis",
            "risk_change_reason",
            "created_by",
            "created_at",
            "live",
        ]

    def get_live(self, model: RegisteredModel) -> dict[str, int]:
        """Environment -> version number live there now."""
        return {
            d.environment: d.version.number
            for d in model.deployments.filter(retired_at__isnull=True).select_related("version")
        }


class ModelCreateSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=100)
    team = serializers.SlugField(max_length=64)
    purpose = serializers.CharField(max_length=5000)
    intended_use = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    out_of_scope_uses = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    business_kpis = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=50
    )
    risk_answers = RiskAnswersField()


class ModelUpdateSerializer(StrictSerializer):
    purpose = serializers.CharField(max_length=5000, required=False)
    intended_use = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    out_of_scope_uses = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    business_kpis = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=50)


class RiskChangeSerializer(StrictSerializer):
    risk_answers = RiskAnswersField()
    reason = serializers.CharField(max_length=2000)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Review
        fields = ["reviewer", "decision", "reason", "decided_at"]


class DeploymentSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number")
    deployed_by: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)
    retired_by: serializers.Field = serializers.SlugRelatedField(allow_null=True, slug_field="username", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "version",
            "environment",
            "deployed_by",
            "deployed_at",
            "reason",
            "retired_by",
            "retired_at",
            "retire_reason",
        ]


class VersionSerializer(serializers.ModelSerializer):
    model: serializers.Field = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)
    submitted_by: serializers.Field = serializers.SlugRelatedField(
        allow_null=True, slug_field="username", read_only=True
    )
    reviews = ReviewSerializer(many=True, read_only=True)
    deployments = DeploymentSerializer(many=True, read_only=True)
    signed_by = serializers.CharField(
        read_only=True,
        help_text="Who signed the artifact, with the method: key:<trusted key's name> or "
        "cert:<email|uri|dns|cn>:<certificate identity>; empty if unsigned.",
    )
    signature = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="The verified model signature; empty if unsigned."
    )

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "number",
            "state",
            "framework",
            "artifact_name",
            "artifact_sha256",
            "artifact_size",
            "artifact_details",
            "input_schema",
            "output_schema",
            "hyperparameters",
            "metrics",
            "code_repository",
            "code_commit",
            "training_datasets",
            "model_card",
            "created_by",
            "created_at",
            "submitted_by",
            "submitted_at",
            "submit_reason",
            "signed_by",
            "signature",
            "reviews",
            "deployments",
        ]


class ModelCardSerializer(StrictSerializer):
    """Model card sections (Model Cards for Model Reporting); each is free text."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: serializers.CharField(max_length=20000, required=False, allow_blank=True)
            for name in MODEL_CARD_SECTIONS
        }


class VersionMetadataSerializer(StrictSerializer):
    hyperparameters = serializers.DictField(required=False, default=dict)
    metrics = serializers.DictField(required=False, default=dict)
    code_repository = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    code_commit = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", required=False, allow_blank=True, default="")
    training_datasets = serializers.ListField(required=False, default=list, max_length=100)
    model_card = ModelCardSerializer(required=False)
    input_schema = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=10000,
        help_text="Predictions-only versions: the features, as [{name, type}].",
    )


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DeploySerializer(StrictSerializer):
    environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    gate_token = serializers.CharField(max_length=8000, required=False, allow_blank=True, default="")


class RetireSerializer(StrictSerializer):
    environment = serializers.ChoiceField(choices=Environment.choices, required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=2000)


class HistoryEvidenceSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Trail sequence number: ask /api/v1/trail/proofs/inclusion for it.")
    at = serializers.DateTimeField()
    leaf_hash = serializers.CharField()


class HistoryApprovalSerializer(HistoryEvidenceSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    artifact_sha256 = serializers.CharField(allow_null=True)
    deployed_by = serializers.CharField(allow_null=True)
    deployed_by_user_id = serializers.IntegerField(allow_null=True)
    deployed = HistoryEvidenceSerializer()
    approvals = HistoryApprovalSerializer(many=True)


class HistorySerializer(serializers.Serializer):
    """What was live in each environment at ``as_of``, with the trail events that prove it."""

    model = serializers.CharField()
    as_of = serializers.DateTimeField()
    environments = serializers.DictField(child=HistoryEntrySerializer())


class WebhookSerializer(serializers.ModelSerializer):
    created_by: serializers.Field = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "url", "active", "created_by", "created_at"]


class WebhookCreateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=500)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_seq",
            "event_action",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    resolved_by: serializers.Field = serializers.SlugRelatedField(
        allow_null=True, read_only=True, slug_field="username"
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "model",
            "version",
            "kind",
            "title",
            "details",
            "status",
            "opened_at",
            "resolution",
            "resolution_reason",
            "resolved_by",
            "resolved_at",
        ]

    def to_representation(self, instance: Finding) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        details = data.get("details")
        # A consent finding names the data subject's pseudonym. Only those who handle consent (officers,
        # administrators) see it; the model's team and a regulator see that a subject withdrew, not who.
        if (
            isinstance(details, dict)
            and "subject" in details
            and (request is None or "consent:read" not in caller_scopes(request))
        ):
            data["details"] = {key: value for key, value in details.items() if key != "subject"}
        return data


class FindingResolveSerializer(StrictSerializer):
    resolution = serializers.ChoiceField(choices=FindingResolution.choices)
    reason = serializers.CharField(max_length=5000)
