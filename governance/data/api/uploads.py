"""Large dataset uploads handed to a worker (``governance.data.actions.uploads``): 202 from the version list's POST,
then ``GET .../datasets/{name}/uploads/{id}`` until it says ``done`` (with the version) or ``refused`` (with why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access.permissions import caller
from governance.access.scoping import get_visible_or_404
from governance.data.access import access_dataset
from governance.data.actions.uploads import do_receive_dataset_upload
from governance.data.models import Dataset, DatasetUpload
from governance.trail.log import Actor


class DatasetUploadSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    dataset = serializers.CharField(source="dataset.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True, default=None)
    location = serializers.SerializerMethodField()

    class Meta:
        model = DatasetUpload
        fields = [
            "id",
            "dataset",
            "status",
            "original_name",
            "size_bytes",
            "sha256",
            "version",
            "error",
            "error_field",
            "created_at",
            "finished_at",
            "location",
        ]

    def get_location(self, upload: DatasetUpload) -> str:
        """This upload's URL (poll it)."""
        return reverse("api:dataset-upload-detail", kwargs={"name": upload.dataset.name, "upload_id": upload.pk})


def receive(request: Request, dataset: Dataset, upload: Any, metadata: dict[str, Any]) -> Response:
    """Store ``upload`` and queue its profiling: 202 with the upload to poll."""
    received = do_receive_dataset_upload(
        dataset=dataset,
        user=caller(request),
        actor=Actor.from_request(request),
        file_path=Path(upload.temporary_file_path()),
        file_name=upload.name,
        metadata=metadata,
    )
    body = DatasetUploadSerializer(received).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["location"]})


class DatasetUploadDetail(APIView):
    """Where a large upload stands: queued, being profiled, done (with its version) or refused (with why)."""

    required_scopes = {"GET": "datasets:read"}

    @extend_schema(
        summary="Show where a large dataset upload stands", tags=["datasets"], responses=DatasetUploadSerializer
    )
    def get(self, request: Request, name: str, upload_id: int) -> Response:
        dataset = access_dataset(request.user, name, request)
        upload = get_visible_or_404(
            DatasetUpload.objects.filter(dataset=dataset).select_related("dataset", "version"),
            request.user,
            request,
            within_visible_parent=True,
            pk=upload_id,
        )
        return Response(DatasetUploadSerializer(upload).data)
