"""The single sign-on settings: read from the environment, refused loudly when they cannot work (no provider needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from governance.access.oidc import config
from governance.access.oidc.backend import groups_of, map_claims
from tests.conftest import Cast


def test_the_role_map_is_ordered_pairs_of_roles_a_person_may_get() -> None:
    assert config.parse_role_map(["a=officer", "b = reviewer"]) == [("a", "officer"), ("b", "reviewer")]
    # A group name may hold "=" (the last one separates the role).
    assert config.parse_role_map(["CN=Assay,OU=Groups=owner"]) == [("CN=Assay,OU=Groups", "owner")]
    with pytest.raises(ImproperlyConfigured, match="a sign-in may give one of"):
        config.parse_role_map(["pipelines=ci"])  # service accounts use tokens, never a sign-in
    with pytest.raises(ImproperlyConfigured, match="not group=value"):
        config.parse_role_map(["officers"])


def test_team_names_algorithms_and_token_auth_are_checked() -> None:
    assert config.parse_team_map(["g=credit-risk"]) == [("g", "credit-risk")]
    with pytest.raises(ImproperlyConfigured, match="not a team name"):
        config.parse_team_map(["g=Credit Risk"])
    assert config.parse_algorithms([]) == ["RS256"]
    for unsafe in ("HS256", "none"):
        with pytest.raises(ImproperlyConfigured, match="OIDC_SIGN_ALGORITHMS"):
            config.parse_algorithms([unsafe])
    assert config.parse_token_auth("") == "client_secret_post"
    with pytest.raises(ImproperlyConfigured):
        config.parse_token_auth("private_key_jwt")


def test_a_half_configured_provider_and_sso_only_without_one_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="nobody could sign in"):
        config.check_sso(issuer="", client_id="", client_secret="", sso_only=True, debug=True)
    with pytest.raises(ImproperlyConfigured, match="OIDC_CLIENT_ID"):
        config.check_sso(issuer="https://idp.example", client_id="x", client_secret="", sso_only=False, debug=True)
    with pytest.raises(ImproperlyConfigured, match="https"):
        config.check_sso(issuer="http://idp.example", client_id="x", client_secret="y", sso_only=False, debug=False)
    config.check_sso(issuer="", client_id="", client_secret="", sso_only=False, debug=False)  # local accounts only


def test_sso_only_leaves_no_password_backend() -> None:
    assert config.authentication_backends(sso=False, sso_only=False) == [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert config.authentication_backends(sso=True, sso_only=True) == ["governance.access.oidc.backend.OIDCBackend"]


def test_groups_come_from_a_list_a_string_or_a_dotted_path(settings: object) -> None:
    assert groups_of({"groups": ["a", "b", 3]}) == {"a", "b"}
    assert groups_of({"groups": "a b"}) == {"a", "b"}
    assert groups_of({}) == set()
    settings.OIDC_GROUPS_CLAIM = "realm_access.roles"  # type: ignore[attr-defined]
    assert groups_of({"realm_access": {"roles": ["assay-officers"]}}) == {"assay-officers"}


def test_the_first_mapped_group_decides_the_role_and_every_mapped_group_adds_a_team(settings: object) -> None:
    settings.OIDC_ROLE_MAP = [("officers", "officer"), ("reviewers", "reviewer")]  # type: ignore[attr-defined]
    settings.OIDC_TEAM_MAP = [("risk", "credit-risk"), ("hr", "hiring")]  # type: ignore[attr-defined]
    assert map_claims({"groups": ["reviewers", "officers", "hr", "risk"]}) == ("officer", ["credit-risk", "hiring"])
    assert map_claims({"groups": ["reviewers"]}) == ("reviewer", [])
    assert map_claims({"groups": ["risk"]}) == (None, ["credit-risk"])


def _settings_in_a_process(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", ""), "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "governance.settings"}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.AUTHENTICATION_BACKENDS, settings.OIDC_ROLE_MAP)",
        ],
        env={**environment, "ASSAY_VAR_DIR": env.pop("ASSAY_VAR_DIR"), **env},
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_environment_switches_sso_on_and_passwords_off(tmp_path: Path) -> None:
    on = _settings_in_a_process(
        ASSAY_VAR_DIR=str(tmp_path),
        OIDC_ISSUER="https://idp.example/",
        OIDC_CLIENT_ID="assay",
        OIDC_CLIENT_SECRET="secret",
        OIDC_ROLE_MAP="g1=officer,g2=reviewer",
        SSO_ONLY="1",
    )
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "['governance.access.oidc.backend.OIDCBackend'] [('g1', 'officer'), ('g2', 'reviewer')]"
    refused = _settings_in_a_process(ASSAY_VAR_DIR=str(tmp_path), SSO_ONLY="1")
    assert refused.returncode != 0
    assert "SSO_ONLY=1 needs OIDC_ISSUER" in refused.stderr


def test_without_sso_the_login_page_has_no_provider_button(db: Any, cast: Cast) -> None:
    page = Client().get("/login/")
    assert page.status_code == 200
    assert b"/sso/start/" not in page.content
    assert b'name="password"' in page.content
    assert Client().get("/sso/start/").status_code == 400
