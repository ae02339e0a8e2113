"""The API root, identity, teams, tokens and the health check."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access.actions import do_issue_token, do_revoke_token
from governance.access.models import ApiToken, Team
from governance.access.permissions import caller, caller_scopes
from governance.access.scoping import filter_by_team, get_visible_or_404
from governance.api.serializers import (
    MeSerializer,
    TeamSerializer,
    TokenCreateSerializer,
    TokenRevokeSerializer,
    TokenSerializer,
)
from governance.trail.log import Actor


class ApiRoot(APIView):
    """Where to go next."""

    required_scopes = {"GET": "meta:read"}

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return request.build_absolute_uri(reverse(name))

        return Response(
            {
                "me": link("api:me"),
                "teams": link("api:team-list"),
                "tokens": link("api:token-list"),
                "trail": {
                    "events": link("api:trail-event-list"),
                    "checkpoints": link("api:trail-checkpoint-list"),
                    "latest_checkpoint": link("api:trail-checkpoint-latest"),
                },
                "schema": link("api-schema"),
                "docs": link("api-docs"),
            }
        )


class Me(APIView):
    """Who is calling: role, teams and the scopes of this credential."""

    required_scopes = {"GET": "meta:read"}

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)


def teams_visible_to(user: Any) -> Any:
    """Teams a user may see: all of them for organisation-wide roles, otherwise their own."""
    queryset = Team.objects.prefetch_related("members")
    return filter_by_team(queryset, user, team_field="pk")


class TeamList(generics.ListAPIView):
    required_scopes = {"GET": "teams:read"}
    serializer_class = TeamSerializer

    def get_queryset(self) -> Any:
        return teams_visible_to(self.request.user)


class TeamDetail(APIView):
    required_scopes = {"GET": "teams:read"}

    @extend_schema(responses=TeamSerializer)
    def get(self, request: Request, slug: str) -> Response:
        team = get_visible_or_404(teams_visible_to(request.user), request.user, request, slug=slug)
        return Response(TeamSerializer(team).data)


def tokens_visible_to(request: Any) -> Any:
    """A caller's own tokens; every token for holders of ``tokens:manage``."""
    queryset = ApiToken.objects.select_related("user")
    if "tokens:manage" in caller_scopes(request):
        return queryset
    return queryset.filter(user=request.user)


class TokenList(generics.ListAPIView):
    """List your tokens, or issue a new one for yourself (shown once in the response)."""

    required_scopes = {"GET": "meta:read", "POST": "tokens:self"}
    serializer_class = TokenSerializer

    def get_queryset(self) -> Any:
        return tokens_visible_to(self.request)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A read-only credential never mints a read-write one: it cannot reach here, tokens:self is a write scope.
        issued = do_issue_token(
            user=caller(request),
            actor=Actor.from_request(request),
            name=data["name"],
            read_only=data["read_only"],
            days=data["days"],
        )
        body = TokenSerializer(issued.token).data
        body["token"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetail(APIView):
    """See or revoke one of your tokens (anyone's, with ``tokens:manage``)."""

    required_scopes = {"GET": "meta:read", "DELETE": "tokens:self"}

    @extend_schema(responses=TokenSerializer)
    def get(self, request: Request, pk: int) -> Response:
        token = get_visible_or_404(tokens_visible_to(request), request.user, request, pk=pk)
        return Response(TokenSerializer(token).data)

    @extend_schema(request=TokenRevokeSerializer, responses={200: TokenSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        token = get_visible_or_404(tokens_visible_to(request), request.user, request, pk=pk)
        # An empty body parses as {}; a body that is not an object ([] or false) is refused, not taken as {}.
        serializer = TokenRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = do_revoke_token(token=token, actor=Actor.from_request(request), **serializer.validated_data)
        return Response(TokenSerializer(token).data)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers and every migration is applied. No details leak."""
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    if pending:
        return JsonResponse({"status": "error", "migrations": f"{len(pending)} not applied"}, status=503)
    return JsonResponse({"status": "ok"})


@csrf_exempt  # it changes nothing; without this a POST here answered Django's HTML CSRF page (403), not the 404
def api_not_found(request: HttpRequest) -> JsonResponse:
    """JSON 404 for any path under /api/ that names no endpoint, whatever the method."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": f"No API endpoint at {request.path}.", "details": {}}}, status=404
    )
