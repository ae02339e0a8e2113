"""Why a person may not take a lifecycle step right now, in the words of the registry's own actions.

The portal shows a button only when the action would accept it, and otherwise says why. The reasons come from the
actions' own checks (``registry.actions``), run read-only: nothing here decides anything the action does not.
"""

from __future__ import annotations

from governance.access.models import User
from registry import actions
from registry.actions import RegistryError
from registry.models import ModelVersion


def review_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot approve or reject ``version`` now (the action's message), or None when they can."""
    try:
        actions._check_transition(version, "approve")
        actions._check_reviewer(version, user)
    except RegistryError as exc:
        reason = str(exc)
        if exc.code != "self_review" and user.pk in (version.created_by_id, version.submitted_by_id):
            # Said as well, whatever the first refusal: the rule people most need to see.
            reason += " You also registered or submitted it: separation of duties means someone else reviews it."
        return reason
    return None


def submit_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot submit ``version`` for review now, or None."""
    try:
        actions._require_role(user, actions.SUBMITTERS, "submit versions")
        if not actions._in_team(user, version.model):
            return "You are not in this model's team."
        actions._check_transition(version, "submit")
    except RegistryError as exc:
        return str(exc)
    return None


def deploy_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot deploy ``version`` now (role and state; the action checks the rest when asked), or None."""
    try:
        actions._require_role(user, actions.DEPLOYERS, "deploy versions")
        actions._check_transition(version, "deploy")
    except RegistryError as exc:
        return str(exc)
    return None


def card_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot edit ``version``'s model card now, or None."""
    try:
        actions._require_role(user, actions.SUBMITTERS, "edit model cards")
    except RegistryError as exc:
        return str(exc)
    if not actions._in_team(user, version.model):
        return "You are not in this model's team."
    if version.state not in actions.EDITABLE_CARD_STATES:
        return (
            f"The model card can no longer change: the version is {version.state} (editable while draft or submitted)."
        )
    if version.reviews.exists():
        return "The model card is frozen: a reviewer has already decided on it."
    return None
