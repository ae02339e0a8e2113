"""Legal known answers for the risk questionnaire (registry.risk), one case per provision of the Act.

Expected tiers come from the text of Regulation (EU) 2024/1689 (as amended by Regulation (EU) 2026/1744), not from
the code: Art. 5(1) practices are prohibited; Art. 6(1) (an Annex I safety component or product that needs a
third-party conformity assessment) and Art. 6(2) with Annex III are high risk; Art. 6(3) lowers an Annex III system
only with one of conditions (a)-(d) AND no significant risk of harm, never when it profiles natural persons, and the
provider must document the assessment (Art. 6(4)) and register (Art. 49(2)); Art. 50 duties are listed beside the
tier, for high-risk systems too.
"""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from governance.access.models import Team
from governance.citations import EU_AI_ACT_TEXT_VERSION, cite
from registry import actions
from registry.models import Finding, RegisteredModel, VersionState
from registry.risk import QuestionnaireError, classify
from tests.api import assert_error, events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import TEAM, MakeVersion, Walk, acting, register_model

NONE: dict[str, Any] = {
    "art_5_practices": [],
    "annex_i": "none",
    "annex_iii_uses": [],
    "profiles_natural_persons": False,
    "transparency": [],
}
DEROGATION = {
    "art_6_3_conditions": ["a"],
    "art_6_3_no_significant_risk": True,
    "art_6_3_assessment": "Routes incoming applications to the right team by product code; it scores nobody and its "
    "output is not used in the decision. Assessment DOC-17, signed 2026-11-02.",
}
FIRST_QUESTIONNAIRE = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}

# Every Art. 5(1) point, as lettered in the Act ((ba) and (bb) inserted by Regulation (EU) 2026/1744).
ART_5_POINTS = ["a", "b", "ba", "bb", "c", "d", "e", "f", "g", "h"]
# Every Annex III use, as numbered in the Act: point 2 has no letters.
ANNEX_III = {"1": "abc", "2": "", "3": "abcd", "4": "ab", "5": "abcd", "6": "abcde", "7": "abcd", "8": "ab"}
ANNEX_III_USES = [f"{p}({letter})" for p, letters in ANNEX_III.items() for letter in letters] + ["2"]


def answers(**changes: Any) -> dict[str, Any]:
    return {**NONE, **changes}


def duty_ids(result: Any) -> set[str]:
    return {d.citation for d in result.duties}


def _use_citation(use: str) -> str:
    point, _, letter = use.partition("(")
    return f"eu-ai-act/annex-iii/{point}" + (f"/{letter.rstrip(')')}" if letter else "")


def test_there_are_25_annex_iii_uses_and_10_article_5_points() -> None:
    # A count from the Act, so a use or point left out of the questionnaire cannot go unnoticed.
    assert len(ANNEX_III_USES) == 25
    assert len(ART_5_POINTS) == 10


# --- Article 5 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ART_5_POINTS)
def test_each_article_5_practice_is_prohibited(point: str) -> None:
    result = classify(answers(art_5_practices=[point]))

    assert result.tier == "prohibited"
    assert f"eu-ai-act/art-5/1/{point}" in result.citations
    assert f"Art. 5(1)({point})" in result.rationale
    if point == "h":  # Art. 5(1)(h) prohibits "the use"
        assert "Point (h) prohibits the use" in result.rationale
        assert "placing such a system on the market" not in result.rationale
    elif point in "defg":  # "the putting into service for this specific purpose"
        assert (
            "putting it into service (for points (d)-(g): for that specific purpose) and using it" in result.rationale
        )
    else:
        assert "placing such a system on the market, putting it into service and using it" in result.rationale
    if point in ("ba", "bb"):
        assert "eu-ai-act/art-5/1a" in result.citations


@pytest.mark.parametrize("point", ART_5_POINTS)
def test_a_prohibited_practice_is_not_softened_by_a_derogation_or_transparency(point: str) -> None:
    result = classify(answers(art_5_practices=[point], annex_iii_uses=["5(b)"], transparency=["50(1)"], **DEROGATION))

    assert result.tier == "prohibited"


def test_real_time_biometric_identification_names_the_exceptions_of_article_5_1_h() -> None:
    result = classify(answers(art_5_practices=["h"]))

    assert result.tier == "prohibited"
    assert "objectives (i)-(iii)" in result.rationale
    assert "Art. 5(2)" in result.rationale
    assert "Art. 5(3)" in result.rationale


@pytest.mark.parametrize("objective", ["i", "ii", "iii"])
def test_real_time_biometric_identification_for_an_article_5_1_h_objective_is_high_with_its_conditions(
    objective: str,
) -> None:
    result = classify(answers(art_5_1_h_objective=objective, annex_iii_uses=["1(a)"]))

    assert result.tier == "high"
    assert {f"eu-ai-act/art-5/1/h/{objective}", "eu-ai-act/annex-iii/1/a"} <= set(result.citations)
    assert {"eu-ai-act/art-5/2", "eu-ai-act/art-5/3"} <= duty_ids(result)


# --- Article 6(2) and Annex III ----------------------------------------------------------------------------


@pytest.mark.parametrize("use", ANNEX_III_USES)
def test_each_annex_iii_use_is_high_risk(use: str) -> None:
    result = classify(answers(annex_iii_uses=[use]))

    assert result.tier == "high"
    assert {"eu-ai-act/art-6/2", _use_citation(use)} <= set(result.citations)
    assert cite(_use_citation(use)).pin in result.rationale
    assert not result.derogation


@pytest.mark.parametrize("use", ANNEX_III_USES)
def test_each_annex_iii_use_with_profiling_is_high_even_with_every_derogation_answer(use: str) -> None:
    result = classify(answers(annex_iii_uses=[use], profiles_natural_persons=True, **DEROGATION))

    assert result.tier == "high"
    assert "eu-ai-act/art-6/3/sub-3" in result.citations
    assert not result.derogation
    assert "eu-ai-act/art-49/2" not in duty_ids(result)


# --- Article 6(3): the derogation and its conditions -------------------------------------------------------


def test_remote_biometric_identification_with_a_human_reviewing_each_decision_stays_high() -> None:
    # Answered in the first questionnaire's terms, which is how such a system was registered before issue 27.
    result = classify({**FIRST_QUESTIONNAIRE, "annex_iii_area": "biometrics", "human_reviews_each_decision": True})

    assert result.tier == "high"
    assert "is not an Art. 6(3) condition" in result.rationale


def test_a_critical_infrastructure_safety_component_with_human_review_stays_high() -> None:
    legacy = classify(
        {**FIRST_QUESTIONNAIRE, "annex_iii_area": "critical_infrastructure", "human_reviews_each_decision": True}
    )
    current = classify(answers(annex_iii_uses=["2"]))

    assert (legacy.tier, current.tier) == ("high", "high")
    assert "none of conditions (a)-(d) is met" in current.rationale


def test_a_narrow_procedural_task_without_material_influence_and_documented_gets_the_derogation() -> None:
    result = classify(answers(annex_iii_uses=["5(b)"], **DEROGATION))

    assert result.tier == "minimal"
    assert result.derogation
    assert {"eu-ai-act/art-6/3", "eu-ai-act/art-6/3/a", "eu-ai-act/annex-iii/5/b"} <= set(result.citations)
    # The duties the derogation brings are named with their provisions.
    assert duty_ids(result) == {"eu-ai-act/art-6/4", "eu-ai-act/art-49/2"}
    assert "Art. 6(4) of Regulation (EU) 2024/1689" in result.rationale
    assert "Art. 49(2) of Regulation (EU) 2024/1689" in result.rationale
    assert "register" in result.rationale
    basis = result.basis()
    assert basis["art_6_3_derogation"] is True
    assert [d["label"] for d in basis["duties"]] == [
        "Art. 6(4) of Regulation (EU) 2024/1689",
        "Art. 49(2) of Regulation (EU) 2024/1689",
    ]


@pytest.mark.parametrize("condition", ["a", "b", "c", "d"])
def test_each_derogation_condition_with_the_no_significant_risk_condition_and_documentation_is_enough(
    condition: str,
) -> None:
    result = classify(answers(annex_iii_uses=["4(b)"], **{**DEROGATION, "art_6_3_conditions": [condition]}))

    assert result.tier == "minimal"
    assert f"eu-ai-act/art-6/3/{condition}" in result.citations


@pytest.mark.parametrize("assessment", ["", "   \n"])
def test_the_derogation_without_a_documented_assessment_is_refused_and_the_system_is_high(assessment: str) -> None:
    result = classify(answers(annex_iii_uses=["5(b)"], **{**DEROGATION, "art_6_3_assessment": assessment}))

    assert result.tier == "high"
    assert not result.derogation
    assert "no documented assessment" in result.rationale
    assert "Art. 6(4)" in result.rationale


def test_a_condition_without_the_no_significant_risk_finding_is_not_a_derogation() -> None:
    result = classify(answers(annex_iii_uses=["3(b)"], **{**DEROGATION, "art_6_3_no_significant_risk": False}))

    assert result.tier == "high"
    assert "no significant risk of harm" in result.rationale


def test_no_significant_risk_without_any_condition_a_to_d_is_not_a_derogation() -> None:
    result = classify(answers(annex_iii_uses=["3(b)"], **{**DEROGATION, "art_6_3_conditions": []}))

    assert result.tier == "high"
    assert "none of conditions (a)-(d) is met" in result.rationale


def test_profiling_overrides_the_derogation() -> None:
    result = classify(answers(annex_iii_uses=["4(a)"], profiles_natural_persons=True, **DEROGATION))

    assert result.tier == "high"
    assert "Art. 6(3), third subparagraph, of Regulation (EU) 2024/1689" in result.rationale


def test_a_derogated_system_that_talks_to_people_is_limited_and_keeps_both_duties() -> None:
    result = classify(answers(annex_iii_uses=["5(b)"], transparency=["50(1)"], **DEROGATION))

    assert result.tier == "limited"
    assert result.derogation
    assert duty_ids(result) == {"eu-ai-act/art-6/4", "eu-ai-act/art-49/2", "eu-ai-act/art-50/1"}


# --- Article 6(1) and Annex I ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["safety_component", "product"])
def test_an_annex_i_product_or_safety_component_with_third_party_assessment_is_high(role: str) -> None:
    result = classify(answers(annex_i=role, annex_i_third_party_assessment=True))

    assert result.tier == "high"
    assert {"eu-ai-act/art-6/1", "eu-ai-act/annex-i"} <= set(result.citations)


def test_the_article_6_3_derogation_does_not_lower_the_annex_i_route() -> None:
    result = classify(
        answers(annex_i="safety_component", annex_i_third_party_assessment=True, annex_iii_uses=["2"], **DEROGATION)
    )

    assert result.tier == "high"
    assert not result.derogation


def test_an_annex_i_product_without_third_party_assessment_is_not_high_through_article_6_1() -> None:
    result = classify(answers(annex_i="product", annex_i_third_party_assessment=False))

    assert result.tier == "minimal"
    assert "Art. 6(1c)" in result.rationale


# --- Article 50: a separate fact from the tier -------------------------------------------------------------


def test_a_high_risk_emotion_recognition_system_also_carries_article_50_3() -> None:
    result = classify(answers(annex_iii_uses=["1(c)"], transparency=["50(3)-emotion"]))

    assert result.tier == "high"
    assert result.transparency == ("eu-ai-act/art-50/3",)
    assert "eu-ai-act/art-50/3" in duty_ids(result)
    assert "Art. 50(3) of Regulation (EU) 2024/1689" in result.rationale


@pytest.mark.parametrize(
    ("situation", "citation"),
    [
        ("50(1)", "eu-ai-act/art-50/1"),
        ("50(2)", "eu-ai-act/art-50/2"),
        ("50(3)-emotion", "eu-ai-act/art-50/3"),
        ("50(3)-biometric", "eu-ai-act/art-50/3"),
        ("50(4)-deep-fake", "eu-ai-act/art-50/4"),
        ("50(4)-text", "eu-ai-act/art-50/4/sub-2"),
    ],
)
def test_each_article_50_situation_alone_is_limited_with_its_duty(situation: str, citation: str) -> None:
    result = classify(answers(transparency=[situation]))

    assert result.tier == "limited"
    assert result.transparency == (citation,)
    assert duty_ids(result) == {citation}


def test_nothing_answered_is_minimal_with_no_duty() -> None:
    result = classify(answers())

    assert result.tier == "minimal"
    assert result.duties == ()


# --- what is stored ----------------------------------------------------------------------------------------


def test_the_result_stores_every_answer_the_cited_ids_and_the_text_version() -> None:
    result = classify(answers(annex_iii_uses=["5(b)"], profiles_natural_persons=True))
    basis = result.basis()

    assert set(result.answers) == {
        "art_5_practices",
        "art_5_1_h_objective",
        "annex_i",
        "annex_i_third_party_assessment",
        "annex_iii_uses",
        "profiles_natural_persons",
        "art_6_3_conditions",
        "art_6_3_no_significant_risk",
        "art_6_3_assessment",
        "transparency",
    }
    assert basis["text_version"] == EU_AI_ACT_TEXT_VERSION
    assert "2026/1744" in basis["text_version"]
    assert basis["questionnaire_version"] == 2
    for cited in basis["citations"]:
        assert cite(cited["id"]).label == cited["label"]
        assert f"[{cited['id']}]" in result.rationale  # the rationale cites the catalogue by id


def test_the_first_questionnaires_answers_are_stored_as_given_and_read_conservatively() -> None:
    given = {
        **FIRST_QUESTIONNAIRE,
        "annex_iii_area": "essential_services",
        "interacts_with_people_or_generates_content": True,
    }
    result = classify(given)

    assert result.answers == given
    assert result.questionnaire_version == 1
    assert result.tier == "high"
    assert set(result.transparency) == {"eu-ai-act/art-50/1", "eu-ai-act/art-50/2"}
    assert "eu-ai-act/annex-iii/5" in result.citations


# --- bad answers -------------------------------------------------------------------------------------------


def test_options_that_do_not_exist_are_named_with_the_valid_ones() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(art_5_practices=["z"], annex_iii_uses=["5"], transparency=["50(9)"], annex_i="car"))

    problems = caught.value.problems
    assert set(problems) == {"art_5_practices", "annex_iii_uses", "transparency", "annex_i"}
    assert "'5' not an option" in problems["annex_iii_uses"]  # a point without its letter is not a use
    assert "5(c)" in problems["annex_iii_uses"]


@pytest.mark.parametrize("value", ["5(b)", None, 3, [1]])
def test_a_list_question_needs_a_list_of_strings(value: Any) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(annex_iii_uses=value))

    assert set(caught.value.problems) == {"annex_iii_uses"}
    assert "give a list" in caught.value.problems["annex_iii_uses"]


def test_the_assessment_must_be_text_of_bounded_size() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(art_6_3_assessment=["doc"]))
    assert set(caught.value.problems) == {"art_6_3_assessment"}

    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(art_6_3_assessment="x" * 20001))
    assert "at most 20000 characters" in caught.value.problems["art_6_3_assessment"]


def test_a_non_object_is_refused_by_name() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(["annex_iii_uses"])  # type: ignore[arg-type]
    assert "object" in str(caught.value)


def test_a_question_of_the_other_questionnaire_is_named_not_mixed_in() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(human_reviews_each_decision=True))
    assert set(caught.value.problems) == {"human_reviews_each_decision"}


# --- stored models: re-classified by migration 0006, with a finding where the tier changes -------------------

MIGRATION = "registry.migrations.0006_risk_under_the_act"


def _run_migration_step() -> None:
    importlib.import_module(MIGRATION).reclassify(apps, None)


def _as_before_issue_27(model: RegisteredModel, tier: str) -> RegisteredModel:
    # What the first rules stored: the tier they gave, a rationale without citations, no basis.
    RegisteredModel.objects.filter(pk=model.pk).update(risk_tier=tier, risk_rationale="(old rules)", risk_basis={})
    return RegisteredModel.objects.get(pk=model.pk)


@pytest.mark.django_db
def test_the_migration_makes_a_human_review_derogation_high_and_opens_a_finding_for_an_officer(
    cast: Cast, make_version: MakeVersion, walk: Walk
) -> None:
    human_review = {**FIRST_QUESTIONNAIRE, "annex_iii_area": "education", "human_reviews_each_decision": True}
    model = actions.do_register_model(
        user=cast.owner.user,
        actor=acting(cast.owner),
        name="exam-proctor",
        team=Team.objects.get(slug=TEAM),
        purpose="Flags irregularities in online exams.",
        risk_answers=human_review,
    )
    model = _as_before_issue_27(model, "limited")
    approved = walk(make_version(model), VersionState.APPROVED)  # one approval sufficed for "limited"
    retired = walk(make_version(model), VersionState.RETIRED)
    seq = last_seq()

    _run_migration_step()

    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert model.risk_answers == human_review  # the answers stay as they were given
    assert "is not an Art. 6(3) condition" in model.risk_rationale
    assert model.risk_basis["text_version"] == EU_AI_ACT_TEXT_VERSION
    assert "eu-ai-act/annex-iii/3" in [c["id"] for c in model.risk_basis["citations"]]
    findings = list(Finding.objects.filter(kind="risk_reclassified"))
    assert [(f.version_id, f.status, f.cause) for f in findings] == [
        (approved.pk, "open", "risk_reclassified:limited->high")
    ]  # none on the retired version
    assert "from limited to high" in findings[0].title
    approved.refresh_from_db()
    assert approved.state == VersionState.SUBMITTED  # a high-risk model needs a second approver
    assert retired.pk != approved.pk
    changed = events_since(seq, "model.risk_changed")
    assert [(e.actor_kind, e.payload["old_tier"], e.payload["new_tier"]) for e in changed] == [
        ("system", "limited", "high")
    ]
    assert changed[0].payload["text_version"] == EU_AI_ACT_TEXT_VERSION
    assert [e.payload["kind"] for e in events_since(seq, "finding.opened")] == ["risk_reclassified"]


@pytest.mark.django_db
def test_the_migration_stores_the_basis_of_an_unchanged_tier_without_a_finding(
    cast: Cast, make_version: MakeVersion
) -> None:
    model = _as_before_issue_27(register_model(cast, "high"), "high")
    make_version(model)

    _run_migration_step()

    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert "[eu-ai-act/art-6/3/sub-3]" in model.risk_rationale  # credit scoring profiles applicants
    assert model.risk_basis["tier"] == "high"
    assert not Finding.objects.filter(kind="risk_reclassified").exists()


@pytest.mark.django_db
def test_the_migration_step_does_nothing_without_models() -> None:
    seq = last_seq()
    _run_migration_step()
    assert events_since(seq) == []


# --- the API speaks both questionnaires --------------------------------------------------------------------

API = "/api/v1/models/"


@pytest.mark.django_db
def test_registering_with_the_current_questionnaire_stores_the_basis(cast: Cast) -> None:
    body = {
        "name": "claims-router",
        "team": TEAM,
        "purpose": "Routes health-insurance claims to a handler by claim type.",
        "risk_answers": answers(annex_iii_uses=["5(c)"], transparency=["50(1)"], **DEROGATION),
    }

    response = cast.owner.client().post(API, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["risk_tier"] == "limited"
    assert data["risk_basis"]["art_6_3_derogation"] is True
    assert [d["citation"] for d in data["risk_basis"]["duties"]] == [
        "eu-ai-act/art-6/4",
        "eu-ai-act/art-49/2",
        "eu-ai-act/art-50/1",
    ]
    assert data["risk_answers"]["art_6_3_assessment"] == DEROGATION["art_6_3_assessment"]


@pytest.mark.django_db
def test_bad_answers_to_the_current_questionnaire_are_named_and_change_nothing(cast: Cast) -> None:
    body = {
        "name": "claims-router",
        "team": TEAM,
        "purpose": "p",
        "risk_answers": answers(annex_iii_uses=["5"], art_6_3_conditions="a", transparency=None),
    }
    seq = last_seq()

    error = assert_error(cast.owner.client().post(API, body, format="json"), 422, "validation_failed")

    assert set(error["details"]["risk_answers"]) == {"annex_iii_uses", "art_6_3_conditions", "transparency"}
    assert not RegisteredModel.objects.filter(name="claims-router").exists()
    assert events_since(seq) == []


# --- the portal's questionnaire ----------------------------------------------------------------------------


def _portal_answers(**changes: Any) -> dict[str, Any]:
    form = {
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_iii_uses": ["5(b)"],
        "art_6_3_conditions": ["a"],
        "art_6_3_no_significant_risk": "on",
        "art_6_3_assessment": DEROGATION["art_6_3_assessment"],
        "transparency": ["50(1)"],
        "reason": "The scoring moved to another system; this one only routes files.",
    }
    return {**form, **changes}


@pytest.mark.django_db
def test_the_portal_questionnaire_quotes_the_act_and_an_officer_re_classifies_with_it(cast: Cast) -> None:
    model = register_model(cast, "high")
    url = f"/models/{model.name}/risk"
    client = signed_in(cast.officer)

    page = client.get(url).content.decode()
    assert "in the case of life and health insurance" in page  # Annex III 5(c) as worded
    assert "AI systems intended to be used for emotion recognition" in page  # 1(c)
    assert "the placing on the market, the putting into service or the use of" in page  # Art. 5(1)
    assert "Art. 6(3)(a): the AI system is intended to perform a narrow procedural task" in page

    response = client.post(url, _portal_answers())

    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.risk_tier, model.risk_basis["art_6_3_derogation"]) == ("limited", True)
    shown = client.get(url).content.decode()
    assert "Art. 49(2) of Regulation (EU) 2024/1689" in shown
    assert "Art. 6(4) of Regulation (EU) 2024/1689" in shown
    assert "Art. 50(1) of Regulation (EU) 2024/1689" in shown
    assert EU_AI_ACT_TEXT_VERSION in shown


@pytest.mark.django_db
def test_the_portal_refuses_the_derogation_without_its_documentation_and_says_why(cast: Cast) -> None:
    model = register_model(cast, "minimal")

    response = signed_in(cast.officer).post(f"/models/{model.name}/risk", _portal_answers(art_6_3_assessment=""))

    assert response.status_code == 302
    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert "no documented assessment" in model.risk_rationale


@pytest.mark.django_db
def test_bad_portal_answers_are_marked_and_change_nothing(cast: Cast) -> None:
    model = register_model(cast, "minimal")
    seq = last_seq()

    response = signed_in(cast.officer).post(
        f"/models/{model.name}/risk", _portal_answers(annex_iii_uses=["5"], reason="")
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "Please correct the problems marked below." in body
    assert "Select a valid choice. 5 is not one of the available choices." in body
    model.refresh_from_db()
    assert model.risk_tier == "minimal"
    assert events_since(seq) == []


@pytest.mark.django_db
def test_only_officers_are_offered_and_may_use_the_questionnaire(cast: Cast) -> None:
    model = register_model(cast, "minimal")
    url = f"/models/{model.name}/risk"

    assert "Change the classification" not in signed_in(cast.owner).get(url).content.decode()
    assert signed_in(cast.reviewer).post(url, _portal_answers()).status_code == 403
    model.refresh_from_db()
    assert model.risk_tier == "minimal"


@pytest.mark.django_db(transaction=True)
def test_migration_0006_re_classifies_a_model_stored_by_the_first_rules(unprotected_trail: None) -> None:
    # Migrate back to before issue 27, store what the first rules stored, and migrate forward for real.

    executor = MigrationExecutor(connection)
    executor.migrate([("registry", "0005_monitoring")])
    old = executor.loader.project_state([("registry", "0005_monitoring")]).apps
    owner = old.get_model("governance", "User").objects.create(username="legacy-owner", role="owner")
    team = old.get_model("governance", "Team").objects.create(slug="exams", name="Exams")
    model = old.get_model("registry", "RegisteredModel").objects.create(
        name="exam-proctor",
        team=team,
        purpose="Flags irregularities in online exams.",
        risk_tier="limited",
        risk_answers={**FIRST_QUESTIONNAIRE, "annex_iii_area": "education", "human_reviews_each_decision": True},
        risk_rationale="Education, but no profiling and a human reviews each decision: Art. 6(3) claimed.",
        created_by=owner,
    )
    old.get_model("registry", "ModelVersion").objects.create(
        model=model, number=1, state="approved", framework="predictions-only", created_by=owner
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    stored = RegisteredModel.objects.get(name="exam-proctor")
    assert stored.risk_tier == "high"
    assert stored.risk_basis["text_version"] == EU_AI_ACT_TEXT_VERSION
    finding = Finding.objects.get(version__model=stored)
    assert (finding.kind, finding.status) == ("risk_reclassified", "open")
    assert stored.versions.get().state == VersionState.SUBMITTED


@pytest.mark.django_db
def test_the_api_serves_the_questionnaire_with_each_option_quoting_its_provision(cast: Cast) -> None:
    response = cast.ci.client().get("/api/v1/risk-questionnaire")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text_version"] == EU_AI_ACT_TEXT_VERSION
    questions = {q["key"]: q for q in body["questions"]}
    assert list(questions) == [
        "art_5_practices",
        "art_5_1_h_objective",
        "annex_i",
        "annex_i_third_party_assessment",
        "annex_iii_uses",
        "profiles_natural_persons",
        "art_6_3_conditions",
        "art_6_3_no_significant_risk",
        "art_6_3_assessment",
        "transparency",
    ]  # the Act's order: Art. 5, Art. 6(1), Art. 6(2), Art. 6(3)-(4), Art. 50
    uses = {o["value"]: o["citation"] for o in questions["annex_iii_uses"]["options"]}
    assert sorted(uses) == sorted(ANNEX_III_USES)
    assert uses["5(c)"]["label"] == "Annex III, point 5(c), to Regulation (EU) 2024/1689"
    assert uses["5(c)"]["text"].endswith("in the case of life and health insurance")
    assert [o["value"] for o in questions["art_5_practices"]["options"]] == ART_5_POINTS
    assert questions["art_6_3_assessment"]["required"] is False
    assert questions["annex_iii_uses"]["required"] is True


@pytest.mark.django_db
def test_the_reclassify_command_runs_the_same_action_and_names_what_changed(
    cast: Cast, make_version: MakeVersion
) -> None:
    changed = _as_before_issue_27(register_model(cast, "high"), "limited")
    make_version(changed)
    _as_before_issue_27(register_model(cast, "minimal"), "minimal")
    out = StringIO()

    call_command("reclassify_risk", "--reason", "Catalogue wording corrected.", stdout=out)

    assert out.getvalue().splitlines() == ["credit-scoring: limited -> high", "document-router: minimal (unchanged)"]
    changed.refresh_from_db()
    assert changed.risk_change_reason == "Catalogue wording corrected."
    assert Finding.objects.filter(kind="risk_reclassified", version__model=changed).count() == 1
    with pytest.raises(CommandError, match="No model named nowhere"):
        call_command("reclassify_risk", "nowhere", "--reason", "x")
    with pytest.raises(CommandError, match="--reason"):
        call_command("reclassify_risk", "--reason", "  ")
