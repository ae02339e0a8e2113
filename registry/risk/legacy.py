"""The first questionnaire (answers stored before issue 27), still accepted and read conservatively (pure; no
Django): it never asked the Art. 6(3) conditions, so an Annex III area is high risk whatever
``human_reviews_each_decision`` says; it asked for an area, not a point's letter, so the point is cited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.risk.questions import QuestionnaireError, _boolean, _choice

LEGACY_QUESTIONS: dict[str, str] = {
    "prohibited_practice": "Does the system perform any Article 5 practice?",
    "annex_iii_area": "Which Annex III area, if any, is the system used in?",
    "profiles_natural_persons": "Does the system profile natural persons (evaluate personal aspects)?",
    "human_reviews_each_decision": "Does a human review every decision before it takes effect?",
    "interacts_with_people_or_generates_content": "Does it interact with people or generate content "
    "(chat, synthetic media)?",
}
LEGACY_PRACTICES: dict[str, str | None] = {
    "none": None,
    "manipulation": "a",
    "exploiting_vulnerabilities": "b",
    "social_scoring": "c",
    "predictive_policing_profiling": "d",
    "face_scraping": "e",
    "emotion_recognition_work_education": "f",
    "biometric_categorisation_sensitive": "g",
    "realtime_remote_biometric_id": "h",
}
LEGACY_AREAS: dict[str, str | None] = {
    "none": None,
    "biometrics": "1",
    "critical_infrastructure": "2",
    "education": "3",
    "employment": "4",
    "essential_services": "5",
    "law_enforcement": "6",
    "migration": "7",
    "justice": "8",
}
# Kept for callers of the first questionnaire (the options they may send).
PROHIBITED_PRACTICES = LEGACY_PRACTICES
ANNEX_III_AREAS = LEGACY_AREAS


def is_first_questionnaire(answers: Mapping[str, Any]) -> bool:
    """Answers of the first questionnaire (stored before issue 27)."""
    return "annex_iii_area" in answers or "prohibited_practice" in answers


def _validate_first(answers: Mapping[str, Any]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    for key in sorted(set(answers) - set(LEGACY_QUESTIONS)):
        problems[key] = "not a question of the risk questionnaire"
    cleaned: dict[str, Any] = {
        "prohibited_practice": _choice(answers, "prohibited_practice", LEGACY_PRACTICES, problems),
        "annex_iii_area": _choice(answers, "annex_iii_area", LEGACY_AREAS, problems),
    }
    for key in (
        "profiles_natural_persons",
        "human_reviews_each_decision",
        "interacts_with_people_or_generates_content",
    ):
        cleaned[key] = _boolean(answers, key, problems)
    if problems:
        raise QuestionnaireError(problems)
    return cleaned


def _from_first(first: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The first questionnaire's answers read in the second's terms, and what that reading assumed."""
    practice = LEGACY_PRACTICES[first["prohibited_practice"]]
    point = LEGACY_AREAS[first["annex_iii_area"]]
    notes = [
        "Answers of the first questionnaire, which did not ask Art. 6(1) (Annex I products) or the Art. 6(3) "
        "conditions: read as no Annex I product and no derogation."
    ]
    if point:
        notes.append(
            f"The first questionnaire asked for an Annex III area, not the use: Annex III, point {point}, is cited "
            "as a whole; answer the current questionnaire to name the use."
        )
    if first["human_reviews_each_decision"]:
        notes.append(
            "'A human reviews each decision' is recorded but is not an Art. 6(3) condition and lowers no tier."
        )
    transparency: list[str] = []
    if first["interacts_with_people_or_generates_content"]:
        transparency = ["50(1)", "50(2)"]
        notes.append(
            "The first questionnaire asked one question for interaction and generated content: both Art. 50(1) and "
            "Art. 50(2) are listed until the current questionnaire says which applies."
        )
    answers = {
        "art_5_practices": [practice] if practice else [],
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_i_third_party_assessment": False,
        "annex_iii_uses": [point] if point else [],
        "profiles_natural_persons": first["profiles_natural_persons"],
        "art_6_3_conditions": [],
        "art_6_3_no_significant_risk": False,
        "art_6_3_assessment": "",
        "transparency": transparency,
    }
    return answers, notes
