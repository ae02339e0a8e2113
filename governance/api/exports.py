"""Exports API: evidence bundles (create, list, read, download) and shares with regulators (create, list, revoke,
see who accessed what)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access.models import User
from governance.access.permissions import caller
from governance.access.scoping import record_regulator_access
from governance.exports import actions
from governance.exports.access import access_export, access_share, exports_visible_to, shares_visible_to
from governance.exports.events import SHARE_ACCESSED
from governance.exports.models import Export, Share
from governance.trail.log import Actor
from governance.trail.models import Event
from governance.web.api.fields import StrictSerializer, validated
from registry.access import models_visible_to

_IN_MEMORY_BYTES = 32 << 20

# --- serializers -------------------------------------------------------------------------------------------------


class ExportSerializer(serializers.ModelSerializer):
    """An export: its scope and its build's progress; the bundle's facts (sha256, checkpoint, download) once ready."""

    model = serializers.CharField(source="model.name", read_only=True)
    version = serializers.SerializerMethodField()
    recipient: serializers.Field = serializers.SlugRelatedField(allow_null=True, read_only=True, slug_field="username")
    exporter: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    checkpoint = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()
    # null until the bundle is built (to_representation below)
    sha256 = serializers.CharField(read_only=True, allow_null=True)
    manifest_sha256 = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Export
        fields = [
            "id",
            "model",
            "version",
            "date_from",
            "date_to",
            "recipient",
            "exporter",
            "created_at",
            "status",
            "progress",
            "progress_note",
            "error",
            "started_at",
            "finished_at",
            "sha256",
            "size",
            "manifest_sha256",
            "events",
            "checkpoint",
            "previous",
            "download",
        ]

    def get_version(self, export: Export) -> int | None:
        return export.version.number if export.version else None

    def get_checkpoint(self, export: Export) -> dict[str, Any] | None:
        if export.checkpoint is None:
            return None
        return {"tree_size": export.checkpoint.tree_size, "root": bytes(export.checkpoint.root_hash).hex()}

    def get_download(self, export: Export) -> str | None:
        return f"/api/v1/exports/{export.pk}/download" if export.is_ready else None

    def to_representation(self, instance: Export) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in ("sha256", "manifest_sha256"):
            data[name] = data[name] or None  # not built yet: null rather than an empty string
        return data


class ExportCreateSerializer(StrictSerializer):
    model = serializers.SlugField(max_length=100)
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False, allow_null=True)
    # "from" is a Python keyword: the field is declared below under its JSON name.
    to = serializers.DateField(required=False, allow_null=True, input_formats=["iso-8601"])
    recipient = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, allow_null=True, input_formats=["iso-8601"])
        return fields


class ShareSerializer(serializers.ModelSerializer):
    model = serializers.SerializerMethodField()
    regulator: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    created_by: serializers.Field = serializers.SlugRelatedField(read_only=True, slug_field="username")
    revoked_by: serializers.Field = serializers.SlugRelatedField(allow_null=True, read_only=True, slug_field="username")
    active = serializers.SerializerMethodField()

    class Meta:
        model = Share
        fields = [
            "id",
            "model",
            "export",
            "regulator",
            "created_by",
            "created_at",
            "expires_at",
            "reason",
            "active",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
        ]

    def get_model(self, share: Share) -> str | None:
        return share.model.name if share.model else None

    def get_active(self, share: Share) -> bool:
        return share.is_active()


class ShareCreateSerializer(StrictSerializer):
    model = serializers.SlugField(max_length=100, required=False)
    export = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    regulator = serializers.CharField(max_length=150)
    expires_at = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=2000)

    def validate_expires_at(self, value: str) -> dt.datetime:
        try:
            moment = parse_datetime(value)
        except ValueError:  # well-formed but impossible, e.g. 30 February
            moment = None
        if moment is None or moment.tzinfo is None:
            raise serializers.ValidationError("Use an ISO 8601 time; give a time zone, e.g. 2027-01-31T12:00:00Z.")
        return moment

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("model" in attrs) == ("export" in attrs):
            raise serializers.ValidationError({"model": ["Share either a model or an export (exactly one)."]})
        return attrs


class RevokeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class AccessSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    user = serializers.IntegerField(allow_null=True)
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    kind = serializers.CharField()


# --- helpers -----------------------------------------------------------------------------------------------------


def _model_for_export(user: Any, name: str) -> Any:
    model = models_visible_to(user).filter(name=name).first()
    if model is None:
        raise actions.ExportError(f"There is no model named {name!r}.", code="not_found", status=404, field="model")
    return model


def _user_named(username: str, *, field: str) -> User:
    found = User.objects.filter(username=username).first()
    if found is None:
        raise actions.ExportError(f"There is no user named {username!r}.", field=field)
    return found


# --- exports -----------------------------------------------------------------------------------------------------


class ExportList(generics.ListAPIView):
    """Evidence bundles you may see; POST exports a new one (officers)."""

    required_scopes = {"GET": "exports:read", "POST": "exports:create"}
    serializer_class = ExportSerializer

    def get_queryset(self) -> Any:
        queryset = exports_visible_to(self.request.user)
        if self.request.query_params.get("model"):
            queryset = queryset.filter(model__name=self.request.query_params["model"])
        return queryset

    @extend_schema(
        request=ExportCreateSerializer,
        responses={
            201: OpenApiResponse(ExportSerializer, description="Built in process (no broker): ready, or error."),
            202: OpenApiResponse(
                ExportSerializer, description="Queued for a worker: poll the Location until status is ready or error."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(ExportCreateSerializer, request.data)
        user = caller(request)
        model = _model_for_export(user, data["model"])
        version = None
        if data.get("version") is not None:
            version = model.versions.filter(number=data["version"]).first()
            if version is None:
                raise actions.ExportError(
                    f"{model.name} has no version {data['version']}.", code="not_found", status=404, field="version"
                )
        recipient = _user_named(data["recipient"], field="recipient") if data.get("recipient") else None
        export = actions.do_create_export(
            user=user,
            actor=Actor.from_request(request),
            model=model,
            version=version,
            date_from=data.get("from"),
            date_to=data.get("to"),
            recipient=recipient,
        )
        body = ExportSerializer(export).data
        if export.is_live:
            location = f"/api/v1/exports/{export.pk}/"
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location, "Retry-After": "2"})
        return Response(body, status=status.HTTP_201_CREATED)


class ExportDetail(APIView):
    """One export, with its build's status and progress (poll it after a 202)."""

    required_scopes = {"GET": "exports:read"}

    @extend_schema(responses=ExportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExportSerializer(access_export(request.user, pk, request)).data)


class ExportDownload(APIView):
    """The bundle's ZIP, byte for byte as exported (ETag: its sha256)."""

    required_scopes = {"GET": "exports:read"}

    @extend_schema(responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, pk: int) -> HttpResponse | FileResponse:
        # Recorded below, once it is known whether bytes were sent (a download) or not (a refusal, a 304: a view).
        export = access_export(request.user, pk, request, kind="")
        if not export.is_ready:
            record_regulator_access(request.user, export, request, kind="view")
            raise actions.ExportError(_not_ready(export), code="export_not_ready", status=409)
        assert export.size is not None
        etag = f'"{export.sha256}"'
        filename = f"assay-evidence-{export.model.name}-{export.pk}.zip"
        not_modified = request.headers.get("If-None-Match") == etag
        record_regulator_access(request.user, export, request, kind="view" if not_modified else "download")
        if not_modified:
            response: HttpResponse | FileResponse = HttpResponse(status=304)
        elif export.size <= _IN_MEMORY_BYTES:
            # Small bundles are answered whole (every client, test client and middleware can read the body);
            # large ones stream from storage.
            with actions.open_bundle(export) as handle:
                response = HttpResponse(handle.read(), content_type="application/zip")
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
        else:
            response = FileResponse(
                actions.open_bundle(export), content_type="application/zip", as_attachment=True, filename=filename
            )
            response["Content-Length"] = str(export.size)
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-store"
        return response


def _not_ready(export: Export) -> str:
    if export.is_live:
        return (
            f"Export {export.pk} is not ready to download: it is {export.status} ({export.progress}%). "
            f"Poll /api/v1/exports/{export.pk}/ until its status is ready."
        )
    return f"Export {export.pk} has no bundle to download: its build failed ({export.error})."


# --- shares ------------------------------------------------------------------------------------------------------


class ShareList(generics.ListAPIView):
    """Shares you may see (regulators: those made to you); POST shares a model or an export (officers)."""

    required_scopes = {"GET": "exports:read", "POST": "exports:create"}
    serializer_class = ShareSerializer

    def get_queryset(self) -> Any:
        return shares_visible_to(self.request.user)

    @extend_schema(request=ShareCreateSerializer, responses={201: ShareSerializer})
    def post(self, request: Request) -> Response:
        data = validated(ShareCreateSerializer, request.data)
        user = caller(request)
        model = _model_for_export(user, data["model"]) if "model" in data else None
        export = None
        if "export" in data:
            export = exports_visible_to(user).filter(pk=data["export"]).first()
            if export is None:
                raise actions.ExportError(
                    f"There is no export {data['export']}.", code="not_found", status=404, field="export"
                )
        share = actions.do_create_share(
            user=user,
            actor=Actor.from_request(request),
            regulator=_user_named(data["regulator"], field="regulator"),
            expires_at=data["expires_at"],
            reason=data["reason"],
            model=model,
            export=export,
        )
        return Response(ShareSerializer(share).data, status=status.HTTP_201_CREATED)


class ShareRevoke(APIView):
    required_scopes = {"POST": "exports:create"}

    @extend_schema(request=RevokeSerializer, responses=ShareSerializer)
    def post(self, request: Request, pk: int) -> Response:
        share = access_share(request.user, pk, request)
        data = validated(RevokeSerializer, request.data)
        share = actions.do_revoke_share(
            share=share, user=caller(request), actor=Actor.from_request(request), reason=data["reason"]
        )
        return Response(ShareSerializer(share).data)


class ShareAccesses(generics.ListAPIView):
    """Every access a share gave: the ``share.accessed`` events of the trail, newest first."""

    required_scopes = {"GET": "exports:read"}
    serializer_class = AccessSerializer

    def get_queryset(self) -> Any:
        share = access_share(self.request.user, self.kwargs["pk"], self.request)
        return Event.objects.filter(
            action=SHARE_ACCESSED.name, object_type=share._meta.label_lower, object_id=str(share.pk)
        ).order_by("-seq")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [
            {
                "seq": event.seq,
                "at": event.recorded_at,
                "user": event.actor_user_id,
                "object_type": event.payload.get("object_type"),
                "object_id": event.payload.get("object_id"),
                "kind": event.payload.get("kind"),
            }
            for event in page or []
        ]
        return self.get_paginated_response(AccessSerializer(rows, many=True).data)
