"""The obligations' rungs of the permission ladder (tests/access/test_permission_ladder.py unpacks these at its
anchors). A model's obligations are seen with the model (its team, the organisation-wide roles); catalogues are
organisation-wide rules, as policies are."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from governance.trail.log import Actor
from obligations.incidents import do_record_incident
from registry.models import RegisteredModel
from tests.ladder_rungs import CREDIT_RISK, EVERYONE, Target, fresh_version

_numbers = itertools.count(1)


def _version(cast: Any) -> dict[str, Any]:
    """Version 1 of a fresh minimal-risk model of the owner's team."""
    version = fresh_version(cast, prefix="ladder-obligations", purpose="A model for the obligations' rungs.")
    return {"name": version.model.name, "number": version.number}


def _model(cast: Any) -> dict[str, Any]:
    return {"name": _version(cast)["name"]}


def _incident(cast: Any) -> dict[str, Any]:
    """A serious incident of a fresh model, recorded by the officer."""
    kwargs = _version(cast)
    model = RegisteredModel.objects.get(name=kwargs["name"])
    incident = do_record_incident(
        user=cast.officer.user,
        actor=Actor.for_user(cast.officer.user),
        model=model,
        kind="other",
        description="Recorded by the ladder.",
        aware_at=timezone.now(),
    )
    return {"name": model.name, "pk": incident.pk}


def _decision(cast: Any) -> dict[str, Any]:
    return {**_version(cast), "catalogue": "eu-ai-act-high-risk", "obligation": "art-17-quality-management"}


_CATALOGUE = """\
name: ladder-{n}
title: Ladder
framework: Ladder
binding: false
source: the permission ladder
description: A catalogue stored by the permission ladder.
obligations:
  - id: one
    title: One
    summary: One obligation.
    control: L.1
    applies_to: {{tiers: [minimal], roles: [provider]}}
    evidence:
      - {{kind: approval}}
"""

OBJECTS: dict[str, Target] = {
    "obligations-api:catalogue-detail": Target(lambda cast: {"name": "nist-ai-rmf"}, visible_to=EVERYONE),
    "obligations-api:catalogue-oscal": Target(lambda cast: {"name": "eu-ai-act-high-risk"}, visible_to=EVERYONE),
    "obligations-api:model-scope": Target(_model, visible_to=CREDIT_RISK),
    "obligations-api:version-obligations": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:version-oscal": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:version-annex-iv": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:version-annex-iv-pdf": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:version-monitoring-plan": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:version-monitoring-plan-pdf": Target(_version, visible_to=CREDIT_RISK),
    "obligations-api:obligation-decision": Target(_decision, visible_to=CREDIT_RISK),
    "obligations-api:incident-list": Target(_model, visible_to=CREDIT_RISK),
    "obligations-api:incident-report": Target(_incident, visible_to=CREDIT_RISK),
    "obligations-api:incident-steps": Target(_incident, visible_to=CREDIT_RISK),
    "obligations-api:soa-control": Target(lambda cast: {"control": "A.2.2"}, visible_to=EVERYONE),
}

BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "obligations-api:catalogue-list": lambda: {"text": _CATALOGUE.format(n=next(_numbers))},
    "obligations-api:model-scope": lambda: {
        "roles": ["provider"],
        "catalogues": ["eu-ai-act-high-risk"],
        "reason": "Set by the ladder.",
    },
    "obligations-api:obligation-decision": lambda: {"decision": "not_applicable", "reason": "Checked by the ladder."},
    "obligations-api:incident-list": lambda: {
        "kind": "other",
        "description": "Recorded by the ladder.",
        "aware_at": "2026-01-01T00:00:00Z",
    },
    "obligations-api:incident-steps": lambda: {"kind": "investigation", "note": "Recorded by the ladder."},
    "obligations-api:soa-control": lambda: {
        "applicable": True,
        "justification": "Set by the ladder.",
        "implementation": "planned",
    },
}
