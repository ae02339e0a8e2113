"""Two small portal defects of issue 19, item 8, through the pages as a person uses them.

- The models list paired "Latest version v2" with v1's failing audit, which read as v2's verdict.
- The share form said "expires_at must be in the future.", the API's field name, above the form.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from governance.exports.models import Share
from registry import actions
from tests.conftest import Cast
from tests.portal.conftest import World, signed_in
from tests.registry.conftest import acting

pytestmark = pytest.mark.django_db


def _row(html: str, model: str) -> str:
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.DOTALL) if f"/models/{model}/" in row]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_models_list_shows_the_latest_versions_own_audit(cast: Cast, world: World) -> None:
    row = _row(signed_in(cast.officer).get("/models/").content.decode(), world.model.name)
    assert f"/audits/{world.run.pk}/" in row  # v1, the latest version, and its failing audit

    actions.do_register_version(model=world.model, user=cast.owner.user, actor=acting(cast.owner), metrics={})
    row = _row(signed_in(cast.officer).get("/models/").content.decode(), world.model.name)

    assert "/versions/2/" in row
    assert f"/audits/{world.run.pk}/" not in row  # v1's verdict is not v2's
    assert "none" in row


def test_a_share_into_the_past_is_refused_under_its_field_in_the_forms_words(cast: Cast, world: World) -> None:
    yesterday = (timezone.now() - dt.timedelta(days=1)).date()
    response = signed_in(cast.officer).post(
        "/shares/",
        {
            "model": world.model.name,
            "regulator": cast.regulator.user.username,
            "expires_on": yesterday.isoformat(),
            "reason": "Market surveillance request.",
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "expires_at" not in html
    field = re.search(r'<input[^>]*name="expires_on"[^>]*>', html)
    assert field is not None
    assert "The date it is shared until must be in the future." in html
    assert 'aria-invalid="true"' in field.group(0)
    assert not Share.objects.exists()


def test_two_reports_of_a_run_are_two_distinct_links() -> None:
    """A run with a newer report (made again after its results changed) listed two identical links."""
    signed = dt.datetime(2026, 12, 6, 15, 19, 27, tzinfo=dt.UTC)
    reports = [
        {
            "pk": uuid.uuid4(),
            "pages": 9,
            "size": 200_000,
            "signed_at": signed - dt.timedelta(days=d),
            "sha256": "a" * 64,
        }
        for d in (0, 2)
    ]
    html = render_to_string("audits/_report.html", {"report": {"reports": reports}, "run": {"pk": 1}})
    links = re.findall(r'data-testid="report-pdf">([^<]+)</a>', html)
    assert links == ["Download the signed PDF", "Download the earlier signed PDF of 2026-12-04 15:19:27 UTC"]
    assert "(the latest, 9 pages" in html
