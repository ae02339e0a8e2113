"""Extension points other apps plug into, so the registry does not import them.

``DEPLOY_TOKEN_CHECKS``: callables ``check(version, environment, token) -> str | None`` that refuse a deployment whose
gate token does not bind this exact version and environment (the approval gate registers one).

``DEPLOYMENT_CHECKS``: callables ``check(version) -> str | None`` that may block a deployment with a reason
(the audit engine registers "the latest required audit for this version passed"). They run inside the deploy
action's transaction; the first reason returned refuses the deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.models import ModelVersion

DeploymentCheck = Callable[["ModelVersion"], str | None]
# (version, environment, token) -> reason the token does not allow this deployment, or None.
TokenCheck = Callable[["ModelVersion", str, str], str | None]

DEPLOYMENT_CHECKS: list[DeploymentCheck] = []
# The approval gate's token verifier (registered by the audits app); used when GATE_REQUIRE_TOKEN_FOR_DEPLOY is on.
DEPLOY_TOKEN_CHECKS: list[TokenCheck] = []


def deployment_blockers(version: ModelVersion) -> list[str]:
    """Reasons the registered checks give for not deploying ``version`` (empty: nothing blocks it)."""
    return [reason for check in DEPLOYMENT_CHECKS if (reason := check(version))]
