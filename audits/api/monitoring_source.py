"""Monitoring API: where a version's production batches live, when they are read from a partitioned source.

PUT  /api/v1/models/{name}/versions/{n}/monitoring/source   {uri, partition_column, start, lag_days, enabled}
GET  /api/v1/models/{name}/versions/{n}/monitoring/source

A PUT with the same source, column and start keeps the place reached (``next_partition``); another one starts
again at ``start``, and days already taken from the source answered (``taken``) are skipped, never taken twice.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.models import BatchSource
from audits.monitoring.actions.sources import MAX_LAG_DAYS, do_configure_batch_source, taken_days
from governance.access.permissions import caller
from governance.trail.log import Actor
from governance.web.api.fields import StrictSerializer, validated
from registry.access import access_version


class BatchSourceSerializer(StrictSerializer):
    uri = serializers.CharField(
        max_length=2000,
        help_text="The partitioned table or folder: postgresql://<connection>/<schema.table> (a connection the "
        "operator declared) or parquet:///<folder> holding <column>=<date> folders (under DATA_SOURCE_ROOTS).",
    )
    partition_column = serializers.CharField(max_length=63, help_text="The date column (or folder key).")
    start = serializers.DateField(
        help_text="The first day whose partition is read. The same start (and source) as configured keeps the "
        "place reached; another starts again there, skipping days already taken from the source."
    )
    lag_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_LAG_DAYS,
        default=1,
        help_text="A day is read this many days after it (UTC): at least 1, a day that has ended.",
        error_messages={
            "min_value": "lag_days is at least 1: a day is read once it has ended, so 0 would read today's "
            "partition while it is still being written."
        },
    )
    enabled = serializers.BooleanField(default=True)


def source_json(found: BatchSource) -> dict[str, Any]:
    return {
        "configured": True,
        "uri": found.uri,
        "partition_column": found.partition_column,
        "lag_days": found.lag_days,
        "start": found.start.isoformat() if found.start else None,
        "next_partition": found.next_partition.isoformat(),
        "taken": taken_days(found),  # days already taken from this source: none is taken again
        "enabled": found.enabled,
        "waiting": found.waiting,
        "configured_by": found.configured_by.username,
        "configured_at": found.configured_at,
    }


class BatchSourceView(APIView):
    """Where a version's production batches live (a partitioned source read on the schedule); PUT sets it."""

    required_scopes = {"GET": "models:read", "PUT": "models:write"}

    @extend_schema(responses=dict)
    def get(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        found = BatchSource.objects.filter(version=version).select_related("configured_by").first()
        return Response(source_json(found) if found else {"configured": False})

    @extend_schema(request=BatchSourceSerializer, responses=dict)
    def put(self, request: Request, name: str, number: int) -> Response:
        version = access_version(request.user, name, number, request)
        data = validated(BatchSourceSerializer, request.data)
        found = do_configure_batch_source(
            version=version, user=caller(request), actor=Actor.from_request(request), **data
        )
        return Response(source_json(found))
