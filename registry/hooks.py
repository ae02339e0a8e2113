"""Extension points other apps plug into, so the registry does not import them.

``DEPLOY_TOKEN_CHECKS``: callables ``check(version, environment, token) -> str | None`` that refuse a deployment whose
gate token does not bind this exact version and environment (the approval gate registers one).

``DEPLOYMENT_CHECKS``: callables ``check(version) -> str | None`` that may block a deployment with a reason
(the audit engine registers "the latest required audit for this version passed"). They run inside the deploy
action's transaction; the first reason returned refuses the deployment.

``VERSION_REGISTERED``: callables ``hook(version, *, actor)`` run inside the registering transaction (monitoring links
findings resolved by "retrain" to the new version).

``API_ROUTES``, ``PORTAL_ROUTES``: URL patterns other apps serve under the registry's namespaces (monitoring's
configuration, batches and drift), added before the URLconf loads (in ``AppConfig.ready``).

``VERSION_PANELS``: name -> ``panel(request, version, findings) -> context`` for the version page (monitoring).
``RUNS_VISIBLE_TO``: the audit runs a user may see (one callable, registered by the audits app); ``VERDICTS``: the
verdict choices the model list filters by.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from registry.models import Finding, ModelVersion

DeploymentCheck = Callable[["ModelVersion"], str | None]
# (version, environment, token) -> reason the token does not allow this deployment, or None.
TokenCheck = Callable[["ModelVersion", str, str], str | None]

DEPLOYMENT_CHECKS: list[DeploymentCheck] = []
# The approval gate's token verifier (registered by the audits app); used when GATE_REQUIRE_TOKEN_FOR_DEPLOY is on.
DEPLOY_TOKEN_CHECKS: list[TokenCheck] = []

VersionRegistered = Callable[..., object]  # (version, *, actor: Actor) -> anything (ignored)
VERSION_REGISTERED: list[VersionRegistered] = []

API_ROUTES: list[Any] = []
PORTAL_ROUTES: list[Any] = []

VersionPanel = Callable[["HttpRequest", "ModelVersion", "list[Finding]"], Any]
VERSION_PANELS: dict[str, VersionPanel] = {}
RUNS_VISIBLE_TO: list[Callable[[Any], QuerySet[Any]]] = []
VERDICTS: list[tuple[str, str]] = []


def deployment_blockers(version: ModelVersion) -> list[str]:
    """Reasons the registered checks give for not deploying ``version`` (empty: nothing blocks it)."""
    return [reason for check in DEPLOYMENT_CHECKS if (reason := check(version))]


def runs_visible_to(user: Any) -> QuerySet[Any]:
    """The audit runs ``user`` may see, newest first, as the audits app (always installed) answers."""
    return RUNS_VISIBLE_TO[0](user)
