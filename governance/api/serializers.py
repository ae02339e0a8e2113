"""Serializers of the governance app's own API (teams, the caller, tokens).

The helpers every app shares live in :mod:`governance.web.api.fields`.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.access.models import ApiToken, Team, User
from governance.access.permissions import caller_scopes
from governance.web.api.fields import StrictSerializer

__all__ = [
    "MeSerializer",
    "TeamSerializer",
    "TokenCreateSerializer",
    "TokenRevokeSerializer",
    "TokenSerializer",
]


class TeamSerializer(serializers.ModelSerializer):
    members: serializers.Field = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = Team
        fields = ["slug", "name", "created_at", "members"]


class MeSerializer(serializers.ModelSerializer):
    teams: serializers.Field = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    scopes = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "role", "teams", "scopes", "token"]

    def get_scopes(self, user: User) -> list[str]:
        return sorted(caller_scopes(self.context["request"]))

    def get_token(self, user: User) -> dict[str, Any] | None:
        auth = self.context["request"].auth
        if not isinstance(auth, ApiToken):
            return None
        return {"id": auth.pk, "read_only": auth.read_only, "expires_at": auth.expires_at}


class TokenSerializer(serializers.ModelSerializer):
    user: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "user",
            "name",
            "hint",
            "read_only",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoke_reason",
            "last_used_at",
        ]


class TokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    # The API field is called read_only; DRF's metaclass removes it from the class, so Field.read_only is intact.
    read_only = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]
    days = serializers.IntegerField(required=False, min_value=1, max_value=3650, allow_null=True, default=90)


class TokenRevokeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
