"""Helpers shared by the version lifecycle tests (test_lifecycle*.py): performing a transition as a member,
asserting a refusal by its codes, the actions of events, and which versions are live in an environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from governance.access.actions import ActionError
from governance.trail.models import Event
from registry import actions
from registry.actions import RegistryError
from registry.models import Deployment, ModelVersion, RegisteredModel
from tests.api import db_state, events_since, last_seq
from tests.conftest import Member
from tests.registry.conftest import acting


def perform(transition: str, version: ModelVersion, member: Member, **extra: Any) -> Any:
    """Call ``do_<transition>`` as ``member`` with what the transition needs (reasons, production)."""
    kwargs: dict[str, Any] = {"version": version, "user": member.user, "actor": acting(member), **extra}
    if transition in ("reject", "retire"):
        kwargs.setdefault("reason", "the matrix says so")
    if transition == "deploy":
        kwargs.setdefault("environment", "production")
    return getattr(actions, f"do_{transition}")(**kwargs)


def assert_refused(call: Callable[[], Any], codes: set[str] | str, *, status: int | None = None) -> RegistryError:
    """``call`` raises a RegistryError with one of ``codes`` and leaves every table (and the trail) as it was."""
    codes = {codes} if isinstance(codes, str) else codes
    before, seq = db_state(), last_seq()
    with pytest.raises(RegistryError) as caught:
        call()
    assert caught.value.code in codes, f"{caught.value.code}: {caught.value}"
    assert isinstance(caught.value, ActionError)
    assert str(caught.value).strip()
    if status is not None:
        assert caught.value.status == status
    assert events_since(seq) == []
    assert db_state() == before
    return caught.value


def actions_of(events: list[Event]) -> list[str]:
    return [event.action for event in events]


# --- deployments -----------------------------------------------------------------------------------------------


def live(model: RegisteredModel, environment: str) -> list[int]:
    """Version numbers live in ``environment`` (never more than one, if the registry is right)."""
    return sorted(
        Deployment.objects.filter(model=model, environment=environment, retired_at__isnull=True).values_list(
            "version__number", flat=True
        )
    )
