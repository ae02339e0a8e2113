"""The dashboard's pictures (issue 19): models by tier and stage, verdicts over time, open findings by kind and age,
drift per deployed version; each an SVG drawn by the server with the table of its numbers beside it.

The numbers are known from the arrangement: the portal world's one failing four-fifths audit this week, its one
high-risk model under review, and findings opened at known ages. (The demo's drift row, with its PSI of
credit_amount, is checked in test_every_portal_page.py on the seeded demo.)
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from registry.data_hooks import open_model_finding
from registry.models import Finding
from tests.conftest import Cast
from tests.portal.conftest import World, signed_in

pytestmark = pytest.mark.django_db


def section(html: str, testid: str) -> str:
    found = re.search(rf'<section[^>]*data-testid="{testid}".*?</section>', html, re.DOTALL)
    assert found is not None, f"no {testid} on the dashboard"
    return found.group(0)


def table(html: str) -> dict[str, list[str]]:
    """The body rows of a section's table: row header -> its cells' text."""
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", html, re.DOTALL):
        head, _, cells = row.partition("</th>")
        name = re.sub(r"<[^>]+>", "", head).strip()
        rows[name] = [
            re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL)
        ]
    return rows


def test_each_picture_is_an_svg_with_its_numbers_in_a_table(cast: Cast, world: World) -> None:
    now = timezone.now()
    for days, cause in ((2, "a"), (40, "b"), (120, "c")):
        finding = open_model_finding(world.version, kind="data_quality", cause=cause, title=f"t{cause}", details={})
        assert finding is not None
        Finding.objects.filter(pk=finding.pk).update(opened_at=now - dt.timedelta(days=days))  # opened that long ago

    html = signed_in(cast.officer).get("/").content.decode()

    tiers = section(html, "chart-tiers")
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in tiers
    assert 'role="img"' in tiers
    # The one high-risk model's newest version is under review: Draft 0, Submitted 1, ... .
    assert table(tiers)["High risk (Art. 6, Annex III)"][:2] == ["0", "1"]

    verdicts = section(html, "chart-verdicts")
    assert "<svg" in verdicts
    weeks = table(verdicts)
    assert len(weeks) == 12
    monday = (now - dt.timedelta(days=now.weekday())).date()
    assert weeks[monday.isoformat()] == ["0", "1", "0"]  # Pass, Fail, Insufficient evidence: the world's audit
    assert sum(int(n) for counts in weeks.values() for n in counts) == 1

    ages = section(html, "chart-findings")
    assert "<svg" in ages
    # under 7 days, 7 to 30, 30 to 90, over 90
    assert table(ages)["data_quality"] == ["1", "0", "1", "1"]

    drift = section(html, "chart-drift")
    assert "No version is deployed." in drift


def test_a_regulator_sees_pictures_of_nothing_not_shared(cast: Cast, world: World) -> None:
    html = signed_in(cast.regulator).get("/").content.decode()
    tiers = section(html, "chart-tiers")
    assert all(counts == ["0"] * 7 for counts in table(tiers).values())
    assert "No open findings." in section(html, "chart-findings")
