"""The audit engine's deployment check: a version deploys only when its latest audit under the policy its risk
tier requires (``AUDIT_REQUIRED_POLICIES``) passed."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from audits.access import runs_visible_to
from audits.api.monitoring import API_ROUTES
from audits.gate.token import GateTokenError, check_claims, verify_gate_token
from audits.models import AuditRun, RunStatus, Verdict
from audits.monitoring.actions import link_retrained
from audits.policies.store import PolicyNotFound, resolve
from audits.portal.monitoring import PORTAL_ROUTES, monitoring_panel
from registry import hooks
from registry.hooks import DEPLOY_TOKEN_CHECKS, DEPLOYMENT_CHECKS


def required_audit_blocker(version: Any) -> str | None:
    """Why ``version`` may not deploy yet (no passing audit under its tier's policy), or None."""
    tier = version.model.risk_tier
    policy = settings.AUDIT_REQUIRED_POLICIES.get(tier)
    if not policy:
        return None
    try:
        current = resolve(policy, install=False)
    except PolicyNotFound:
        current = None
    # Only an audit under the policy's latest version counts: a looser, older version is not evidence now.
    latest = (
        AuditRun.objects.filter(model_version=version, policy_version=current, status=RunStatus.DONE)
        .order_by("-finished_at", "-id")
        .first()
        if current is not None
        else None
    )
    if latest is None:
        return f"{tier}-risk models need a passing audit under the '{policy}' policy, and {version} has none yet."
    if latest.verdict != Verdict.PASS:
        reasons = "; ".join(latest.verdict_reasons[:3]) if latest.verdict_reasons else ""
        return f"The latest audit of {version} under '{policy}' (run {latest.pk}) is {latest.verdict}" + (
            f": {reasons}" if reasons else "."
        )
    return None


if required_audit_blocker not in DEPLOYMENT_CHECKS:
    DEPLOYMENT_CHECKS.append(required_audit_blocker)


def gate_token_blocker(version: Any, environment: str, token: str) -> str | None:
    """Why ``token`` does not allow deploying ``version`` to ``environment`` (invalid, expired, or bound to other
    bytes or another environment), or None."""
    try:
        claims = verify_gate_token(token)
        check_claims(
            claims,
            model=version.model.name,
            version=version.number,
            environment=environment,
            artifact_sha256=version.artifact_sha256 or "-",
        )
    except GateTokenError as exc:
        return str(exc)
    return None


if gate_token_blocker not in DEPLOY_TOKEN_CHECKS:
    DEPLOY_TOKEN_CHECKS.append(gate_token_blocker)


# Monitoring judges with the audit engine, so it lives in audits; its API, portal panel and batch upload are served
# on the registry's version pages and under its URL namespaces (the same paths and names as when it lived there).
def _register_monitoring() -> None:
    if link_retrained not in hooks.VERSION_REGISTERED:
        hooks.VERSION_REGISTERED.append(link_retrained)
    if not hooks.API_ROUTES:
        hooks.API_ROUTES.extend(API_ROUTES)
    if not hooks.PORTAL_ROUTES:
        hooks.PORTAL_ROUTES.extend(PORTAL_ROUTES)
    hooks.VERSION_PANELS["monitoring"] = monitoring_panel
    hooks.RUNS_VISIBLE_TO[:] = [runs_visible_to]
    hooks.VERDICTS[:] = list(Verdict.choices)


_register_monitoring()
