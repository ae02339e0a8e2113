"""Object scope shared by every app's access functions: which teams' objects a user may see."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from governance.access.roles import Role

M = TypeVar("M", bound=Model)


def filter_by_team(queryset: QuerySet[M], user: Any, *, team_field: str = "team") -> QuerySet[M]:
    """Narrow ``queryset`` to what ``user`` may see through team membership.

    Organisation-wide roles (admin, officer, CI) see everything; owners and reviewers see their teams'
    objects; regulators and anyone else see nothing here (what is shared with a regulator is granted
    explicitly, by the exports that share it).
    """
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if user.is_organisation_wide:
        return queryset
    if user.role in (Role.OWNER, Role.REVIEWER):
        return queryset.filter(**{f"{team_field}__in": user.team_ids()})
    return queryset.none()


def get_visible_or_404(
    queryset: QuerySet[M], user: Any, request: Any = None, *, within_visible_parent: bool = False, **lookup: Any
) -> M:
    """One object, or 404 both when it does not exist and when it is outside ``user``'s scope.

    When it exists but is out of scope, the refusal is recorded in the trail (with ``request``). Objects looked
    up inside a parent the caller can already see (a version of a visible model) pass ``within_visible_parent``:
    a miss there means "does not exist", and recording it as a denial would put noise in the trail.
    """
    try:
        return queryset.get(**lookup)
    except ObjectDoesNotExist:
        if within_visible_parent:
            raise Http404 from None
        if request is not None and queryset.model._default_manager.filter(**lookup).exists():
            from governance.access.actions import do_record_access_denied

            do_record_access_denied(request, reason="out_of_scope", scope="")
        raise Http404 from None
