"""Single sign-on against a real OpenID provider (tests/sso/conftest.py): what a sign-in gives, and what it refuses.

Django's test client plays Assay's side; the provider's side is the real provider, reached over HTTP by Assay (token,
userinfo, JWKS, discovery) and by ``provider_leg`` playing the person's browser at the provider's sign-in page.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from django.test import Client

from governance.access.models import User
from governance.access.oidc import config as oidc_config
from governance.access.oidc.backend import OIDCBackend, SignInRefused
from governance.access.oidc.models import ExternalIdentity
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry_actions
from registry.actions.common import RegistryError
from tests.conftest import PASSWORD, Cast
from tests.registry.conftest import risk_answers
from tests.sso.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    Key,
    Provider,
    configure,
    pkce_pair,
    provider_leg,
    requires_provider,
    start_provider,
)

pytestmark = [requires_provider]


def start(client: Client) -> str:
    """Assay's first leg: the redirect to the provider's authorization endpoint."""
    response = client.get("/sso/start/")
    assert response.status_code == 302, response.content
    return str(response["Location"])


def callback(client: Client, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Client, login: str) -> Any:
    return callback(client, provider_leg(start(client), login))


def refusal_code(response: Any) -> str:
    text = response.content.decode()
    marker = 'data-code="'
    assert marker in text, text[:500]
    return text.split(marker, 1)[1].split('"', 1)[0]


def events(action: str) -> list[Event]:
    return list(Event.objects.filter(action=action).order_by("seq"))


def signed_in_user(client: Client) -> User | None:
    response = client.get("/")
    user = response.wsgi_request.user
    return user if user.is_authenticated else None


def real_id_token(client: Client, login: str) -> tuple[str, str]:
    """A sign-in's ID token as the provider issued it, and its nonce (read back from the session)."""
    response = sign_in(client, login)
    assert response.status_code == 302
    token = client.session["oidc_id_token"]
    return token, jwt.decode(token, options={"verify_signature": False})["nonce"]


# --- what a sign-in gives --------------------------------------------------------------------------------------


def test_the_request_carries_state_nonce_and_an_s256_pkce_challenge(db: Any, sso: Provider) -> None:
    query = parse_qs(urlsplit(start(Client())).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert urlsplit(start(Client())).netloc == urlsplit(sso.issuer).netloc  # found by discovery


def test_an_officer_is_created_at_first_sign_in_with_the_role_of_her_group(db: Any, sso: Provider) -> None:
    client = Client()
    response = sign_in(client, "sofia")
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = signed_in_user(client)
    assert user is not None
    assert (user.username, user.role, user.email) == ("sofia", "officer", "sofia@example.org")
    assert not user.has_usable_password()
    assert ExternalIdentity.objects.get(user=user).issuer == sso.issuer
    (created,) = events("user.created")
    assert (created.actor_kind, created.object_id, created.payload) == (
        "system",
        str(user.pk),
        {"role": "officer", "teams": []},
    )
    (signed,) = events("user.signed_in")
    assert (signed.actor_kind, signed.actor_user_id) == ("user", user.pk)
    assert signed.payload == {"method": "oidc", "role": "officer", "teams": []}


def test_a_reviewer_gets_his_team_and_a_changed_mapping_is_a_role_change_event(
    db: Any, sso: Provider, settings: Any
) -> None:
    sign_in(Client(), "ravi")
    ravi = User.objects.get(username="ravi")
    assert ravi.role == "reviewer"
    assert sorted(ravi.teams.values_list("slug", flat=True)) == ["credit-risk"]
    assert not events("user.role_changed")
    # The organisation moves reviewers to owners (configuration); the next sign-in brings the change, as an event.
    settings.OIDC_ROLE_MAP = [("assay-reviewers", "owner")]
    settings.OIDC_TEAM_MAP = [("team-credit-risk", "credit-risk"), ("assay-reviewers", "hiring")]
    sign_in(Client(), "ravi")
    ravi.refresh_from_db()
    assert ravi.role == "owner"
    assert sorted(ravi.teams.values_list("slug", flat=True)) == ["credit-risk", "hiring"]
    (changed,) = events("user.role_changed")
    assert changed.actor_kind == "system"
    assert changed.payload == {"role": "owner", "teams": ["credit-risk", "hiring"]}
    assert [e.payload["role"] for e in events("user.signed_in")] == ["reviewer", "owner"]
    assert User.objects.filter(username="ravi").count() == 1  # the same subject, the same account


def test_a_role_from_new_groups_does_not_lift_separation_of_duties(db: Any, sso: Provider, settings: Any) -> None:
    # Ravi registers and submits a version as an owner; his groups then make him a reviewer. He still may not
    # approve his own version: the rules look at who did what, not at how the role arrived.
    settings.OIDC_ROLE_MAP = [("assay-reviewers", "owner")]
    sign_in(Client(), "ravi")
    ravi = User.objects.get(username="ravi")
    model = registry_actions.do_register_model(
        user=ravi,
        actor=Actor.for_user(ravi),
        name="ravis-model",
        team=ravi.teams.get(),
        purpose="A minimal-risk model.",
        risk_answers=risk_answers("minimal"),
        intended_use="Routing documents.",
    )
    version = registry_actions.do_register_version(
        model=model, user=ravi, actor=Actor.for_user(ravi), metrics={"auc": 0.8}, input_schema=[]
    )
    registry_actions.do_submit(version=version, user=ravi, actor=Actor.for_user(ravi), reason="ready")
    settings.OIDC_ROLE_MAP = [("assay-reviewers", "reviewer")]
    sign_in(Client(), "ravi")
    ravi = User.objects.get(username="ravi")
    assert ravi.role == "reviewer"
    with pytest.raises(RegistryError, match="separation of duties"):
        registry_actions.do_approve(version=version, user=ravi, actor=Actor.for_user(ravi), reason="mine")


def test_a_third_sign_in_without_changes_records_the_sign_in_only(db: Any, sso: Provider) -> None:
    for _ in range(2):
        sign_in(Client(), "sofia")
    assert len(events("user.created")) == 1
    assert not events("user.role_changed")
    assert len(events("user.signed_in")) == 2


def test_sign_out_ends_the_session_and_asks_the_provider_to_end_its_own(db: Any, sso: Provider) -> None:
    client = Client()
    sign_in(client, "sofia")
    token = client.session["oidc_id_token"]
    response = client.post("/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}" == sso.issuer
    assert target.path == "/session/end"
    query = parse_qs(target.query)
    assert query["id_token_hint"] == [token]
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert signed_in_user(client) is None
    # The provider accepts the request (an invalid hint or redirect would be its 400 error page). The browser
    # journeys (test_browser_sso.py) go on through its confirmation page, which needs the provider's own cookie.
    answer = requests.get(response["Location"], timeout=10)
    assert answer.status_code == 200, answer.text[:400]
    assert "Provider error" not in answer.text


def test_a_local_account_signs_out_locally(db: Any, sso: Provider, cast: Cast) -> None:
    client = Client()
    client.force_login(cast.officer.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post("/logout/")
    assert (response.status_code, response["Location"]) == (302, "/login/")


# --- refusals ----------------------------------------------------------------------------------------------------


def test_a_wrong_state_is_refused(db: Any, sso: Provider) -> None:
    client = Client()
    back = urlsplit(provider_leg(start(client), "sofia"))
    query = parse_qs(back.query)
    query["state"] = ["not-the-state-this-session-sent"]
    response = client.get(f"{back.path}?{urlencode(query, doseq=True)}")
    assert response.status_code == 400
    assert refusal_code(response) == "state"
    assert signed_in_user(client) is None
    assert not User.objects.filter(username="sofia").exists()


def test_a_callback_used_twice_is_refused_the_second_time(db: Any, sso: Provider) -> None:
    client = Client()
    back = provider_leg(start(client), "sofia")
    assert callback(client, back).status_code == 302
    client.post("/logout/")
    again = callback(client, back)
    assert again.status_code == 400
    assert refusal_code(again) == "state"
    assert len(events("user.signed_in")) == 1


def test_a_replayed_nonce_is_refused(db: Any, sso: Provider) -> None:
    token, nonce = real_id_token(Client(), "sofia")
    with pytest.raises(SignInRefused, match="already used") as refused:
        OIDCBackend().verify_token(token, nonce=nonce)
    assert refused.value.code == "nonce"


def test_a_token_with_another_sign_ins_nonce_is_refused(db: Any, sso: Provider) -> None:
    token, _ = real_id_token(Client(), "sofia")
    with pytest.raises(SignInRefused, match="nonce"):
        OIDCBackend().verify_token(token, nonce="the-nonce-of-another-sign-in")


def test_the_authorization_code_needs_this_sign_ins_pkce_verifier(db: Any, sso: Provider) -> None:
    client = Client()
    back = provider_leg(start(client), "sofia")
    session = client.session
    for entry in session["oidc_states"].values():
        entry["code_verifier"] = pkce_pair()[0]  # not the verifier of the challenge the provider saw
    session.save()
    response = callback(client, back)
    assert response.status_code == 400
    assert refusal_code(response) == "failed"
    assert signed_in_user(client) is None


def issued_id_token(issuer: str, client_id: str, nonce: str) -> str:
    """An ID token the provider at ``issuer`` issues to ``client_id`` for sofia, through its own code flow."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://testserver/sso/callback/",
        "scope": "openid",
        "state": "s" * 32,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    back = parse_qs(urlsplit(provider_leg(f"{issuer}/auth?{urlencode(query)}", "sofia")).query)
    answer = requests.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": query["redirect_uri"],
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["id_token"])


def test_a_token_issued_to_another_client_is_refused(db: Any, sso: Provider) -> None:
    # A real token from the same provider, for another application (the token-substitution attack).
    token = issued_id_token(sso.issuer, OTHER_CLIENT_ID, "n" * 32)
    with pytest.raises(SignInRefused, match="another client"):
        OIDCBackend().verify_token(token, nonce="n" * 32)


def test_a_real_token_from_another_issuer_with_the_same_key_is_refused(db: Any, sso: Provider, tmp_path: Path) -> None:
    # Another provider (another tenant, say) that even signs with a key Assay trusts: its issuer is not Assay's.
    other = start_provider(tmp_path, redirect_bases=["http://testserver"], keys=sso.keys)
    try:
        token = issued_id_token(other.issuer, CLIENT_ID, "n" * 32)
    finally:
        other.stop()
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == CLIENT_ID
    with pytest.raises(SignInRefused, match="another provider"):
        OIDCBackend().verify_token(token, nonce="n" * 32)


def claims_for(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "sub": "sofia", "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": "n1", **changes}


def test_a_token_from_another_issuer_is_refused(db: Any, sso: Provider) -> None:
    forged = sso.keys[0].sign(claims_for("https://login.example.net/other-tenant"))
    with pytest.raises(SignInRefused, match="another provider"):
        OIDCBackend().verify_token(forged, nonce="n1")


def test_an_expired_token_is_refused(db: Any, sso: Provider) -> None:
    long_ago = int(time.time()) - 3600
    forged = sso.keys[0].sign(claims_for(sso.issuer, iat=long_ago - 300, exp=long_ago))
    with pytest.raises(SignInRefused, match="expired"):
        OIDCBackend().verify_token(forged, nonce="n1")


def test_a_token_signed_with_a_key_not_in_the_jwks_is_refused(db: Any, sso: Provider) -> None:
    stranger = Key.new("k1")  # the provider's key id, someone else's key
    with pytest.raises(SignInRefused, match="signature does not verify"):
        OIDCBackend().verify_token(stranger.sign(claims_for(sso.issuer)), nonce="n1")
    with pytest.raises(SignInRefused, match="does not publish"):
        OIDCBackend().verify_token(Key.new("k-unknown").sign(claims_for(sso.issuer)), nonce="n1")


def test_an_unsigned_or_shared_secret_token_is_refused(db: Any, sso: Provider) -> None:
    for token in (
        jwt.encode(claims_for(sso.issuer), None, algorithm="none"),
        jwt.encode(claims_for(sso.issuer), CLIENT_SECRET, algorithm="HS256"),
    ):
        with pytest.raises(SignInRefused, match="does not accept"):
            OIDCBackend().verify_token(token, nonce="n1")


def test_the_providers_own_token_verifies(db: Any, sso: Provider) -> None:
    # The control for the refusals above: a token signed with the provider's key and right claims is accepted once.
    payload = OIDCBackend().verify_token(sso.keys[0].sign(claims_for(sso.issuer, nonce="n-control")), nonce="n-control")
    assert payload["sub"] == "sofia"


def test_claims_that_map_to_no_role_get_no_account_and_a_clear_page(db: Any, sso: Provider) -> None:
    client = Client()
    response = sign_in(client, "nora")
    assert response.status_code == 403
    assert refusal_code(response) == "no_role"
    text = response.content.decode()
    assert "none of your groups there gives a role in Assay" in text
    assert "assay-officers" in text
    assert signed_in_user(client) is None
    assert not User.objects.filter(username="nora").exists()
    assert not ExternalIdentity.objects.exists()
    (denied,) = events("access.denied")
    assert denied.payload["reason"] == "sso_no_role"
    assert not events("user.signed_in")


def test_a_provider_account_named_like_a_local_user_does_not_become_that_user(
    db: Any, sso: Provider, cast: Cast
) -> None:
    client = Client()
    response = sign_in(client, "olivia")  # the provider's olivia is an owner; Assay's olivia is a local officer
    assert response.status_code == 409
    assert refusal_code(response) == "name_taken"
    assert signed_in_user(client) is None
    assert not ExternalIdentity.objects.exists()
    assert User.objects.get(username="olivia").role == "officer"


def test_a_deactivated_account_cannot_sign_in(db: Any, sso: Provider) -> None:
    sign_in(Client(), "sofia")
    User.objects.filter(username="sofia").update(is_active=False)
    response = sign_in(Client(), "sofia")
    assert response.status_code == 403
    assert refusal_code(response) == "inactive"


def test_deactivating_an_account_ends_its_open_sessions(db: Any, sso: Provider) -> None:
    client = Client()
    sign_in(client, "sofia")
    assert signed_in_user(client) is not None
    User.objects.filter(username="sofia").update(is_active=False)
    assert signed_in_user(client) is None


def test_a_discovery_document_for_another_issuer_is_refused(db: Any, settings: Any, provider: Provider) -> None:
    # The same server named differently: its document says 127.0.0.1, Assay was told localhost.
    configure(settings, provider.issuer.replace("127.0.0.1", "localhost"))
    response = Client().get("/sso/start/")
    assert response.status_code == 400
    assert refusal_code(response) == "unreachable"
    assert "names issuer" in response.content.decode()


def test_a_rotated_key_is_fetched_from_the_jwks(db: Any, settings: Any, tmp_path: Path, provider: Provider) -> None:
    first = start_provider(tmp_path, redirect_bases=["http://testserver"], keys=[Key.new("old")])
    try:
        configure(settings, first.issuer, OIDC_JWKS_MIN_REFRESH_SECONDS=0)
        assert sign_in(Client(), "sofia").status_code == 302  # the JWKS ["old"] is now cached
        port = int(urlsplit(first.issuer).port or 0)
    finally:
        first.stop()
    # The provider rotates: a new key signs, the old one is still published. Same issuer, same cache.
    second = start_provider(
        tmp_path, redirect_bases=["http://testserver"], keys=[Key.new("new"), first.keys[0]], port=port
    )
    try:
        client = Client()
        assert sign_in(client, "ravi").status_code == 302
        assert jwt.get_unverified_header(client.session["oidc_id_token"])["kid"] == "new"
    finally:
        second.stop()


# --- SSO_ONLY: no passwords for people, tokens still work ---------------------------------------------------------


def test_sso_only_refuses_passwords_everywhere_and_keeps_api_tokens(
    db: Any, sso: Provider, settings: Any, cast: Cast
) -> None:
    settings.SSO_ONLY = True
    settings.AUTHENTICATION_BACKENDS = oidc_config.authentication_backends(sso=True, sso_only=True)
    client = Client()
    page = client.get("/login/")
    assert b"Sign in with Test provider" in page.content
    assert b'name="password"' not in page.content
    refused = client.post("/login/", {"username": cast.officer.user.username, "password": PASSWORD})
    assert refused.status_code == 403
    assert b"Password sign-in is switched off" in refused.content
    admin = client.post("/admin/login/", {"username": cast.admin.user.username, "password": PASSWORD})
    assert admin.status_code == 200
    assert signed_in_user(client) is None
    assert cast.officer.client().get("/api/v1/models/").status_code == 200  # a token is not a password
    assert sign_in(client, "sofia").status_code == 302  # people sign in at the provider


def test_with_sso_configured_the_password_form_stays_for_local_accounts(db: Any, sso: Provider, cast: Cast) -> None:
    client = Client()
    page = client.get("/login/?next=/trail/")
    assert b"Sign in with Test provider" in page.content
    assert b"/sso/start/?next=/trail/" in page.content
    response = client.post("/login/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in_user(client) == cast.officer.user
