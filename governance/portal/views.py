"""Portal pages of the governance app: the dashboard (sign-in and sign-out are Django's own views)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe

from audits.access import runs_visible_to
from audits.models import RunStatus, Verdict
from governance.access.roles import SCOPES
from governance.exports.access import shares_visible_to
from governance.portal import dashboard
from governance.portal.trail import last_verification
from governance.trail.checkpoints import latest_checkpoint
from governance.trail.log import tree_size
from governance.web.portal.access import may, portal_user, portal_view
from registry.access import models_visible_to
from registry.models import Finding, FindingStatus, ModelVersion, RiskTier, VersionState
from registry.portal.rules import review_refusal


@portal_view(GET="meta:read")
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: models by risk tier and stage, audits that did not pass, approvals waiting for me, open
    findings, and the trail's integrity (latest checkpoint, last verification); and its pictures, each with its
    numbers: models by tier and stage, verdicts over time, open findings by kind and age, drift per deployed
    version (``governance.portal.dashboard``)."""
    user = portal_user(request)
    now = timezone.now()
    context: dict[str, Any] = {
        "scope_table": [(scope, SCOPES[scope]) for scope in sorted(SCOPES) if may(request, scope)],
        "trail_size": tree_size(),
        "checkpoint": latest_checkpoint(),
        "verification": last_verification(),
    }
    if may(request, "models:read"):
        models = models_visible_to(user)
        context["tier_stage"] = _tier_stage(models)
        context["tier_stage_chart"] = _svg(dashboard.tier_stage_chart(context["tier_stage"]))
        findings = Finding.objects.filter(version__model__in=models)
        context["finding_ages"] = _with_svg(dashboard.findings_by_kind_and_age(findings, now=now))
        context["drift"] = _with_svg(dashboard.drift_per_deployed_version(models))
        context["findings"] = (
            Finding.objects.filter(version__model__in=models, status=FindingStatus.OPEN)
            .select_related("version__model")
            .order_by("-opened_at", "-id")[:10]
        )
        context["finding_count"] = Finding.objects.filter(version__model__in=models, status=FindingStatus.OPEN).count()
    if may(request, "audits:read"):
        context["not_passing"] = (
            runs_visible_to(user)
            .filter(status=RunStatus.DONE, verdict__in=[Verdict.FAIL, Verdict.INSUFFICIENT])
            .order_by("-created_at", "-id")[:10]
        )
        context["running"] = runs_visible_to(user).filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).count()
        context["verdict_weeks"] = _with_svg(dashboard.verdicts_over_time(runs_visible_to(user), now=now))
    if may(request, "models:approve"):
        submitted = (
            ModelVersion.objects.filter(model__in=models_visible_to(user), state=VersionState.SUBMITTED)
            .select_related("model")
            .order_by("submitted_at", "pk")
        )
        context["waiting"] = [v for v in submitted[:200] if review_refusal(user, v) is None][:10]
    if may(request, "exports:read") and not may(request, "exports:create"):
        # A regulator's dashboard: what is shared with them, read-only, and until when.
        context["shared"] = shares_visible_to(user).filter(revoked_at__isnull=True).order_by("expires_at")[:20]
    return render(request, "portal/home.html", context)


def _svg(svg: str) -> str:
    return mark_safe(svg)  # noqa: S308 - governance.web.portal.svg escapes every text it draws


def _with_svg(picture: dict[str, Any]) -> dict[str, Any]:
    return {**picture, "chart": _svg(picture["chart"])}


def _tier_stage(models: Any) -> dict[str, Any]:
    """Counts of models by risk tier and by the state of their newest version."""
    stages = [*VersionState.values, "none"]
    counts = {tier: dict.fromkeys(stages, 0) for tier in RiskTier.values}
    latest_state: dict[int, str] = {}
    rows = ModelVersion.objects.filter(model__in=models).order_by("model_id", "number").values_list("model_id", "state")
    for model_id, state in rows:
        latest_state[model_id] = state
    total = 0
    for model_id, tier in models.values_list("pk", "risk_tier"):
        counts[tier][latest_state.get(model_id, "none")] += 1
        total += 1
    labels = dict(VersionState.choices) | {"none": "No version"}
    return {
        "stages": [(stage, labels[stage]) for stage in stages],
        "rows": [(tier, label, [counts[tier][s] for s in stages]) for tier, label in RiskTier.choices],
        "total": total,
        "by_tier": dict(models.values_list("risk_tier").annotate(n=Count("pk")).order_by()),
    }
