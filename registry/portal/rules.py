"""Why a person may not take a step right now, as the portal shows it beside a missing button.

The rule and its wording are the registry's own: each function here asks the public refusal function that the
action itself raises from (``registry.actions.*_refusal``) and returns its message. Nothing here decides anything.
"""

from __future__ import annotations

from governance.access.models import User
from registry import actions
from registry.models import Finding, ModelVersion


def _text(refusal: actions.RegistryError | None) -> str | None:
    return str(refusal) if refusal is not None else None


def review_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot approve or reject ``version`` now (the action's message), or None when they can."""
    refusal = actions.approval_refusal(user, version)
    if refusal is None:
        return None
    reason = str(refusal)
    if refusal.code != "self_review" and user.pk in (version.created_by_id, version.submitted_by_id):
        # Said as well, whatever the first refusal: the rule people most need to see.
        reason += " You also registered or submitted it: separation of duties means someone else reviews it."
    return reason


def submit_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot submit ``version`` for review now, or None."""
    return _text(actions.submit_refusal(user, version))


def deploy_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot deploy ``version`` now (role, state, approvals, a failed or missing audit), or None."""
    return _text(actions.deploy_refusal(user, version))


def retire_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot retire ``version`` now, or None."""
    return _text(actions.retire_refusal(user, version))


def card_refusal(user: User, version: ModelVersion) -> str | None:
    """Why ``user`` cannot edit ``version``'s model card now, or None."""
    return _text(actions.card_refusal(user, version))


def resolve_refusal(user: User, finding: Finding) -> str | None:
    """Why ``user`` cannot resolve ``finding`` now, or None."""
    return _text(actions.resolve_refusal(user, finding))


def retire_resolution_refusal(user: User, version: ModelVersion) -> str | None:
    """Why "retire" is not among the resolutions offered to ``user`` on ``version``, in the action's words."""
    return _text(actions.retire_resolution_refusal(user, version))
