"""Request bodies of the obligations API (strict: unknown fields are refused)."""

from __future__ import annotations

from rest_framework import serializers

from governance.web.api.fields import StrictSerializer
from obligations.actions import MAX_REASON_CHARS
from obligations.catalogues.schema import ROLES
from obligations.models import DecisionKind, IncidentKind, StepKind


class CatalogueTextSerializer(StrictSerializer):
    text = serializers.CharField(max_length=128 * 1024, trim_whitespace=False)
    reason = serializers.CharField(max_length=MAX_REASON_CHARS, required=False, allow_blank=True, default="")


class ScopeSerializer(StrictSerializer):
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLES), min_length=1, max_length=len(ROLES))
    catalogues = serializers.ListField(child=serializers.SlugField(max_length=64), min_length=1, max_length=50)
    reason = serializers.CharField(max_length=MAX_REASON_CHARS)


class DecisionSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=DecisionKind.choices)
    reason = serializers.CharField(max_length=MAX_REASON_CHARS)
    document_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    document_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="")


class IncidentSerializer(StrictSerializer):
    # Text, checked by the action: an enum here would collide in the OpenAPI schema with the consent records' "kind".
    kind = serializers.CharField(max_length=32, help_text="One of: " + ", ".join(IncidentKind.values) + ".")
    description = serializers.CharField(max_length=MAX_REASON_CHARS)
    aware_at = serializers.DateTimeField()
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False, allow_null=True, default=None)


class IncidentStepSerializer(StrictSerializer):
    kind = serializers.CharField(max_length=32, help_text="One of: " + ", ".join(StepKind.values) + ".")
    note = serializers.CharField(max_length=MAX_REASON_CHARS)
    document_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    document_sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class SoaEntrySerializer(StrictSerializer):
    applicable = serializers.BooleanField()
    justification = serializers.CharField(max_length=MAX_REASON_CHARS)
    implementation = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    document_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    document_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="")
