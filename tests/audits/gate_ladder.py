"""The gate's rungs of the permission ladder (tests/access/test_permission_ladder.py unpacks these at its anchor). A
gate decision's proof is seen by whoever may ask the gate about its model: the model's team and the
organisation-wide roles holding ``gates:check``."""

from __future__ import annotations

from typing import Any

from audits.gate.decisions import decide
from governance.trail.log import Actor
from tests.ladder_rungs import CREDIT_RISK, Target, fresh_version


def _decision(cast: Any) -> dict[str, Any]:
    """The central pipeline's gate decision on version 1 of a fresh minimal-risk model of the owner's team."""
    version = fresh_version(cast, prefix="ladder-gate", purpose="A model for the gate's rungs.")
    result = decide(user=cast.ci.user, actor=Actor.for_user(cast.ci.user), version=version, environment="staging")
    return {"seq": result.seq}


OBJECTS: dict[str, Target] = {
    "audits-api:gate-decision-proof": Target(_decision, visible_to=CREDIT_RISK),
}
