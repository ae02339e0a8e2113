"""Extension points other apps plug into, so the registry does not import them.

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

DEPLOYMENT_CHECKS: list[DeploymentCheck] = []


def deployment_blockers(version: ModelVersion) -> list[str]:
    """Reasons the registered checks give for not deploying ``version`` (empty: nothing blocks it)."""
    return [reason for check in DEPLOYMENT_CHECKS if (reason := check(version))]
