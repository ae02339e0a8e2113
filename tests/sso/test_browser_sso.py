"""Single sign-on in a real headless Chromium: people sign in to Assay at the real OpenID provider (conftest.py), get
the role their group at the provider gives, and their sign-ins are in the trail. Screenshots go to
var/test-artifacts/sso/.

They skip, saying why, when /usr/bin/chromium, Node or the provider's npm package is missing (`make test` installs
them where it can).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from governance.access.models import User
from governance.portal.trail_names import person_name
from tests.portal.test_browser import CHROMIUM, browser, new_page  # noqa: F401 - the portal tests' browser fixtures
from tests.sso.conftest import PASSWORD, Key, Provider, configure, requires_provider, start_provider

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "sso"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    requires_provider,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is not installed: run `make test` (it installs Debian's chromium where apt is "
        "usable) to run the single sign-on browser journeys",
    ),
]


@pytest.fixture(scope="module")
def live_provider(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """The provider, with Assay's live server as its client's redirect target."""
    running = start_provider(tmp_path_factory.mktemp("oidc"), redirect_bases=[live_server.url], keys=[Key.new("b1")])
    yield running
    running.stop()


@pytest.fixture
def live(live_server: Any, unprotected_trail: None, settings: Any, live_provider: Provider) -> str:
    configure(settings, live_provider.issuer)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(live_server.url)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_at_provider(page: Any, base: str, issuer: str, login: str) -> None:
    """From Assay's sign-in page, through the provider's, back to Assay's dashboard."""
    page.goto(f"{base}/login/")
    page.get_by_role("link", name="Sign in with Test provider").click()
    page.wait_for_url(f"{issuer}/interaction/**")
    expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    page.get_by_label("User name").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_a_reviewer_and_an_officer_sign_in_with_their_groups_roles_and_see_it_in_the_trail(
    new_page: Any,  # noqa: F811 - the imported fixture
    live: str,
    live_provider: Provider,
) -> None:
    base, issuer = live, live_provider.issuer
    page = new_page()
    sign_in_at_provider(page, base, issuer, "ravi")
    account = page.get_by_role("navigation", name="Account")
    expect(account).to_contain_text("ravi")
    expect(account).to_contain_text("(Reviewer)")  # from the group assay-reviewers at the provider
    shot(page, "reviewer-signed-in")
    # Sign-out ends Assay's session, then the provider's (RP-initiated logout), and comes back to sign-in.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{base}/login/")
    assert page.goto(f"{base}/trail/").url.startswith(f"{base}/login/")  # signed out here

    sign_in_at_provider(page, base, issuer, "sofia")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("(Compliance officer)")
    page.goto(f"{base}/trail/?action=user.signed_in")
    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(2)
    ravi, sofia = User.objects.get(username="ravi"), User.objects.get(username="sofia")
    assert (ravi.role, sofia.role) == ("reviewer", "officer")
    assert ravi.teams.get().slug == "credit-risk"  # from the group team-credit-risk
    expect(rows.nth(0)).to_contain_text(person_name(sofia))  # newest first; the trail page names people
    expect(rows.nth(1)).to_contain_text(person_name(ravi))
    shot(page, "officer-trail-sign-ins")
    # Each account was created by the system from the provider's claims, with the role they gave.
    page.goto(f"{base}/trail/?action=user.created")
    expect(page.locator("main tbody tr")).to_have_count(2)
    expect(page.locator("main tbody tr").first).to_contain_text("system")


def test_a_person_whose_groups_give_no_role_sees_why_and_gets_nothing(
    new_page: Any,  # noqa: F811 - the imported fixture
    live: str,
    live_provider: Provider,
) -> None:
    page = new_page()
    page.goto(f"{live}/login/")
    page.get_by_role("link", name="Sign in with Test provider").click()
    page.wait_for_url(f"{live_provider.issuer}/interaction/**")
    page.get_by_label("User name").fill("nora")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="No access to Assay")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("none of your groups there gives a role in Assay")
    shot(page, "no-role")
    assert not User.objects.filter(username="nora").exists()
    assert page.goto(f"{live}/").url.startswith(f"{live}/login/")
