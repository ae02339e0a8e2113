"""Django admin for administrators: users, teams and tokens; the trail is visible but never editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from governance.access.models import ApiToken, Team, User
from governance.data.models import (
    ConsentEvent,
    ConsentImport,
    Dataset,
    DatasetVersion,
    LineageRun,
    Purpose,
    QualityFinding,
)
from governance.trail.models import Checkpoint, Event, SigningKey


@admin.register(User)
class AssayUserAdmin(UserAdmin):
    """Roles, teams and privileges change only through actions that record an event (``manage.py set_role``);
    users are created with ``manage.py add_user``. Here an administrator can deactivate or reset a password."""

    list_display = ["username", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "teams"]
    fieldsets = [  # type: ignore[assignment]
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Assay", {"fields": ["role", "teams", "is_active"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["username", "role", "teams", "last_login", "date_joined"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # the trail refers to user ids: deactivate instead


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: records that change only through actions (and their trail events) are never edited here."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are issued with ``manage.py issue_token`` or the API (the raw value is shown once there)."""

    list_display = ["hint", "user", "name", "read_only", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["read_only"]
    readonly_fields = ["user", "digest", "hint", "read_only", "created_at", "expires_at", "revoked_at", "last_used_at"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "action", "actor_kind", "actor_user_id", "object_type", "object_id"]
    list_filter = ["action", "actor_kind"]
    exclude = ["leaf", "leaf_hash", "prev_hash"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "tree_size", "issued_at", "reason"]
    exclude = ["root_hash"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "key_id", "added_at"]
    exclude = ["public_key"]


# --- data governance: view-only; datasets, lineage and consent change through the actions -----------------------
# Subject keys and sealed personal records are deliberately not registered: nobody browses them, and erasure is
# the subject endpoint's job (it records the event and opens the findings).


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "team", "openlineage_namespace", "openlineage_name", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "number", "format", "row_count", "subject_count", "sha256", "created_at"]
    list_filter = ["format"]


@admin.register(QualityFinding)
class QualityFindingAdmin(ReadOnlyAdmin):
    list_display = ["version", "kind", "column", "severity", "message"]
    list_filter = ["kind", "severity"]


@admin.register(LineageRun)
class LineageRunAdmin(ReadOnlyAdmin):
    list_display = ["job_namespace", "job_name", "run_id", "state", "source", "team", "created_at"]
    list_filter = ["source", "state"]


@admin.register(Purpose)
class PurposeAdmin(ReadOnlyAdmin):
    list_display = ["code", "legal_basis", "created_at"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["subject", "purpose", "kind", "occurred_at", "batch"]
    list_filter = ["kind", "purpose"]


@admin.register(ConsentImport)
class ConsentImportAdmin(ReadOnlyAdmin):
    list_display = ["id", "file_name", "row_count", "subject_count", "sha256", "created_at"]
