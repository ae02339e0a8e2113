"""The exports' rungs of the permission ladder (tests/access/test_permission_ladder.py unpacks these at its anchors).

Exports and shares are seen by officers and administrators, and by the regulator they are shared with: every
object here is shared with the cast's regulator (regina), so the ladder checks that path too.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from django.test import TestCase
from django.utils import timezone

from governance.access.models import Team, User
from governance.exports.actions import do_create_export, do_create_share
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import RegisteredModel
from tests.ladder_rungs import EVERYONE, MINIMAL_RISK_ANSWERS, Target

LADDER_MODEL = "ladder-export-model"
SHARED = frozenset({"officer", "admin", "regulator"})
_numbers = itertools.count(1)


def _model(cast: Any, name: str) -> RegisteredModel:
    found = RegisteredModel.objects.filter(name=name).first()
    return found or registry.do_register_model(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        name=name,
        team=Team.objects.get(slug="credit-risk"),
        purpose="A model for the permission ladder's exports.",
        risk_answers=MINIMAL_RISK_ANSWERS,
    )


def _lists(cast: Any) -> dict[str, Any]:
    """The list endpoints name no object; the model their POST bodies name is made here, before any rung."""
    _model(cast, LADDER_MODEL)
    return {}


def _share(cast: Any, *, model: RegisteredModel) -> Any:
    return do_create_share(
        user=cast.officer.user,
        actor=Actor.for_user(cast.officer.user),
        regulator=cast.regulator.user,
        expires_at=timezone.now() + dt.timedelta(days=1),
        reason="Shared by the ladder.",
        model=model,
    )


def _export(cast: Any) -> dict[str, Any]:
    """A fresh export made for the regulator, whose model is shared with them."""
    model = _model(cast, f"ladder-export-{next(_numbers)}")

    with TestCase.captureOnCommitCallbacks(execute=True):  # the bundle is built once the request commits
        export = do_create_export(
            user=cast.officer.user, actor=Actor.for_user(cast.officer.user), model=model, recipient=cast.regulator.user
        )
    _share(cast, model=model)
    return {"pk": export.pk}


def _fresh_share(cast: Any) -> dict[str, Any]:
    return {"pk": _share(cast, model=_model(cast, f"ladder-export-{next(_numbers)}")).pk}


def _share_body() -> dict[str, Any]:
    assert User.objects.filter(username="regina").exists()
    return {
        "model": LADDER_MODEL,
        "regulator": "regina",
        "expires_at": (timezone.now() + dt.timedelta(days=1)).isoformat(),
        "reason": "Shared by the ladder.",
    }


OBJECTS: dict[str, Target] = {
    "api:export-list": Target(_lists, visible_to=EVERYONE),
    "api:share-list": Target(_lists, visible_to=EVERYONE),
    "api:export-detail": Target(_export, visible_to=SHARED),
    "api:export-download": Target(_export, visible_to=SHARED),
    "api:share-revoke": Target(_fresh_share, visible_to=SHARED),
    "api:share-accesses": Target(_fresh_share, visible_to=SHARED),
}

BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "api:export-list": lambda: {"model": LADDER_MODEL},
    "api:share-list": _share_body,
    "api:share-revoke": lambda: {"reason": "Revoked by the ladder."},
}
