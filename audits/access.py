"""Access to audit objects: one chokepoint each; not yours and not there both answer 404.

Policies are organisation-wide rules: everyone with ``audits:read`` reads them. An audit run is visible to whoever
may see its model.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from audits.models import AuditRun, Policy
from governance.access.scoping import get_visible_or_404
from registry.access import models_visible_to


def runs_visible_to(user: Any) -> QuerySet[AuditRun]:
    """Audit runs of the models ``user`` may see."""
    return AuditRun.objects.filter(model_version__model__in=models_visible_to(user)).select_related(
        "model_version__model", "dataset_version__dataset", "policy_version__policy", "created_by"
    )


def access_run(user: Any, pk: int, request: Any = None) -> AuditRun:
    """The audit run ``pk`` if ``user`` may see its model, else 404."""
    return get_visible_or_404(runs_visible_to(user), user, request, pk=pk)


def access_policy(name: str) -> Policy:
    """The policy named ``name``, else 404 (policies are not team-scoped)."""
    policy = Policy.objects.filter(name=name).first()
    if policy is None:
        raise Http404
    return policy
