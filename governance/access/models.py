"""Users, teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import connection, models
from django.utils import timezone

from governance.access.roles import ORGANISATION_WIDE_ROLES, ORGANISATION_WIDE_WITHOUT_TEAMS, Role, scopes_for


class Team(models.Model):
    """A group of people who own models and datasets together."""

    slug = models.SlugField(unique=True, max_length=64)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class User(AbstractUser):
    """A person or service account with exactly one role."""

    role = models.CharField(max_length=16, choices=Role.choices)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)

    class Meta:
        ordering = ["username"]

    @property
    def is_organisation_wide(self) -> bool:
        """True when the user sees every team's objects: officers and admins always, a CI user only in no team."""
        if self.role in ORGANISATION_WIDE_ROLES:
            return True
        # Asked only of roles that may fall back to the organisation, so an owner's check costs no query; a CI
        # user's costs the one team_ids() query its scope needs anyway (cached on the instance).
        return self.role in ORGANISATION_WIDE_WITHOUT_TEAMS and not self.team_ids()

    def team_ids(self) -> set[int]:
        """Ids of the teams this user belongs to (cached per instance: asked on every access check)."""
        cached = getattr(self, "_team_ids", None)
        if cached is None:
            cached = _team_ids_of(self.pk)
            self._team_ids = cached
        return cached


def _team_ids_of(user_id: int) -> set[int]:
    # Raw SQL on the membership table alone: asked on most API requests (every team-scoped caller and CI token), and
    # the ORM's related-manager query compiled slower than it ran (benchmarks/bench_gate.py's profile). Only names
    # from the model's metadata are interpolated.

    through = User.teams.through._meta
    sql = 'SELECT "{}" FROM "{}" WHERE "{}" = %s'.format(  # noqa: S608
        through.get_field("team").column, through.db_table, through.get_field("user").column
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        return {team_id for (team_id,) in cursor.fetchall()}


TOKEN_PREFIX = "assay_"  # noqa: S105 - a public prefix for secret scanners, not a secret


def hash_token(raw: str) -> str:
    """The stored form of a token. Tokens carry 256 random bits, so one SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_raw_token() -> str:
    """A fresh random token, recognisable by its prefix (for secret scanners)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(models.Model):
    """A bearer credential for the API; only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    # The first characters, kept so people can tell their tokens apart in lists; useless for authentication.
    hint = models.CharField(max_length=16)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user.username})"

    @property
    def scopes(self) -> frozenset[str]:
        """What this token may do: its user's role, narrowed to reads when read-only."""
        return scopes_for(self.user.role, read_only=self.read_only)
