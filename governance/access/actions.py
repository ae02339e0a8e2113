"""Actions on identity and access. Each owns its transaction and records its trail event inside it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.access.models import ApiToken, Team, User, hash_token, new_raw_token
from governance.access.roles import Role, roles_with_scope
from governance.trail import events
from governance.trail.leaf import format_time, text_commitment
from governance.trail.log import Actor, record_event


class ActionError(Exception):
    """An action refused with a message meant for the person who asked.

    ``code`` is stable for machines; ``status`` is the HTTP status the API answers with (the API's exception
    handler turns any ActionError into the standard error body, so views need no try/except).
    """

    def __init__(self, message: str, *, code: str = "refused", status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def require_role(user: User, roles: frozenset[str], what: str, *, error: type[ActionError] = ActionError) -> None:
    """The first rule of every action: the user's role is one of ``roles`` (else 403, naming who may)."""
    if user.role not in roles:
        names = ", ".join(sorted(roles))
        raise error(f"Only {names} may {what}; you are {user.role}.", code="role_refused", status=403)


def require_scope(user: User, scope: str, what: str, *, error: type[ActionError] = ActionError) -> None:
    """The first rule of every action, read from the role-to-scope table (``governance.access.roles``): the user's
    role holds ``scope`` (else 403, naming the roles that do). Team and separation-of-duties rules stay in the
    action, so every entry point obeys them."""
    require_role(user, roles_with_scope(scope), what, error=error)


_TEAM_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def do_create_team(*, slug: str, name: str = "", actor: Actor) -> Team:
    """Create a team; its slug is lower-case letters, digits and hyphens."""
    if not _TEAM_SLUG.fullmatch(slug):
        raise ActionError(f"'{slug}' is not a valid team name: use lower-case letters, digits and hyphens (max 64).")
    with transaction.atomic():
        if Team.objects.filter(slug=slug).exists():
            raise ActionError(f"A team named '{slug}' already exists.")
        team = Team.objects.create(slug=slug, name=name or slug)
        record_event(events.TEAM_CREATED, actor=actor, obj=team, payload={"slug": slug})
    return team


def do_create_user(
    *,
    username: str,
    role: str,
    actor: Actor,
    teams: Sequence[str] = (),
    email: str = "",
    password: str | None = None,
    name: str = "",
) -> User:
    """Create a user with one role, in the named teams (created if missing); a password is validated first."""
    if role not in Role.values:
        raise ActionError(f"Unknown role '{role}'; choose one of {', '.join(Role.values)}.")
    problem = _username_problem(username)
    if problem:
        raise ActionError(problem)
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise ActionError(f"A user named '{username}' already exists.")
        user = User(username=username, email=email, role=role, first_name=name)
        # Only the admin role may use Django's admin site.
        user.is_staff = user.is_superuser = role == Role.ADMIN
        if password is None:
            user.set_unusable_password()  # service accounts authenticate with tokens only
        else:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise ActionError(" ".join(exc.messages)) from None
            user.set_password(password)
        user.save()
        # A team named for the first time is created through its own action, so it has its own event.
        team_rows = [Team.objects.filter(slug=slug).first() or do_create_team(slug=slug, actor=actor) for slug in teams]
        user.teams.set(team_rows)
        record_event(
            events.USER_CREATED,
            actor=actor,
            obj=user,
            payload={"role": role, "teams": sorted(t.slug for t in team_rows)},
        )
    return user


def _username_problem(username: str) -> str | None:
    """Why ``username`` cannot be used (Django's rules: 1-150 letters, digits and @.+-_), or None."""
    max_length = User._meta.get_field("username").max_length or 150
    if not username or len(username) > max_length:
        return f"A user name needs 1 to {max_length} characters."
    try:
        User.username_validator(username)
    except ValidationError:
        return f"'{username}' is not a valid user name: use letters, digits and @ . + - _ only."
    return None


def do_change_role(*, user: User, actor: Actor, role: str, teams: Sequence[str] | None = None) -> User:
    """Change a user's role (and, if given, teams); nobody changes their own (no self-promotion)."""
    if role not in Role.values:
        raise ActionError(f"Unknown role '{role}'; choose one of {', '.join(Role.values)}.")
    if actor.user_id is not None and actor.user_id == user.pk:
        raise ActionError("Nobody may change their own role or teams.", code="self_change", status=403)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.role = role
        locked.is_staff = locked.is_superuser = role == Role.ADMIN
        locked.save(update_fields=["role", "is_staff", "is_superuser"])
        if teams is not None:
            rows = [Team.objects.filter(slug=slug).first() or do_create_team(slug=slug, actor=actor) for slug in teams]
            locked.teams.set(rows)
        record_event(
            events.USER_ROLE_CHANGED,
            actor=actor,
            obj=locked,
            payload={"role": role, "teams": sorted(locked.teams.values_list("slug", flat=True))},
        )
    return locked


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``raw`` is shown once and never stored."""

    token: ApiToken
    raw: str


def do_issue_token(
    *,
    user: User,
    actor: Actor,
    name: str = "",
    read_only: bool = False,
    days: int | None = None,
    now: dt.datetime | None = None,
) -> IssuedToken:
    """Issue an API token for ``user``; only its hash is stored."""
    if days is not None and not 1 <= days <= 3650:
        raise ActionError("A token's lifetime must be between 1 and 3650 days.")
    if not user.is_active:
        raise ActionError(f"User '{user.username}' is deactivated.")
    raw = new_raw_token()
    moment = now or timezone.now()
    expires_at = moment + dt.timedelta(days=days) if days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            digest=hash_token(raw),
            hint=raw[: len("assay_") + 4],
            read_only=read_only,
            created_at=moment,
            expires_at=expires_at,
        )
        record_event(
            events.TOKEN_ISSUED,
            actor=actor,
            obj=token,
            payload={
                "user": user.pk,
                "read_only": read_only,
                "expires_at": format_time(expires_at) if expires_at else None,
            },
        )
    return IssuedToken(token=token, raw=raw)


def do_revoke_token(*, token: ApiToken, actor: Actor, reason: str = "") -> ApiToken:
    """Revoke a token; it is refused from the next request on. Revoking twice is refused."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise ActionError("This token is already revoked.")
        locked.revoked_at = timezone.now()
        locked.revoke_reason = reason
        locked.save(update_fields=["revoked_at", "revoke_reason"])
        record_event(
            events.TOKEN_REVOKED,
            actor=actor,
            obj=locked,
            payload={"user": locked.user_id, "reason_sha256": text_commitment(reason)},
        )
    return locked


def do_record_access_denied(request: Any, *, reason: str, scope: str) -> None:
    """Record that an authenticated caller was refused.

    The route pattern is recorded (``api/v1/models/<slug:name>/risk``), never the path itself: a caller chooses
    the path, and whatever they typed into it would otherwise stay in the append-only trail forever.
    """
    match = getattr(request, "resolver_match", None)
    route = match.route if match is not None else ""
    with transaction.atomic():
        record_event(
            events.ACCESS_DENIED,
            actor=Actor.from_request(request),
            payload={"method": request.method, "path": route[:300], "reason": reason, "scope": scope},
        )
