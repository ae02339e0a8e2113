"""The registry of event types that may appear in the trail.

Every event type is declared once, with the payload fields it may carry. ``record_event`` refuses an
undeclared type or an undeclared payload field, which keeps the trail's vocabulary stable for the people
who read it years later and stops personal data from slipping into a leaf by accident: a field has to be
named here, in review, before anything can write it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name (``<object>.<past-tense verb>``), meaning and permitted payload fields."""

    name: str
    description: str
    fields: frozenset[str]


_REGISTRY: dict[str, EventType] = {}


def register(name: str, description: str, *, fields: tuple[str, ...] = ()) -> EventType:
    """Declare an event type; a second declaration of the same name is a programming error."""
    if name in _REGISTRY:
        raise ValueError(f"event type {name!r} is registered twice")
    if name.count(".") != 1 or name != name.lower():
        raise ValueError(f"event type {name!r} must look like 'object.verb' in lower case")
    event_type = EventType(name=name, description=description, fields=frozenset(fields))
    _REGISTRY[name] = event_type
    return event_type


def get(name: str) -> EventType:
    """The declared type, or KeyError naming the unknown type."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"event type {name!r} is not registered (see governance/trail/events.py)") from None


def all_types() -> list[EventType]:
    """Every declared type, sorted by name."""
    return sorted(_REGISTRY.values(), key=lambda t: t.name)


# --- identity and access --------------------------------------------------------------------------------------
USER_CREATED = register("user.created", "A user or service account was created.", fields=("role", "teams"))
USER_ROLE_CHANGED = register("user.role_changed", "A user's role or teams changed.", fields=("role", "teams"))
TEAM_CREATED = register("team.created", "A team was created.", fields=("slug",))
TOKEN_ISSUED = register(
    "token.issued", "An API token was issued (its hash, never the token).", fields=("read_only", "expires_at", "user")
)
TOKEN_REVOKED = register(
    "token.revoked",
    "An API token was revoked (the reason's hash; the text stays on the token).",
    fields=("user", "reason_sha256"),
)
ACCESS_DENIED = register(
    "access.denied",
    "An authenticated caller was refused: missing scope, an object outside their scope, or an action's own rule (role, "
    "team, separation of duties; the refusal's code is the reason).",
    fields=("method", "path", "reason", "scope"),
)

# --- the trail itself -----------------------------------------------------------------------------------------
TRAIL_KEY_ADDED = register(
    "trail.key_added",
    "A checkpoint signing key came into use (first key, or a rotation); its verifier key is in the payload.",
    fields=("key_name", "key_id", "verifier_key", "previous_key_id"),
)
