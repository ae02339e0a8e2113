"""Audit API: policies (versioned YAML) and audit runs."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits import actions, policies
from audits.access import access_policy, access_run, runs_visible_to
from audits.api.serializers import (
    AuditCreateSerializer,
    AuditRunListSerializer,
    AuditRunSerializer,
    PolicyCreateSerializer,
    PolicySerializer,
    PolicyVersionSerializer,
)
from audits.models import Policy
from audits.policies import diff_policies
from governance.access.permissions import caller
from governance.data.access import access_dataset_version
from governance.trail.log import Actor
from governance.web.api.fields import validated
from registry.access import access_version


class PolicyList(generics.ListAPIView):
    """Audit policies with their latest version; POST stores a policy's YAML as its next version."""

    required_scopes = {"GET": "audits:read", "POST": "policies:write"}
    serializer_class = PolicySerializer

    def get_queryset(self) -> Any:
        # Reading never writes: the built-ins are stored by `manage.py install_policies` (and on first use).
        return Policy.objects.all()

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicyVersionSerializer})
    def post(self, request: Request) -> Response:
        data = validated(PolicyCreateSerializer, request.data)
        version = actions.do_save_policy(user=caller(request), actor=Actor.from_request(request), **data)
        created = getattr(version, "saved_now", True)
        return Response(
            PolicyVersionSerializer(version).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class PolicyDetail(APIView):
    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses=PolicySerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(PolicySerializer(access_policy(name)).data)


class PolicyVersionDetail(APIView):
    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses=PolicyVersionSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        try:
            version = policies.resolve(access_policy(name).name, number, install=False)
        except policies.PolicyNotFound:
            raise Http404 from None
        return Response(PolicyVersionSerializer(version).data)


class AuditList(generics.ListAPIView):
    """Audit runs of the models you may see (filter by ``model``, ``version``, ``status``, ``verdict``); POST
    starts one (the same inputs return the existing run unless ``force``)."""

    required_scopes = {"GET": "audits:read", "POST": "audits:run"}
    serializer_class = AuditRunListSerializer

    def get_queryset(self) -> Any:
        queryset = runs_visible_to(self.request.user)
        params = self.request.query_params
        if params.get("model"):
            queryset = queryset.filter(model_version__model__name=params["model"])
        if re.fullmatch(r"[0-9]{1,9}", params.get("version", "")):
            queryset = queryset.filter(model_version__number=int(params["version"]))
        for name in ("status", "verdict"):
            if params.get(name):
                queryset = queryset.filter(**{name: params[name]})
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("model", str), OpenApiParameter("status", str)],
        request=AuditCreateSerializer,
        responses={201: AuditRunSerializer, 200: AuditRunSerializer},
    )
    def post(self, request: Request) -> Response:
        data = validated(AuditCreateSerializer, request.data)
        version = access_version(request.user, data["model"], data["version"], request)
        dataset_version = access_dataset_version(request.user, data["dataset"], data["dataset_version"], request)
        actions.ensure_builtin_policies(only=data["policy"])  # a refused request stores nothing else
        try:
            policy_version = policies.resolve(data["policy"], data["policy_version"])
        except policies.PolicyNotFound as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        run, created = actions.do_start_audit(
            user=caller(request),
            actor=Actor.from_request(request),
            model_version=version,
            dataset_version=dataset_version,
            policy_version=policy_version,
            column_roles=data["column_roles"],
            force=data["force"],
        )
        run.refresh_from_db()  # the in-process job may already have finished it
        return Response(AuditRunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AuditDetail(APIView):
    """One audit run: status and progress, verdict and reasons, every check's full results, and what reproduces
    it (input hashes, library versions, seeds)."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(responses=AuditRunSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(AuditRunSerializer(access_run(request.user, pk, request)).data)


class PolicyDiff(APIView):
    """What changed between two versions of a policy: a unified diff of their canonical forms, one line per value
    (``checks.disparate_impact.impact_ratio_min.value: 0.8``), so a reviewer sees which threshold moved."""

    required_scopes = {"GET": "audits:read"}

    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)],
        responses=dict,
    )
    def get(self, request: Request, name: str) -> Response:
        policy = access_policy(name)
        numbers = {}
        for side in ("from", "to"):
            raw = request.query_params.get(side, "")
            if not re.fullmatch(r"[0-9]{1,9}", raw):
                raise ValidationError({side: ["A version number."]})
            numbers[side] = int(raw)
        versions = {v.number: v for v in policy.versions.filter(number__in=numbers.values())}
        missing = [str(n) for n in numbers.values() if n not in versions]
        if missing:
            raise ValidationError({"version": [f"{policy.name} has no version {', '.join(missing)}."]})
        old, new = versions[numbers["from"]], versions[numbers["to"]]
        diff = diff_policies(old.text, new.text, old_label=f"{name} v{old.number}", new_label=f"{name} v{new.number}")
        return Response({"policy": name, "from": old.number, "to": new.number, "diff": diff})
