"""Access to registry objects: one chokepoint each; not yours and not there both answer 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from governance.access.roles import Role
from governance.access.scoping import get_visible_or_404
from registry.models import ModelVersion, RegisteredModel, Webhook


def models_visible_to(user: Any) -> QuerySet[RegisteredModel]:
    """Models the user may see: their teams' (owners, reviewers) or all (officers, admins, CI)."""
    return RegisteredModel.objects.visible_to(user).select_related("team")


def access_model(user: Any, name: str, request: Any = None) -> RegisteredModel:
    """The model named ``name`` if ``user`` may see it, else 404."""
    return get_visible_or_404(models_visible_to(user), user, request, name=name)


def access_version(user: Any, name: str, number: int, request: Any = None) -> ModelVersion:
    """Version ``number`` of model ``name`` if ``user`` may see the model, else 404."""
    model = access_model(user, name, request)
    return get_visible_or_404(
        ModelVersion.objects.filter(model=model).select_related("model", "model__team"),
        user,
        request,
        within_visible_parent=True,
        number=number,
    )


def webhooks_of(user: Any, model: RegisteredModel) -> QuerySet[Webhook]:
    """The webhooks of ``model`` (which ``user`` can see) as ``user`` may see them: all of them for the model's team
    and the organisation-wide roles, none for a regulator (a share gives the model's evidence, not its operational
    configuration such as hook URLs)."""
    if getattr(user, "role", None) == Role.REGULATOR:
        return Webhook.objects.none()
    return Webhook.objects.filter(model=model).select_related("created_by")
