"""The gate's rungs of the permission ladder (tests/access/test_permission_ladder.py unpacks these at its anchor). A
gate decision's proof is seen by whoever may ask the gate about its model: the model's team and the
organisation-wide roles holding ``gates:check``."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audits.gate.decisions import decide
from governance.access.models import Team
from governance.trail.log import Actor
from registry import actions as registry

CREDIT_RISK = frozenset({"admin", "officer", "ci", "owner", "reviewer", "read_only"})
_numbers = itertools.count(1)
_MINIMAL = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}


@dataclass(frozen=True)
class Target:
    make: Callable[[Any], dict[str, Any]]
    visible_to: frozenset[str]


def _decision(cast: Any) -> dict[str, Any]:
    """The central pipeline's gate decision on version 1 of a fresh minimal-risk model of the owner's team."""
    owner = cast.owner.user
    model = registry.do_register_model(
        user=owner,
        actor=Actor.for_user(owner),
        name=f"ladder-gate-{next(_numbers)}",
        team=Team.objects.get(slug="credit-risk"),
        purpose="A model for the gate's rungs.",
        risk_answers=_MINIMAL,
    )
    version = registry.do_register_version(model=model, user=owner, actor=Actor.for_user(owner))
    result = decide(user=cast.ci.user, actor=Actor.for_user(cast.ci.user), version=version, environment="staging")
    return {"seq": result.seq}


OBJECTS: dict[str, Target] = {
    "audits-api:gate-decision-proof": Target(_decision, visible_to=CREDIT_RISK),
}
