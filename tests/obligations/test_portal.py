"""The obligations page of a version: what it shows, who may record a decision there, and what a bad form does.
(Its permission ladder is in tests/portal/test_ladder.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from governance.trail.models import Event
from obligations.models import ObligationDecision
from registry.models import ModelVersion
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import register_model

PAGE = "/models/credit-scoring/versions/1/obligations/"
FORM = {
    "catalogue": "eu-ai-act-high-risk",
    "obligation": "art-26-7-inform-workers",
    "decision": "not_applicable",
    "reason": "Not used at our workplace.",
}


@pytest.fixture
def credit(cast: Cast, make_version: Any) -> ModelVersion:
    return make_version(register_model(cast, "high"), model_card={"intended_use": "Consumer credit decisions."})


def test_the_page_shows_each_catalogue_with_met_and_missing_obligations(cast: Cast, credit: ModelVersion) -> None:
    response = signed_in(cast.reviewer).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="catalogue-eu-ai-act-high-risk"' in html
    assert 'data-testid="obligation-nist-ai-rmf-MAP-1"' in html
    assert "Art. 27(1) of Regulation (EU) 2024/1689" in html
    assert "0 met, 0 attested, 0 not applicable, <strong>18 missing</strong>" in html
    assert 'id="h-decide"' not in html  # a reviewer may not decide


def test_an_officer_records_a_decision_and_it_is_a_trail_event(cast: Cast, credit: ModelVersion) -> None:
    officer = signed_in(cast.officer)
    assert 'id="h-decide"' in officer.get(PAGE).content.decode()
    response = officer.post(PAGE, FORM)
    assert response.status_code == 302
    decision = ObligationDecision.objects.get()
    assert Event.objects.get(seq=decision.event_seq).action == "obligation.not_applicable"
    html = officer.get(PAGE).content.decode()
    assert "Not used at our workplace." in html
    assert "1 not applicable" in html


@pytest.mark.parametrize(
    "changes",
    [
        {"decision": "attested", "document_name": "x.pdf", "document_sha256": "z" * 64},
        {"decision": "attested", "document_name": "x.pdf"},  # no hash
        {"obligation": "no-such-obligation"},
        {"reason": ""},
        {"catalogue": "../../etc"},
    ],
)
def test_a_bad_form_is_refused_and_records_nothing(cast: Cast, credit: ModelVersion, changes: dict[str, str]) -> None:
    response = signed_in(cast.officer).post(PAGE, {**FORM, **changes})
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not ObligationDecision.objects.exists()


def test_the_owner_cannot_post_a_decision(cast: Cast, credit: ModelVersion) -> None:
    assert signed_in(cast.owner).post(PAGE, FORM).status_code == 403
    assert not ObligationDecision.objects.exists()


def test_the_version_page_links_the_obligations_page(cast: Cast, credit: ModelVersion) -> None:
    html = signed_in(cast.reviewer).get("/models/credit-scoring/versions/1/").content.decode()
    assert f'href="{PAGE}"' in html
