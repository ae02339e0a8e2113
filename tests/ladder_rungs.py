"""What every rung module of the permission ladder shares (tests/access/test_permission_ladder.py, and the rungs
that the exports, gate and obligations tests contribute): who in the cast sees what, how an endpoint's object is
made, and a fresh minimal-risk model version to hang an object on."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from governance.access.models import Team
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion
from tests.conftest import Cast

ORGANISATION_WIDE = frozenset({"admin", "officer", "ci"})  # the cast's ci is in no team: the central pipeline
CREDIT_RISK = ORGANISATION_WIDE | {"owner", "reviewer", "read_only"}  # the owner's team (outsider is in hiring)
EVERYONE = frozenset(Cast.__dataclass_fields__)

#: The EU AI Act answers of a minimal-risk model (no Annex III area, no profiling, no interaction).
MINIMAL_RISK_ANSWERS = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Target:
    """How to make the object an endpoint's path names, and who in the cast may see it."""

    make: Callable[[Any], dict[str, Any]]  # creates (or finds) the object; returns the URL kwargs
    visible_to: frozenset[str]


def fresh_version(cast: Any, *, prefix: str, purpose: str) -> ModelVersion:
    """Version 1 of a new minimal-risk model of the owner's team (credit-risk), named ``<prefix>-<n>``."""
    owner = cast.owner.user
    model = registry.do_register_model(
        user=owner,
        actor=Actor.for_user(owner),
        name=f"{prefix}-{next(_numbers)}",
        team=Team.objects.get(slug="credit-risk"),
        purpose=purpose,
        risk_answers=MINIMAL_RISK_ANSWERS,
    )
    return registry.do_register_version(model=model, user=owner, actor=Actor.for_user(owner))
