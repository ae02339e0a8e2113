"""The registry's answers to data governance's questions about model versions (``governance.data.hooks``).

Data governance sits a floor below the registry and never imports it, yet a consent withdrawal or an erasure opens
findings on the model versions trained on the subject's data, and lineage (OpenLineage events, runs recorded through
the API) names model versions. The registry owns findings, models and who may see them, so it answers here;
``RegistryConfig.ready`` calls :func:`register` at start-up.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from governance.data import hooks
from registry.access import access_version, models_visible_to
from registry.models import Finding, FindingStatus, ModelVersion


def open_model_finding(
    version: ModelVersion, *, kind: str, cause: str, title: str, details: dict[str, Any]
) -> Finding | None:
    """An open finding on ``version`` for ``cause``, or None when one is open already: one finding per model version
    and cause, never two, also when a concurrent request opens it first (the database's constraint refuses the
    second; the savepoint keeps the caller's transaction usable)."""
    if Finding.objects.filter(version=version, cause=cause, status=FindingStatus.OPEN).exists():
        return None
    try:
        with transaction.atomic():
            return Finding.objects.create(
                version=version, kind=kind, cause=cause, title=title, details=details, status=FindingStatus.OPEN
            )
    except IntegrityError:
        return None


def visible_model_version(user: Any, name: str, number: int) -> ModelVersion | None:
    """Version ``number`` of the model ``name`` if ``user`` may see the model, else None (no 404, no trail event:
    an OpenLineage event that names a version the sender cannot see is answered, not refused)."""
    return (
        ModelVersion.objects.filter(model__in=models_visible_to(user), model__name=name, number=number)
        .select_related("model__team")
        .first()
    )


def register() -> None:
    """Answer data governance's hooks (called once, from ``RegistryConfig.ready``)."""
    hooks.register(
        open_model_finding=open_model_finding,
        visible_model_version=visible_model_version,
        access_model_version=access_version,
    )
