"""The Colorado AI Act catalogue against real evidence: a passing audit and an approval are never, by themselves,
the developer's or the deployer's reasonable care (C.R.S. § 6-1-1702(1), § 6-1-1703(1)) nor the deployer's yearly
review (§ 6-1-1703(3)(g)). Known answers from outside Assay: the four-fifths rule is the employment-selection
benchmark of 29 CFR 1607.4(D), while the Act covers consequential decisions in eight areas and protected classes
beyond race and sex; each of these duties is the developer's or deployer's own, so only an officer's attestation
(with the document) satisfies it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from governance.trail.log import Actor
from obligations.actions import do_decide, do_set_scope
from obligations.status import compliance_status
from registry import actions as registry_actions
from tests.audits.conftest import PASSING_RATES, audit_body, decision_rows, post_audit, upload
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import acting, register_model

COLORADO = "colorado-ai-act"
OWN_DUTIES = ("developer-reasonable-care", "deployer-reasonable-care", "annual-review", "impact-assessment")


def _line(status: dict[str, Any], obligation: str) -> dict[str, Any]:
    (found,) = status["catalogues"]
    (line,) = [o for o in found["obligations"] if o["id"] == obligation]
    return line


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unprotected_trail", "media_root", "builtin_policies_stored")
def test_a_four_fifths_pass_and_an_approval_meet_no_duty_of_care_or_yearly_review(
    cast: Cast, django_capture_on_commit_callbacks: Any, walk: Any
) -> None:
    model = register_model(cast, "high", name="loan-approval")
    version = registry_actions.do_register_version(
        model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user), metrics={"auc": 0.8}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, audit_body(version, upload(cast, decision_rows(PASSING_RATES))))
    assert response.status_code == 201, response.content
    walk(version, "approved")
    finished = dt.datetime.fromisoformat(
        cast.owner.client().get(f"/api/v1/audits/{response.json()['id']}/").json()["finished_at"]
    )
    now = finished + dt.timedelta(days=1)
    status = compliance_status(version, now=now, catalogues=(COLORADO,))
    for obligation in OWN_DUTIES:
        line = _line(status, obligation)
        assert line["status"] == "missing", obligation
        assert line["missing"], obligation
        assert all(m.startswith("An officer's attestation") for m in line["missing"]), line
        assert "supporting" in line["summary"], obligation
    # The officer attests with the document; only then is the yearly review satisfied, and as attested, not met.
    do_decide(
        user=cast.officer.user,
        actor=acting(cast.officer),
        version=version,
        catalogue=COLORADO,
        obligation="annual-review",
        kind="attested",
        reason="Yearly review of 2026 signed by the head of risk.",
        document_name="annual-review-2026.pdf",
        document_sha256="b" * 64,
    )
    review = _line(compliance_status(version, now=now, catalogues=(COLORADO,)), "annual-review")
    assert review["status"] == "attested"
    assert [e["kind"] for e in review["evidence"]] == ["attestation"]


def test_every_status_names_the_period_and_the_law_that_replaces_it(cast: Cast, make_version: Any) -> None:
    # Known answer (the Colorado Attorney General's page on SB 26-189): SB 24-205's provisions are repealed and
    # reenacted as an automated decision-making technology law from 1 January 2027. The heading every status, page
    # and export shows is the catalogue's title, so the title carries the period and the replacement.
    version = make_version(register_model(cast, "high", name="tenant-screening"))
    (found,) = compliance_status(version, catalogues=(COLORADO,))["catalogues"]
    title = found["title"]
    for words in ("SB 24-205", "SB 25B-004", "30.6.2026", "31.12.2026 only", "SB 26-189", "not modelled by Assay"):
        assert words in title, words
    do_set_scope(
        user=cast.officer.user,
        actor=acting(cast.officer),
        model=version.model,
        roles=["deployer"],
        catalogues=[COLORADO],
        reason="We use it to screen Colorado tenants.",
    )
    page = signed_in(cast.reviewer).get(f"/models/tenant-screening/versions/{version.number}/obligations/")
    assert page.status_code == 200
    heading = re.search(rf'<h2 id="h-{COLORADO}">(.*?)</h2>', page.content.decode(), re.DOTALL)
    assert heading is not None
    assert "31.12.2026 only" in heading.group(1)
    assert "SB 26-189" in heading.group(1)
