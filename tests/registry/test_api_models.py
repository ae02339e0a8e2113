"""The registry's HTTP API for models, with the cast's tokens: registration, the list, edits and tier changes.
Every refusal is checked for its JSON error shape, its code, and that it changed nothing (the trail included);
every success for its rows and its trail event.
"""

from __future__ import annotations

from typing import Any

import pytest

from governance.citations import EU_AI_ACT_TEXT_VERSION
from governance.trail.models import Event
from registry.models import ModelVersion, RegisteredModel
from tests.api import assert_error, events_since, last_seq
from tests.conftest import Cast, sha256_text
from tests.registry.api_helpers import API, client_of, refused, url
from tests.registry.conftest import MakeVersion, register_model, risk_answers


def registration(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "credit-scoring",
        "team": "credit-risk",
        "purpose": "Score consumer loan applications.",
        "intended_use": "Pre-screening of applications under EUR 50k.",
        "out_of_scope_uses": "Mortgages; employment decisions.",
        "business_kpis": ["approval rate", "default rate at 12 months"],
        "risk_answers": risk_answers("high"),
    }
    return {**body, **changes}


# --- registering models ----------------------------------------------------------------------------------------


def test_an_owner_registers_a_model_classified_by_the_questionnaire(cast: Cast) -> None:
    seq = last_seq()

    response = cast.owner.client().post(API, registration(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("name", "team", "risk_tier", "created_by", "live", "business_kpis")} == {
        "name": "credit-scoring",
        "team": "credit-risk",
        "risk_tier": "high",
        "created_by": "omar",
        "live": {},
        "business_kpis": ["approval rate", "default rate at 12 months"],
    }
    assert "performs profiling of natural persons" in body["risk_rationale"]
    model = RegisteredModel.objects.get(name="credit-scoring")
    assert (model.team.slug, model.risk_tier, model.risk_answers) == ("credit-risk", "high", risk_answers("high"))
    recorded = events_since(seq)
    assert [(e.action, e.object_id, e.payload) for e in recorded] == [
        ("model.registered", str(model.pk), {"name": "credit-scoring", "team": "credit-risk", "risk_tier": "high"})
    ]
    assert (recorded[0].actor_kind, recorded[0].actor_user_id) == ("token", cast.owner.user.pk)


def test_ci_registers_models_for_any_team(cast: Cast) -> None:
    response = cast.ci.client().post(API, registration(risk_answers=risk_answers("minimal")), format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["created_by"], response.json()["risk_tier"]) == ("ci-bot", "minimal")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("reviewer", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
        ("admin", 403, "permission_denied"),  # administrators run the system; teams register their models
        ("read_only", 403, "permission_denied"),
        # An owner, but of team hiring: credit-risk answers like a team that does not exist (names not revealed).
        ("outsider", 422, "validation_failed"),
    ],
)
def test_who_may_not_register_a_model(cast: Cast, who: str, status: int, code: str) -> None:
    refused(lambda: client_of(cast, who).post(API, registration(), format="json"), status, code)

    assert not RegisteredModel.objects.exists()


def test_a_model_name_is_unique(cast: Cast) -> None:
    register_model(cast, "high")

    error = refused(lambda: cast.owner.client().post(API, registration(), format="json"), 409, "duplicate")

    assert "credit-scoring" in error["message"]


def test_bad_questionnaire_answers_are_named_field_by_field(cast: Cast) -> None:
    answers = {**risk_answers("high"), "annex_iii_area": "astrology", "profiles_natural_persons": "perhaps"}
    del answers["human_reviews_each_decision"]

    error = refused(
        lambda: cast.owner.client().post(API, registration(risk_answers=answers), format="json"),
        422,
        "validation_failed",
    )

    assert set(error["details"]["risk_answers"]) == {
        "annex_iii_area",
        "profiles_natural_persons",
        "human_reviews_each_decision",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "no-such-team"}, "team"),
        ({"name": "Not A Slug!"}, "name"),
        ({"risk_tier": "minimal"}, "risk_tier"),  # the tier comes from the questionnaire, never from the caller
        ({"risk_answers": None}, "risk_answers"),
        ({"purpose": ""}, "purpose"),
    ],
)
def test_invalid_registrations_name_the_field(cast: Cast, changes: dict[str, Any], field: str) -> None:
    error = refused(
        lambda: cast.owner.client().post(API, registration(**changes), format="json"), 422, "validation_failed"
    )

    assert field in error["details"]


def test_a_malformed_json_body_is_a_json_400(cast: Cast) -> None:
    refused(
        lambda: cast.owner.client().post(API, data="{not json", content_type="application/json"),
        400,
        "malformed_request",
    )


@pytest.fixture
def two_teams(cast: Cast) -> None:
    register_model(cast, "high")  # credit-scoring, team credit-risk
    response = cast.outsider.client().post(
        API,
        registration(name="cv-screening", team="hiring", risk_answers=risk_answers("high")),
        format="json",
    )
    assert response.status_code == 201, response.content


# --- who sees what ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "names"),
    [
        ("owner", ["credit-scoring"]),
        ("read_only", ["credit-scoring"]),
        ("reviewer", ["credit-scoring"]),
        ("outsider", ["cv-screening"]),
        ("officer", ["credit-scoring", "cv-screening"]),
        ("admin", ["credit-scoring", "cv-screening"]),
        ("ci", ["credit-scoring", "cv-screening"]),
        ("regulator", []),  # regulators see what is shared with them, through exports
    ],
)
def test_the_list_shows_only_what_your_teams_may_see(cast: Cast, two_teams: None, who: str, names: list[str]) -> None:
    response = getattr(cast, who).client().get(API)

    assert response.status_code == 200
    assert [m["name"] for m in response.json()["results"]] == names


def test_the_list_filters_by_tier_and_team_within_what_you_see(cast: Cast, two_teams: None) -> None:
    register_model(cast, "minimal")
    officer = cast.officer.client()

    assert [m["name"] for m in officer.get(API, {"risk_tier": "minimal"}).json()["results"]] == ["document-router"]
    assert [m["name"] for m in officer.get(API, {"team": "hiring"}).json()["results"]] == ["cv-screening"]
    # A filter never widens: the outsider asking for credit-risk still sees nothing of it.
    assert cast.outsider.client().get(API, {"team": "credit-risk"}).json()["results"] == []


@pytest.mark.parametrize(
    "path",
    [
        url("credit-scoring"),
        url("credit-scoring", "versions"),
        url("credit-scoring", 1),
        url("credit-scoring", 1, "model-card"),
        url("credit-scoring", "history"),
    ],
)
def test_another_teams_model_answers_404_exactly_like_a_missing_one(
    cast: Cast, make_version: MakeVersion, path: str
) -> None:
    make_version(register_model(cast, "high"))
    outsider = cast.outsider.client()

    hidden = refused(lambda: outsider.get(path), 404, "not_found")
    missing = assert_error(outsider.get(path.replace("credit-scoring", "no-such-model")), 404, "not_found")

    assert hidden == missing
    # The refusal itself is on the trail (who tried to look at what), without the object's name.
    denied = Event.objects.filter(action="access.denied").order_by("-seq").first()
    assert denied is not None
    assert (denied.actor_user_id, denied.payload["reason"]) == (cast.outsider.user.pk, "out_of_scope")


def test_a_missing_version_of_a_visible_model_is_404(cast: Cast, minimal_risk_model: RegisteredModel) -> None:
    refused(lambda: cast.owner.client().get(url("document-router", 7)), 404, "not_found")


# --- descriptive fields ----------------------------------------------------------------------------------------


def test_the_owner_edits_descriptive_fields_and_the_trail_says_which(
    cast: Cast, high_risk_model: RegisteredModel
) -> None:
    seq = last_seq()

    response = cast.owner.client().patch(
        url("credit-scoring"),
        {"purpose": "Score loans up to EUR 80k.", "business_kpis": ["approval rate"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["purpose"], response.json()["business_kpis"]) == (
        "Score loans up to EUR 80k.",
        ["approval rate"],
    )
    high_risk_model.refresh_from_db()
    assert (high_risk_model.purpose, high_risk_model.business_kpis) == ("Score loans up to EUR 80k.", ["approval rate"])
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        ("model.updated", {"name": "credit-scoring", "changed": ["business_kpis", "purpose"]})
    ]


def test_an_edit_that_changes_nothing_records_nothing(cast: Cast, high_risk_model: RegisteredModel) -> None:
    seq = last_seq()

    response = cast.owner.client().patch(url("credit-scoring"), {"purpose": high_risk_model.purpose}, format="json")

    assert response.status_code == 200
    assert events_since(seq) == []


@pytest.mark.parametrize("field", ["name", "team", "risk_tier", "risk_answers", "created_by"])
def test_identity_and_tier_cannot_be_patched(cast: Cast, high_risk_model: RegisteredModel, field: str) -> None:
    error = refused(
        lambda: cast.owner.client().patch(url("credit-scoring"), {field: "minimal"}, format="json"),
        422,
        "validation_failed",
    )

    assert field in error["details"]


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
def test_who_may_not_edit_a_model(
    cast: Cast, high_risk_model: RegisteredModel, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).patch(url("credit-scoring"), {"purpose": "x"}, format="json"), status, code)


# --- the risk tier ---------------------------------------------------------------------------------------------


def test_an_officer_changes_the_tier_with_a_reason_and_it_is_on_the_trail(
    cast: Cast, high_risk_model: RegisteredModel
) -> None:
    seq = last_seq()
    # The current questionnaire: an Annex III use with the Art. 6(3) derogation documented (issue 27).
    answers = {
        "art_5_practices": [],
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_i_third_party_assessment": False,
        "annex_iii_uses": ["5(b)"],
        "profiles_natural_persons": False,
        "art_6_3_conditions": ["d"],
        "art_6_3_no_significant_risk": True,
        "art_6_3_assessment": "Only gathers the documents a credit officer assesses; assessment CR-4.",
        "transparency": ["50(1)"],
    }

    response = cast.officer.client().post(
        url("credit-scoring", "risk"),
        {"risk_answers": answers, "reason": "A credit officer now reviews every decision."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["risk_tier"] == "limited"
    high_risk_model.refresh_from_db()
    assert (high_risk_model.risk_tier, high_risk_model.risk_answers) == ("limited", answers)
    assert "Art. 6(3)(d)" in high_risk_model.risk_rationale
    assert [(e.action, e.actor_user_id, e.payload) for e in events_since(seq)] == [
        (
            "model.risk_changed",
            cast.officer.user.pk,
            {
                "name": "credit-scoring",
                "old_tier": "high",
                "new_tier": "limited",
                "answers": answers,
                "reason_sha256": sha256_text("A credit officer now reviews every decision."),
                "text_version": EU_AI_ACT_TEXT_VERSION,
            },
        )
    ]


@pytest.mark.parametrize("who", ["owner", "reviewer", "ci", "read_only"])
def test_only_officers_change_a_tier(cast: Cast, high_risk_model: RegisteredModel, who: str) -> None:
    body = {"risk_answers": risk_answers("minimal"), "reason": "we think it is fine"}

    refused(lambda: getattr(cast, who).client().post(url("credit-scoring", "risk"), body, format="json"), 403)

    high_risk_model.refresh_from_db()
    assert high_risk_model.risk_tier == "high"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"risk_answers": risk_answers("minimal")}, "reason"),
        ({"risk_answers": risk_answers("minimal"), "reason": ""}, "reason"),
        ({"reason": "because"}, "risk_answers"),
        ({"risk_answers": {**risk_answers("minimal"), "annex_iii_area": "moon"}, "reason": "because"}, "risk_answers"),
        ({"risk_answers": risk_answers("minimal"), "reason": "because", "risk_tier": "minimal"}, "risk_tier"),
    ],
)
def test_a_tier_change_without_a_reason_or_with_bad_answers_is_422(
    cast: Cast, high_risk_model: RegisteredModel, body: dict[str, Any], field: str
) -> None:
    error = refused(
        lambda: cast.officer.client().post(url("credit-scoring", "risk"), body, format="json"), 422, "validation_failed"
    )

    assert field in error["details"]


def test_a_tier_change_for_a_model_that_does_not_exist_is_404(cast: Cast) -> None:
    body = {"risk_answers": risk_answers("minimal"), "reason": "because"}

    refused(lambda: cast.officer.client().post(url("ghost", "risk"), body, format="json"), 404, "not_found")


# --- the error shape everywhere --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/models/credit-scoring/versions/abc/", None),  # not a number: no route
        ("post", "/api/v1/models/credit-scoring/versions/1/promote", {}),  # no such transition
        ("delete", "/api/v1/models/credit-scoring/", None),  # no such method
        ("put", "/api/v1/models/credit-scoring/versions/1/submit", {}),
        ("post", "/api/v1/models/credit-scoring/versions/1/approve", []),  # not an object
        ("post", "/api/v1/models/credit-scoring/risk", "null"),
        ("get", "/api/v1/models/credit-scoring/history?as_of=yesterday", None),
    ],
)
def test_every_refusal_is_the_json_error_shape(
    cast: Cast, high_risk_draft: ModelVersion, method: str, path: str, body: Any
) -> None:
    client = cast.officer.client()

    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)

    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


def test_a_name_taken_at_the_same_moment_is_a_conflict_not_a_crash(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two registrations of one name both pass the existence check; the database's uniqueness decides."""
    register_model(cast, "minimal", name="twin")
    real_filter = RegisteredModel.objects.filter

    class SawNothing:
        def exists(self) -> bool:
            return False  # as the second of two concurrent requests would have seen it

    monkeypatch.setattr(
        RegisteredModel.objects,
        "filter",
        lambda **kw: SawNothing() if kw == {"name": "twin"} else real_filter(**kw),
    )
    body = {"name": "twin", "team": "credit-risk", "purpose": "p", "risk_answers": risk_answers("minimal")}
    response = cast.owner.client().post("/api/v1/models/", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate"
