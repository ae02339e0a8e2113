"""The first EU AI Act risk questionnaire's answers (registry.risk), still accepted: pure rules, no database.

Expected tiers are written out from the Act's articles, not read back from the code: Article 5 practices are
prohibited; an Annex III area is high-risk, and the first questionnaire never asked the Article 6(3) conditions, so
no derogation can follow from its answers ("a human reviews each decision" is not one); Article 50 systems
(interacting with people, generating content) are limited; everything else is minimal. The current questionnaire
is tested in test_risk_act.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.risk import (
    ANNEX_III_AREAS,
    DEFAULTS,
    PROHIBITED_PRACTICES,
    QUESTIONS,
    TIERS,
    QuestionnaireError,
    classify,
    required_approvals,
)

NO = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}
BOOLEAN_QUESTIONS = (
    "profiles_natural_persons",
    "human_reviews_each_decision",
    "interacts_with_people_or_generates_content",
)
PRACTICES = sorted(set(PROHIBITED_PRACTICES) - {"none"})
AREAS = sorted(set(ANNEX_III_AREAS) - {"none"})


def answers(**changes: Any) -> dict[str, Any]:
    return {**NO, **changes}


# --- each tier, from the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "tier"),
    [
        pytest.param({}, "minimal", id="nothing-applies-minimal"),
        pytest.param({"prohibited_practice": "social_scoring"}, "prohibited", id="article-5-prohibited"),
        pytest.param({"annex_iii_area": "essential_services"}, "high", id="annex-iii-high"),
        pytest.param(
            {"annex_iii_area": "employment", "profiles_natural_persons": True}, "high", id="annex-iii-profiling-high"
        ),
        pytest.param(
            {"annex_iii_area": "education", "human_reviews_each_decision": True},
            "high",
            id="annex-iii-human-review-is-no-derogation-high",
        ),
        pytest.param({"interacts_with_people_or_generates_content": True}, "limited", id="article-50-limited"),
        # Profiling and human review outside Annex III change nothing: the derogation is about Annex III.
        pytest.param(
            {"profiles_natural_persons": True, "human_reviews_each_decision": True}, "minimal", id="no-area-minimal"
        ),
    ],
)
def test_every_tier_is_reachable_from_its_rule(changes: dict[str, Any], tier: str) -> None:
    result = classify(answers(**changes))

    assert result.tier == tier
    assert result.answers == answers(**changes)
    assert result.rationale.strip()


def test_the_four_tiers_are_exactly_those_of_the_act() -> None:
    reached = {
        classify(answers()).tier,
        classify(answers(prohibited_practice="manipulation")).tier,
        classify(answers(annex_iii_area="justice")).tier,
        classify(answers(interacts_with_people_or_generates_content=True)).tier,
    }
    assert reached == set(TIERS) == {"prohibited", "high", "limited", "minimal"}


@pytest.mark.parametrize("practice", PRACTICES)
def test_any_article_5_practice_is_prohibited_whatever_else_is_answered(practice: str) -> None:
    # The most favourable other answers (a human reviews everything, no area) must not soften the tier.
    result = classify(
        answers(
            prohibited_practice=practice,
            annex_iii_area="essential_services",
            human_reviews_each_decision=True,
            interacts_with_people_or_generates_content=True,
        )
    )

    assert result.tier == "prohibited"
    assert f"Art. 5(1)({PROHIBITED_PRACTICES[practice]})" in result.rationale


@pytest.mark.parametrize("area", AREAS)
def test_profiling_in_an_annex_iii_area_is_high_even_with_a_human_reviewing(area: str) -> None:
    result = classify(answers(annex_iii_area=area, profiles_natural_persons=True, human_reviews_each_decision=True))

    assert result.tier == "high"
    assert f"Annex III, point {ANNEX_III_AREAS[area]}" in result.rationale
    assert "profil" in result.rationale


@pytest.mark.parametrize("area", AREAS)
def test_a_human_reviewing_each_decision_is_no_derogation(area: str) -> None:
    # Art. 6(3) needs one of its conditions (a)-(d), no significant risk and a documented assessment (Art. 6(4)).
    result = classify(answers(annex_iii_area=area, human_reviews_each_decision=True))

    assert result.tier == "high"
    assert "is not an Art. 6(3) condition" in result.rationale
    assert not result.derogation


@pytest.mark.parametrize("area", AREAS)
def test_an_annex_iii_area_without_derogation_is_high(area: str) -> None:
    assert classify(answers(annex_iii_area=area)).tier == "high"


def test_article_50_alone_is_limited_and_says_why() -> None:
    result = classify(answers(interacts_with_people_or_generates_content=True))

    assert result.tier == "limited"
    assert "Art. 50" in result.rationale


# --- bad answers -----------------------------------------------------------------------------------------------


def test_unknown_questions_are_each_named() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify({**NO, "uses_gpu": True, "favourite_colour": "blue"})

    assert set(caught.value.problems) == {"uses_gpu", "favourite_colour"}
    assert all("not a question" in message for message in caught.value.problems.values())


def test_options_that_do_not_exist_are_each_named() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(prohibited_practice="mind_control", annex_iii_area="astrology"))

    assert set(caught.value.problems) == {"prohibited_practice", "annex_iii_area"}
    assert "social_scoring" in caught.value.problems["prohibited_practice"]  # the valid options are listed
    assert "employment" in caught.value.problems["annex_iii_area"]


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_a_boolean_question_accepts_only_true_or_false(value: Any) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify({**NO, **dict.fromkeys(BOOLEAN_QUESTIONS, value)})

    assert set(caught.value.problems) == set(BOOLEAN_QUESTIONS)
    assert all(message == "answer true or false" for message in caught.value.problems.values())


def test_an_empty_questionnaire_names_every_question_without_a_default() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify({})

    assert set(caught.value.problems) == set(QUESTIONS) - set(DEFAULTS)
    # The message names each field too, for callers that only show str(exc).
    assert all(question in str(caught.value) for question in set(QUESTIONS) - set(DEFAULTS))


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        classify({"annex_iii_area": "nowhere", "profiles_natural_persons": "no", "extra": 1})

    assert set(caught.value.problems) == {
        "extra",
        "prohibited_practice",
        "annex_iii_area",
        "profiles_natural_persons",
        "human_reviews_each_decision",
        "interacts_with_people_or_generates_content",
    }


def test_a_questionnaire_error_is_a_value_error() -> None:
    # Callers that catch ValueError (forms, generic input handling) catch it too.
    assert issubclass(QuestionnaireError, ValueError)


@pytest.mark.parametrize("value", [["employment"], {"area": "employment"}, 4])
def test_an_option_that_is_not_a_string_is_a_questionnaire_error_not_a_crash(value: Any) -> None:
    # Callers other than the API (the portal, scripts) reach classify() without a serializer in front.
    with pytest.raises(QuestionnaireError) as caught:
        classify(answers(annex_iii_area=value))

    assert set(caught.value.problems) == {"annex_iii_area"}


# --- approvals -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "approvals"), [("high", 2), ("limited", 1), ("minimal", 1), ("prohibited", 1)])
def test_high_risk_needs_two_distinct_approvers_every_other_tier_one(tier: str, approvals: int) -> None:
    # Prohibited versions never reach review (submission is refused), so their count is never used.
    assert required_approvals(tier) == approvals
