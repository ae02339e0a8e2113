"""Admin for the registry: descriptive fields only. Lifecycle fields are read-only here: transitions go through
the actions (API, portal, ``manage.py lifecycle``), which enforce the state machine and separation of duties."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from governance.trail.log import Actor
from registry import actions
from registry.models import Deployment, ModelVersion, RegisteredModel, Review


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "risk_tier", "created_at"]
    list_filter = ["risk_tier", "team"]
    search_fields = ["name", "purpose"]
    # Name, team and tier change only through actions (the tier needs an officer and a reason).
    readonly_fields = ["name", "team", "risk_tier", "risk_answers", "risk_rationale", "created_by", "created_at"]
    fields = [*readonly_fields, "purpose", "intended_use", "out_of_scope_uses", "business_kpis"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # registration classifies risk: use the API or the portal

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RegisteredModel, form: Any, change: bool) -> None:
        # Route the edit through the action so it is checked and recorded in the trail like any other.
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        actions.do_update_model(
            model=RegisteredModel.objects.get(pk=obj.pk),
            user=request.user,  # type: ignore[arg-type]
            actor=Actor.from_request(request),
            changes=changes,
        )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["model", "number", "state", "framework", "created_at"]
    list_filter = ["state", "framework"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ModelVersion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(_ReadOnly):
    list_display = ["version", "reviewer", "decision", "decided_at"]


@admin.register(Deployment)
class DeploymentAdmin(_ReadOnly):
    list_display = ["model", "version", "environment", "deployed_at", "retired_at"]
