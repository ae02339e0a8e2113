"""Who may do what: the role-to-scope table.

This module is meant to be read by a compliance officer. Each role holds a set of scopes; each API endpoint
declares, per HTTP method, the one scope it needs (see ``governance.access.permissions``). A scope is
``<resource>:<verb>``. Verbs other than ``read`` change state, so a read-only token keeps only the ``:read`` scopes
of its role. Team boundaries are a second, separate rule applied to objects: owners and reviewers see only their
teams' objects; officers and admins see the whole organisation; a CI pipeline in one or more teams sees only its
teams' objects (a team's own pipeline), and one in no team sees the whole organisation (the organisation's central
pipeline); regulators see only what was shared with them.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    OFFICER = "officer", "Compliance officer"
    OWNER = "owner", "Model owner"
    REVIEWER = "reviewer", "Reviewer"
    REGULATOR = "regulator", "Regulator"
    CI = "ci", "CI pipeline"


# Every scope that exists, with what it allows, in words.
SCOPES: dict[str, str] = {
    "meta:read": "Read the API root, one's own identity and the OpenAPI schema.",
    "teams:read": "List teams and their members.",
    "tokens:self": "Issue and revoke one's own API tokens (never with more rights than one's role).",
    "tokens:manage": "See and revoke every user's API tokens.",
    "users:manage": "Add people and teams, and change another person's role and teams (never one's own).",
    "trail:read": "Browse trail events (ids and actions; the trail never holds personal data).",
    "proofs:read": "Read signed checkpoints, inclusion and consistency proofs.",
    "trail:checkpoint": "Ask for a new signed checkpoint of the trail.",
    "models:read": "See registered models, versions and model cards.",
    "models:write": "Register models and versions, edit model cards, submit for review.",
    "models:approve": "Approve or reject a submitted version (never one's own).",
    "models:classify": "Change a model's risk classification (with a reason).",
    "models:deploy": "Deploy or retire an approved version.",
    # Who may add webhooks is not who may register models: officers may too (they watch the transitions), so the
    # rule the registry actions always held is a scope of its own rather than a change to either.
    "webhooks:write": "Add and remove a model's webhooks (notified of its transitions).",
    "datasets:read": "See datasets, versions, profiles and lineage.",
    "datasets:write": "Register datasets, versions and lineage runs.",
    "consent:read": "Look up consent records by pseudonym.",
    "consent:write": "Record consent, withdrawals, erasure and access requests.",
    "findings:resolve": "Resolve a finding on a model version (retrain, accept with a reason, or retire).",
    "audits:read": "See policies, audit runs, checks and findings.",
    "audits:run": "Start audit runs.",
    "policies:write": "Create and change audit policies.",
    "gates:check": "Ask the approval gate for a decision.",
    "exports:read": "Download shared evidence bundles and reports.",
    "exports:create": "Create evidence bundles and share them with regulators.",
}

_ALL = frozenset(SCOPES)
_EVERYONE = frozenset({"meta:read", "proofs:read"})

ROLE_SCOPES: dict[str, frozenset[str]] = {
    # Administrators run the system; registering, classifying and approving models (and adding their webhooks) is
    # left to the owning teams, reviewers and officers (separation of duties).
    Role.ADMIN: _ALL - {"models:write", "models:approve", "models:classify", "findings:resolve", "webhooks:write"},
    Role.OFFICER: _EVERYONE
    | {
        "tokens:self",
        "teams:read",
        "trail:read",
        "trail:checkpoint",
        "models:read",
        "models:approve",
        "models:classify",
        "models:deploy",
        "webhooks:write",
        "findings:resolve",
        "datasets:read",
        "consent:read",
        "consent:write",
        "audits:read",
        "audits:run",
        "policies:write",
        "exports:read",
        "exports:create",
    },
    Role.OWNER: _EVERYONE
    | {
        "tokens:self",
        "teams:read",
        "models:read",
        "models:write",
        "webhooks:write",
        "datasets:read",
        "datasets:write",
        "audits:read",
        "audits:run",
    },
    Role.REVIEWER: _EVERYONE
    | {
        "tokens:self",
        "teams:read",
        "models:read",
        "models:approve",
        "findings:resolve",
        "datasets:read",
        "audits:read",
    },
    # Read-only by construction: no scope here ends in anything but :read. What they see is what was shared.
    Role.REGULATOR: _EVERYONE | {"models:read", "audits:read", "exports:read"},
    # A pipeline registers candidates and asks the gate; it never approves or deploys by itself.
    Role.CI: _EVERYONE
    | {
        "models:read",
        "models:write",
        "webhooks:write",
        "datasets:read",
        "datasets:write",
        "audits:read",
        "audits:run",
        "gates:check",
    },
}

# Object scope, the second rule (applied in ``governance.access.scoping`` and ``User.is_organisation_wide``).
# Roles whose object visibility always spans the whole organisation.
ORGANISATION_WIDE_ROLES = frozenset({Role.ADMIN, Role.OFFICER})
# Roles that see their teams' objects only.
TEAM_ROLES = frozenset({Role.OWNER, Role.REVIEWER, Role.CI})
# Team roles that see the whole organisation when the user is in no team: a pipeline of no team is the
# organisation's central pipeline; a pipeline in a team is that team's, and another team's objects do not exist for
# it, as for the team's people.
ORGANISATION_WIDE_WITHOUT_TEAMS = frozenset({Role.CI})


def is_read_scope(scope: str) -> bool:
    """True for scopes that never change state."""
    return scope.endswith(":read")


def scopes_for(role: str, *, read_only: bool = False) -> frozenset[str]:
    """The scopes a role holds; a read-only credential keeps only the read scopes."""
    scopes = ROLE_SCOPES.get(role, frozenset())
    if read_only:
        return frozenset(s for s in scopes if is_read_scope(s))
    return scopes


def roles_with_scope(scope: str) -> frozenset[str]:
    """The roles that hold ``scope``; a scope that does not exist is a mistake in the caller, refused loudly."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    return frozenset(role for role, scopes in ROLE_SCOPES.items() if scope in scopes)


def _check_table() -> None:
    # Fail at import, not at request time, if the table names a scope that does not exist.
    for role, scopes in ROLE_SCOPES.items():
        unknown = scopes - _ALL
        if unknown:
            raise ValueError(f"role {role} names unknown scopes {sorted(unknown)}")
    assert set(ROLE_SCOPES) == set(Role.values), "every role needs a row in ROLE_SCOPES"
    assert all(is_read_scope(s) for s in ROLE_SCOPES[Role.REGULATOR]), "regulators are read-only"
    assert not ORGANISATION_WIDE_ROLES & TEAM_ROLES, "a role is organisation-wide or team-scoped, not both"
    assert ORGANISATION_WIDE_WITHOUT_TEAMS <= TEAM_ROLES, "only a team role can fall back to the organisation"


_check_table()
