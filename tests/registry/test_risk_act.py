"""Legal known answers for the risk questionnaire (registry.risk), one case per provision of the Act.

Expected tiers come from the text of Regulation (EU) 2024/1689 (as amended by Regulation (EU) 2026/1744), not from
the code: Art. 5(1) practices are prohibited; Art. 6(1) (an Annex I safety component or product that needs a
third-party conformity assessment) and Art. 6(2) with Annex III are high risk; Art. 6(3) lowers an Annex III system
only with one of conditions (a)-(d) AND no significant risk of harm, never when it profiles natural persons, and the
provider must document the assessment (Art. 6(4)) and register (Art. 49(2)); Art. 50 duties are listed beside the
tier, for high-risk systems too.

Stored models re-classified by migration 0006, and the API, the portal and the command that ask the questionnaire,
are tested in test_risk_act_surfaces.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from governance.citations import EU_AI_ACT_TEXT_VERSION, cite
from registry.risk import QuestionnaireError, classify
from tests.registry.risk_act_helpers import ANNEX_III_USES, ART_5_POINTS, DEROGATION, FIRST_QUESTIONNAIRE, answers


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
