"""The role-to-scope table: what each role may do, read as a compliance officer would."""

from __future__ import annotations

import re

import pytest

from governance.access.roles import (
    ORGANISATION_WIDE_ROLES,
    ORGANISATION_WIDE_WITHOUT_TEAMS,
    ROLE_SCOPES,
    SCOPES,
    TEAM_ROLES,
    Role,
    is_read_scope,
    roles_with_scope,
    scopes_for,
)
from governance.api.trail import EventList
from registry import actions as registry_actions
from tests.api import drf_endpoints

ROLES = list(Role.values)


def test_every_scope_an_endpoint_requires_exists() -> None:
    used = {(e.name, method, scope) for e in drf_endpoints() for method, scope in e.required_scopes.items()}
    assert used, "no endpoint declares a scope"
    unknown = sorted(f"{name} {method} -> {scope}" for name, method, scope in used if scope not in SCOPES)
    assert not unknown, f"endpoints require scopes missing from SCOPES: {unknown}"


def test_every_scope_is_named_resource_colon_verb_and_explained() -> None:
    for scope, meaning in SCOPES.items():
        assert re.fullmatch(r"[a-z]+:[a-z]+", scope), scope
        assert meaning.strip().endswith("."), scope


def test_every_role_has_a_row_and_names_only_known_scopes() -> None:
    assert set(ROLE_SCOPES) == set(ROLES)
    for role in ROLES:
        assert scopes_for(role) <= set(SCOPES), role


def test_an_unknown_role_has_no_scopes() -> None:
    assert scopes_for("wizard") == frozenset()
    assert scopes_for("") == frozenset()


def test_the_admin_holds_every_scope_but_registering_classifying_approving_and_resolving() -> None:
    # Administrators run the system; registering, classifying and approving models, deciding on findings about
    # them, and adding their webhooks, is left to the owning teams, reviewers and officers (separation of duties).
    assert scopes_for(Role.ADMIN) == frozenset(SCOPES) - {
        "models:write",
        "models:approve",
        "models:classify",
        "findings:resolve",
        "webhooks:write",
    }


def test_a_regulator_only_reads() -> None:
    scopes = scopes_for(Role.REGULATOR)
    assert scopes, "regulators need something to read"
    assert all(scope.endswith(":read") for scope in scopes), sorted(scopes)


def test_is_read_scope_means_the_read_verb_only() -> None:
    assert is_read_scope("models:read")
    assert not is_read_scope("models:write")
    assert not is_read_scope("tokens:self")
    assert not is_read_scope("reader:approve")


@pytest.mark.parametrize("role", ROLES)
def test_read_only_narrowing_keeps_exactly_the_read_scopes(role: str) -> None:
    full = scopes_for(role)
    narrowed = scopes_for(role, read_only=True)
    assert narrowed == {scope for scope in full if scope.endswith(":read")}
    assert all(scope.endswith(":read") for scope in narrowed)
    assert "meta:read" in narrowed  # a read-only token can still say who it is


@pytest.mark.parametrize("read_only", [False, True])
def test_ci_never_approves_or_deploys(read_only: bool) -> None:
    scopes = scopes_for(Role.CI, read_only=read_only)
    assert "models:approve" not in scopes
    assert "models:deploy" not in scopes


def test_only_officers_and_reviewers_may_approve() -> None:
    approvers = {role for role in ROLES if "models:approve" in scopes_for(role)}
    assert approvers == {Role.OFFICER, Role.REVIEWER}


@pytest.mark.parametrize(
    ("scope", "roles"),
    [
        # The registry's rules (registry.actions): owners and pipelines register and submit; reviewers and officers
        # approve and decide on findings; officers alone re-classify; officers and admins deploy and retire; the
        # owning team, its pipelines and officers manage webhooks.
        ("models:write", {Role.OWNER, Role.CI}),
        ("models:approve", {Role.REVIEWER, Role.OFFICER}),
        ("findings:resolve", {Role.REVIEWER, Role.OFFICER}),
        ("models:classify", {Role.OFFICER}),
        ("models:deploy", {Role.OFFICER, Role.ADMIN}),
        ("webhooks:write", {Role.OWNER, Role.CI, Role.OFFICER}),
    ],
)
def test_the_roles_holding_each_registry_scope(scope: str, roles: set[str]) -> None:
    # The registry actions ask this table (require_scope): the roles here are exactly those the actions let act.
    assert roles_with_scope(scope) == roles
    assert {role for role in ROLES if scope in scopes_for(role)} == roles


def test_the_registry_role_names_are_read_from_the_table() -> None:
    assert roles_with_scope("models:write") == registry_actions.SUBMITTERS
    assert roles_with_scope("models:approve") == registry_actions.APPROVERS
    assert roles_with_scope("models:deploy") == registry_actions.DEPLOYERS


def test_asking_for_a_scope_that_does_not_exist_is_a_mistake_said_loudly() -> None:
    with pytest.raises(ValueError, match="unknown scope 'models:fly'"):
        roles_with_scope("models:fly")


def test_owners_who_write_models_cannot_approve_them() -> None:
    owner = scopes_for(Role.OWNER)
    assert "models:write" in owner
    assert "models:approve" not in owner
    assert "models:deploy" not in owner


def test_only_admins_manage_other_peoples_tokens() -> None:
    assert {role for role in ROLES if "tokens:manage" in scopes_for(role)} == {Role.ADMIN}


def test_organisation_wide_visibility_is_for_admins_officers_and_ci_in_no_team_only() -> None:
    assert frozenset(ORGANISATION_WIDE_ROLES) == {Role.ADMIN, Role.OFFICER}
    assert frozenset(TEAM_ROLES) == {Role.OWNER, Role.REVIEWER, Role.CI}
    # A pipeline in no team is the organisation's central pipeline; in a team, it is that team's (see
    # tests/access/test_team_scoped_ci.py for what each sees).
    assert frozenset(ORGANISATION_WIDE_WITHOUT_TEAMS) == {Role.CI}
    # Regulators are neither: they see what was shared with them.
    assert Role.REGULATOR not in ORGANISATION_WIDE_ROLES | TEAM_ROLES


def test_the_trail_is_readable_by_the_roles_that_oversee_it() -> None:
    required = EventList.required_scopes["GET"]
    # Reviewers are team-scoped and events are not: they would see other teams' models there.
    assert {role for role in ROLES if required in scopes_for(role)} == {Role.ADMIN, Role.OFFICER}
