"""Signed reports, evidence bundles and regulator sharing in the portal: the officer makes the run's signed PDF,
builds a bundle and shares it; the regulator sees only what is shared, read-only, with the expiry shown, and every
access is in the share's log. Expired or revoked shares answer 404 at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audits.models import Report
from governance.exports.models import Export, Share
from tests.api import db_state
from tests.conftest import Cast
from tests.portal.conftest import World, signed_in
from tests.portal.test_forms import text
from tests.registry.conftest import new_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(cast: Cast, world: World) -> tuple[Export, Share]:
    """A bundle of credit-scoring built for the regulator, and the model shared with them for 30 days."""
    officer = signed_in(cast.officer)
    built = officer.post("/exports/", {"model": "credit-scoring", "recipient": "regina"})
    assert built.status_code == 302, text(built)[:3000]
    export = Export.objects.get()
    until = (timezone.now() + dt.timedelta(days=30)).date().isoformat()
    response = officer.post(
        "/shares/", {"model": "credit-scoring", "regulator": "regina", "expires_on": until, "reason": "Annual review"}
    )
    assert response.status_code == 302, text(response)[:3000]
    return export, Share.objects.get()


def test_officer_makes_the_signed_report_and_downloads_it(
    cast: Cast, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    officer = signed_in(cast.officer)
    assert signed_in(cast.reviewer).post(f"/audits/{world.run.pk}/report").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):  # the report's job runs as its request commits
        response = officer.post(f"/audits/{world.run.pk}/report")
    assert response.status_code == 302
    report = Report.objects.get(run=world.run)
    page = text(officer.get(f"/audits/{world.run.pk}/"))
    assert f"/api/v1/reports/{report.pk}/pdf" in page
    pdf = officer.get(f"/api/v1/reports/{report.pk}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert officer.post(f"/audits/{world.run.pk}/report").status_code == 302
    assert Report.objects.filter(run=world.run).count() == 1  # still current: reused, not made again


def test_regulator_sees_only_what_is_shared_read_only_with_expiry(
    cast: Cast, world: World, shared: tuple[Export, Share]
) -> None:
    export, share = shared
    regulator = signed_in(cast.regulator)
    dashboard = text(regulator.get("/"))
    assert "Shared with you" in dashboard
    assert share.expires_at.strftime("%Y-%m-%d %H:%M") in dashboard
    page = regulator.get("/models/credit-scoring/versions/1/")
    assert page.status_code == 200
    assert text(page).count('<form method="post"') == 1  # read-only: the sign-out form only
    assert regulator.get(f"/audits/{world.run.pk}/").status_code == 200
    assert "Make the signed PDF report" not in text(regulator.get(f"/audits/{world.run.pk}/"))
    assert regulator.get(f"/exports/{export.pk}/").status_code == 200
    assert regulator.get(f"/shares/{share.pk}/").status_code == 200
    assert regulator.post(f"/shares/{share.pk}/", {"reason": "mine now"}).status_code == 403
    assert regulator.get("/data/datasets/").status_code == 403
    log = text(signed_in(cast.officer).get(f"/shares/{share.pk}/"))
    accesses = log.split('data-testid="access-log"', 1)[1].split("</table>", 1)[0]
    # The regulator's view of the version is in the access log, by name and with a link (the leaf keeps the ids).
    assert '<a href="/models/credit-scoring/versions/1/">credit-scoring v1</a>' in accesses
    assert "<td>regina</td>" in accesses


def test_revoking_a_share_cuts_access_at_once(cast: Cast, world: World, shared: tuple[Export, Share]) -> None:
    _, share = shared
    officer, regulator = signed_in(cast.officer), signed_in(cast.regulator)
    assert regulator.get("/models/credit-scoring/").status_code == 200
    state = db_state()
    assert officer.post(f"/shares/{share.pk}/", {"reason": ""}).status_code == 400
    assert db_state() == state
    assert officer.post(f"/shares/{share.pk}/", {"reason": "Review finished"}).status_code == 302
    assert regulator.get("/models/credit-scoring/").status_code == 404
    again = officer.post(f"/shares/{share.pk}/", {"reason": "twice"})
    assert again.status_code == 409
    assert "already revoked" in text(again)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        # Said under the form's field in its words, never the API's field name (issue 19, item 8).
        ({"expires_on": "2001-01-01"}, "The date it is shared until must be in the future."),
        ({"expires_on": "2999-01-01"}, "The date it is shared until may be at most"),
        ({"regulator": "omar"}, "Select a valid choice."),
        ({"reason": ""}, "This field is required."),
        ({"model": "no-such-model"}, "Select a valid choice."),
    ],
)
def test_bad_shares_are_refused_by_name(cast: Cast, world: World, form: dict[str, Any], message: str) -> None:
    state = db_state()
    body = {"model": "credit-scoring", "regulator": "regina", "expires_on": "2030-01-01", "reason": "Audit", **form}
    body["expires_on"] = form.get("expires_on", (timezone.now() + dt.timedelta(days=3)).date().isoformat())
    response = signed_in(cast.officer).post("/shares/", body)
    assert response.status_code in (400, 422)
    assert message in text(response)
    assert "expires_at" not in text(response)
    assert db_state() == state


def test_export_pages_ladder(cast: Cast, world: World, shared: tuple[Export, Share]) -> None:
    export, share = shared
    for url in (f"/exports/{export.pk}/", f"/shares/{share.pk}/"):
        assert signed_in(None).get(url).status_code == 302
        for name in ("owner", "reviewer", "outsider", "ci"):
            assert signed_in(getattr(cast, name)).get(url).status_code == 403
        assert signed_in(cast.officer).get(url).status_code == 200
        assert signed_in(cast.admin).get(url).status_code == 200

    other = new_member("rita", "regulator", [])
    assert signed_in(other).get(f"/exports/{export.pk}/").status_code == 404
    assert signed_in(other).get(f"/shares/{share.pk}/").status_code == 404
