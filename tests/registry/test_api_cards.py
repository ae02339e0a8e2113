"""The registry's HTTP API for model cards: read and edited section by section while a version may change, frozen
once reviewed, and refused to those who may not edit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from registry.models import ModelVersion, RegisteredModel
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.registry.api_helpers import client_of, refused, url
from tests.registry.conftest import MakeVersion, Walk


def card_url(number: int = 1) -> str:
    return url("credit-scoring", number, "model-card")


# --- model cards -----------------------------------------------------------------------------------------------


def test_the_model_card_is_read_and_edited_section_by_section(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    make_version(high_risk_model, model_card={"model_details": "Logistic regression, 30 features."})
    seq = last_seq()

    assert cast.reviewer.client().get(card_url()).json() == {"model_details": "Logistic regression, 30 features."}
    response = cast.owner.client().put(
        card_url(),
        {"factors": "Age band and region.", "caveats_and_recommendations": "Not for mortgages."},
        format="json",
    )

    assert response.status_code == 200, response.content
    card = {
        "model_details": "Logistic regression, 30 features.",
        "factors": "Age band and region.",
        "caveats_and_recommendations": "Not for mortgages.",
    }
    assert response.json() == card
    assert ModelVersion.objects.get(model=high_risk_model, number=1).model_card == card
    digest = hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        (
            "model_card.edited",
            {
                "model": "credit-scoring",
                "version": 1,
                "sections": ["caveats_and_recommendations", "factors"],
                "card_sha256": digest,
            },
        )
    ]


def test_a_card_edit_that_changes_nothing_records_nothing(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    make_version(high_risk_model, model_card={"factors": "Age band."})
    seq = last_seq()

    response = cast.owner.client().put(card_url(), {"factors": "Age band."}, format="json")

    assert response.status_code == 200
    assert events_since(seq) == []


def test_the_card_stays_editable_while_under_review(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "submitted")
    seq = last_seq()

    response = cast.owner.client().put(card_url(), {"ethical_considerations": "Proxy risk: postcode."}, format="json")

    assert response.status_code == 200, response.content
    assert [e.action for e in events_since(seq)] == ["model_card.edited"]


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"factors": ["age"]}, "factors"),
        ({"metrics": {"auc": 0.8}}, "metrics"),
    ],
)
def test_an_unknown_or_non_text_section_is_422(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, card: dict[str, Any], field: str
) -> None:
    make_version(high_risk_model)

    error = refused(lambda: cast.owner.client().put(card_url(), card, format="json"), 422, "validation_failed")

    assert field in error["details"]


@pytest.mark.parametrize("state", ["approved", "rejected", "deployed", "retired"])
def test_the_card_is_frozen_once_reviewed(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, state: str
) -> None:
    walk(make_version(high_risk_model, model_card={"factors": "Age band."}), state)

    error = refused(lambda: cast.owner.client().put(card_url(), {"factors": "Changed."}, format="json"), 409)

    assert error["code"] == "illegal_transition"
    assert ModelVersion.objects.get(model=high_risk_model, number=1).model_card == {"factors": "Age band."}


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
    ],
)
def test_who_may_not_edit_a_card(cast: Cast, high_risk_draft: ModelVersion, who: str, status: int, code: str) -> None:
    refused(lambda: client_of(cast, who).put(card_url(), {"factors": "x"}, format="json"), status, code)
