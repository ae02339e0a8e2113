"""Admin for the registry: view-only. Models, versions and their lifecycle change only through the actions (API,
portal, ``manage.py lifecycle``), which enforce the state machine and separation of duties."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from governance.admin import ReadOnlyAdmin
from registry.models import Deployment, Finding, ModelVersion, RegisteredModel, Review


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    """Read-only: administrators do not register or edit models (separation of duties); owners use the API."""

    list_display = ["name", "team", "risk_tier", "created_at"]
    list_filter = ["risk_tier", "team"]
    search_fields = ["name", "purpose"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "number", "state", "framework", "created_at"]
    list_filter = ["state", "framework"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ModelVersion._meta.fields]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["version", "reviewer", "decision", "decided_at"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "environment", "deployed_at", "retired_at"]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    """Findings are resolved through the API or portal (a reviewer or officer, with a reason)."""

    list_display = ["version", "kind", "status", "opened_at", "resolution", "resolved_at"]
    list_filter = ["kind", "status", "resolution"]
