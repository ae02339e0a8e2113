"""Object scope shared by every app's access functions: which teams' objects a user may see.

Regulators are the exception to teams: they see exactly the models shared with them (``governance.exports``),
while the share is active, and through those models their versions, audit runs and reports; nothing else. Every
object a regulator opens through ``get_visible_or_404`` is recorded as a ``share.accessed`` trail event.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from governance.access import grants
from governance.access.actions import do_record_access_denied
from governance.access.roles import TEAM_ROLES, Role

M = TypeVar("M", bound=Model)


def filter_by_team(queryset: QuerySet[M], user: Any, *, team_field: str = "team") -> QuerySet[M]:
    """Narrow ``queryset`` to what ``user`` may see through team membership.

    Admins and officers see everything; owners, reviewers and CI users in a team see their teams' objects; a CI
    user in no team (the organisation's central pipeline) sees everything; regulators see the registered models
    shared with them while the share is active (and, through those models, what hangs off them), and nothing of
    any other kind; anyone else sees nothing. For a CI user this costs one query (``team_ids()``, cached on the
    user, so the organisation-wide test and the filter share it).
    """
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if user.is_organisation_wide:
        return queryset
    if user.role in TEAM_ROLES:
        return queryset.filter(**{f"{team_field}__in": user.team_ids()})
    if user.role == Role.REGULATOR and queryset.model._meta.label_lower == _REGISTERED_MODEL:
        return queryset.filter(pk__in=shared_model_ids(user))
    return queryset.none()


_REGISTERED_MODEL = "registry.registeredmodel"


def shared_model_ids(user: Any) -> QuerySet[Any]:
    """Ids of the models shared with regulator ``user`` by a share that is active now (a subquery; never cached,
    so an expiry or a revocation takes effect on the very next request). Shares answer through a hook."""
    return grants.shared_model_ids(user)


def get_visible_or_404(
    queryset: QuerySet[M],
    user: Any,
    request: Any = None,
    *,
    within_visible_parent: bool = False,
    access_kind: str = "view",
    **lookup: Any,
) -> M:
    """One object, or 404 both when it does not exist and when it is outside ``user``'s scope.

    When it exists but is out of scope, the refusal is recorded in the trail (with ``request``). Objects looked
    up inside a parent the caller can already see (a version of a visible model) pass ``within_visible_parent``:
    a miss there means "does not exist", and recording it as a denial would put noise in the trail. A regulator's
    access to what was found is recorded (``access_kind``: "view" or "download"; empty when the caller records it
    itself, once it knows what the access was).
    """
    try:
        found = queryset.get(**lookup)
    except ObjectDoesNotExist:
        if within_visible_parent:
            raise Http404 from None
        if request is not None and queryset.model._default_manager.filter(**lookup).exists():
            do_record_access_denied(request, reason="out_of_scope", scope="")
        raise Http404 from None
    if getattr(user, "role", None) == Role.REGULATOR and access_kind:
        record_regulator_access(user, found, request, kind=access_kind)
    return found


def record_regulator_access(user: Any, obj: Any, request: Any = None, *, kind: str = "view") -> None:
    """Record that regulator ``user`` opened ``obj`` (a ``share.accessed`` event on the share that grants it).

    Recorded once per object and request, so a version's page that also resolves its model counts each once.
    """
    if getattr(user, "role", None) != Role.REGULATOR:
        return  # only a regulator's accesses are recorded against the share that grants them
    seen: set[tuple[str, Any, str]] = getattr(request, "_assay_share_accesses", set()) if request else set()
    key = (obj._meta.label_lower, obj.pk, kind)
    if key in seen:
        return
    grants.record_share_access(user=user, obj=obj, request=request, kind=kind)
    if request is not None:
        seen.add(key)
        request._assay_share_accesses = seen
