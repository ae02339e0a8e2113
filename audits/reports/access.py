"""Access to reports: one chokepoint; a report is visible to whoever may see its model (404 otherwise)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from audits.models import Report
from governance.access.scoping import get_visible_or_404
from registry.access import models_visible_to


def reports_visible_to(user: Any) -> QuerySet[Report]:
    """Reports of the models ``user`` may see."""
    return Report.objects.filter(model_version__model__in=models_visible_to(user)).select_related(
        "model_version__model", "run", "created_by"
    )


def access_report(user: Any, pk: Any, request: Any = None, *, access_kind: str = "view") -> Report:
    """The report ``pk`` if ``user`` may see its model, else 404. ``access_kind`` ("view" or "download") is what
    a regulator's access is recorded as."""
    return get_visible_or_404(reports_visible_to(user), user, request, access_kind=access_kind, pk=pk)
