"""Annex IV technical documentation of a version: built from what Assay holds, every gap shown as a gap (the
declaration of conformity always), a diff between versions, and a PDF that is PAdES-signed, validates with pyHanko
and is recorded in the trail by its hash."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pypdf
import pytest

from audits.reports import signing
from governance.trail.models import Event
from registry.models import ModelVersion
from tests.api import assert_error
from tests.conftest import Cast
from tests.registry.conftest import register_model

API = "/api/v1/models/credit-scoring/versions"


@pytest.fixture
def credit(cast: Cast, make_version: Any) -> ModelVersion:
    model = register_model(cast, "high")
    make_version(model, model_card={"intended_use": "Consumer credit decisions."})
    return make_version(
        model,
        model_card={"intended_use": "Consumer credit decisions.", "metrics": "AUC: ranking matters for credit."},
        hyperparameters={"max_depth": 4},
    )


def _section(document: dict[str, Any], point: str) -> dict[str, Any]:
    return next(s for s in document["sections"] if s["point"] == point)


def test_the_document_has_the_nine_points_with_content_and_gaps(cast: Cast, credit: ModelVersion) -> None:
    response = cast.reviewer.client().get(f"{API}/1/annex-iv")
    assert response.status_code == 200, response.content
    document = response.json()
    assert [s["point"] for s in document["sections"]] == [str(n) for n in range(1, 10)]
    general = _section(document, "1")
    assert general["content"]["purpose"] == "A high-risk model of the credit-risk team."
    assert general["content"]["intended_use"] == "Decisions on consumer loan applications."
    assert "1(h): the instructions for use" in general["gaps"]
    assert _section(document, "8")["gaps"] == [
        "8: a copy of the EU declaration of conformity (Art. 47): to be completed by the provider"
    ]
    assert _section(document, "9")["gaps"] == ["9: the post-market monitoring plan (no monitoring configured)"]
    assert "4: why these metrics are appropriate" in _section(document, "4")["gaps"]
    assert _section(document, "5")["content"]["classification"]["tier"] == "high"
    assert document["gaps"] == sum(len(s["gaps"]) for s in document["sections"])
    actions = [e["action"] for e in _section(document, "6")["content"]["events"]]
    assert actions == ["model_version.registered"]


def test_the_diff_names_the_fields_changed_and_the_gaps_closed(cast: Cast, credit: ModelVersion) -> None:
    document = cast.owner.client().get(f"{API}/2/annex-iv?against=1").json()
    changes = {c["point"]: c for c in document["changes_since"]["changes"]}
    assert document["changes_since"]["version"] == 1
    assert changes["4"]["fields"] == ["why_these_metrics"]
    assert changes["4"]["gaps_closed"] == ["4: why these metrics are appropriate"]
    assert changes["2"]["fields"] == ["hyperparameters"]
    assert "6" in changes  # previous_version appears
    assert_error(cast.owner.client().get(f"{API}/2/annex-iv?against=x"), 422)
    assert_error(cast.owner.client().get(f"{API}/2/annex-iv?against=9"), 404)


def test_another_team_gets_404(cast: Cast, credit: ModelVersion) -> None:
    assert_error(cast.outsider.client().get(f"{API}/1/annex-iv"), 404)
    assert_error(cast.outsider.client().get(f"{API}/1/annex-iv.pdf"), 404)
    assert not Event.objects.filter(action="technical_documentation.generated").exists()


def test_the_pdf_is_signed_validates_and_its_hash_is_in_the_trail(cast: Cast, credit: ModelVersion) -> None:
    response = cast.owner.client().get(f"{API}/1/annex-iv.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    result = signing.validate_pdf(pdf)
    assert result.valid, result.message
    assert result.covers_whole_file
    event = Event.objects.get(seq=int(response["X-Assay-Trail-Event"]))
    assert event.action == "technical_documentation.generated"
    assert event.payload["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.payload["signer_certificate_sha256"] == result.signer_certificate_sha256
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Annex IV technical documentation: credit-scoring v1" in " ".join(text.split())
    assert "GAP" in text
    assert "EU declaration of conformity" in text
    assert event.payload["gaps"] == text.count("GAP")
