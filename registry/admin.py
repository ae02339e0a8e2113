"""Admin for the registry: descriptive fields only. Lifecycle fields are read-only here: transitions go through
the actions (API, portal, ``manage.py lifecycle``), which enforce the state machine and separation of duties."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from registry.models import Deployment, ModelVersion, RegisteredModel, Review


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    """Read-only: administrators do not register or edit models (separation of duties); owners use the API."""

    list_display = ["name", "team", "risk_tier", "created_at"]
    list_filter = ["risk_tier", "team"]
    search_fields = ["name", "purpose"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["model", "number", "state", "framework", "created_at"]
    list_filter = ["state", "framework"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ModelVersion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # View-only: saving a form of read-only fields would write back a stale row over a concurrent transition.
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
