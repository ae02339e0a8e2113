"""What every registry action shares: the refusal type, the lifecycle's state machine, the role lists, and the
small helpers that lock a version, check a team and record a transition with its webhook notifications."""

from __future__ import annotations

from typing import Any

from governance.access.actions import ActionError, require_scope
from governance.access.models import User
from governance.access.roles import roles_with_scope
from governance.trail.events import EventType
from governance.trail.log import Actor, record_event
from registry.models import ModelVersion, RegisteredModel, VersionState
from registry.webhooks import queue_deliveries


class RegistryError(ActionError):
    """A refused registry action (409 by default: the request conflicts with the version's state)."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 409) -> None:
        super().__init__(message, code=code, status=status)


# state -> transition -> target state. Anything not listed is an illegal transition.
TRANSITIONS: dict[str, dict[str, str]] = {
    VersionState.DRAFT: {"submit": VersionState.SUBMITTED},
    VersionState.SUBMITTED: {"approve": VersionState.APPROVED, "reject": VersionState.REJECTED},
    VersionState.APPROVED: {"deploy": VersionState.DEPLOYED},
    VersionState.REJECTED: {},
    VersionState.DEPLOYED: {"deploy": VersionState.DEPLOYED, "retire": VersionState.RETIRED},
    VersionState.RETIRED: {},
}

# Who may take each step is the role-to-scope table's (governance.access.roles), which the actions ask through
# _require_scope; these names, read from that table, remain for callers that list the roles.
SUBMITTERS = roles_with_scope("models:write")
APPROVERS = roles_with_scope("models:approve")
DEPLOYERS = roles_with_scope("models:deploy")
EDITABLE_CARD_STATES = frozenset({VersionState.DRAFT, VersionState.SUBMITTED})
DESCRIPTIVE_FIELDS = ("purpose", "intended_use", "out_of_scope_uses", "business_kpis")


def _check_transition(version: ModelVersion, transition: str) -> str:
    target = TRANSITIONS[version.state].get(transition)
    if target is None:
        allowed = ", ".join(TRANSITIONS[version.state]) or "none: this state is final"
        raise RegistryError(
            f"Cannot {transition} {version}: it is {version.state}. Allowed from {version.state}: {allowed}.",
            code="illegal_transition",
        )
    return target


def _in_team(user: User, model: RegisteredModel) -> bool:
    return user.is_organisation_wide or model.team_id in user.team_ids()


def _require_scope(user: User, scope: str, what: str) -> None:
    require_scope(user, scope, what, error=RegistryError)


def _locked(version: ModelVersion) -> ModelVersion:
    # Re-read under a row lock (PostgreSQL) / the write lock (SQLite): the state we check is the state we change.
    return ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)


def _transition_event(event_type: EventType, *, actor: Actor, obj: ModelVersion, payload: dict[str, Any]) -> None:
    """Record a lifecycle event and queue its webhook notifications, in the caller's transaction."""
    event = record_event(event_type, actor=actor, obj=obj, payload=payload)
    queue_deliveries(event, model_id=obj.model_id)


def _ref(version: ModelVersion) -> dict[str, Any]:
    return {"model": version.model.name, "version": version.number}


def _team_refusal(user: User, model: RegisteredModel, message: str = "You are not in this model's team.") -> None:
    if not _in_team(user, model):
        raise RegistryError(message, code="not_in_team", status=403)


def _refuse(refusal: RegistryError | None) -> None:
    if refusal is not None:
        raise refusal
