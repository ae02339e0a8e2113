"""EU AI Act risk classification from a short questionnaire (pure; no Django).

The questionnaire is deliberately small and conservative: it records the answers that drove the tier so a
reviewer can challenge them, and it never classifies below what the answers support.

- Article 5 practices are prohibited.
- Annex III areas are high-risk (Article 6(2)), unless the Article 6(3) derogation applies: the system does
  not profile natural persons and a human reviews each decision (a preparatory or narrow task). Profiling of
  natural persons is always high-risk in an Annex III area (Article 6(3), last subparagraph).
- Systems that interact with people or generate content carry transparency duties (Article 50): limited.
- Everything else is minimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIERS = ("prohibited", "high", "limited", "minimal")

ANNEX_III_AREAS = {
    "none": "None of the Annex III areas",
    "biometrics": "Biometric identification and categorisation (Annex III, 1)",
    "critical_infrastructure": "Safety components of critical infrastructure (Annex III, 2)",
    "education": "Education and vocational training: admission, assessment, proctoring (Annex III, 3)",
    "employment": "Employment: recruitment, promotion, termination, task allocation, monitoring (Annex III, 4)",
    "essential_services": "Essential services: credit scoring, public benefits, insurance pricing, emergency "
    "dispatch (Annex III, 5)",
    "law_enforcement": "Law enforcement (Annex III, 6)",
    "migration": "Migration, asylum and border control (Annex III, 7)",
    "justice": "Administration of justice and democratic processes (Annex III, 8)",
}

PROHIBITED_PRACTICES = {
    "none": "None",
    "manipulation": "Subliminal, manipulative or deceptive techniques causing significant harm (Art. 5(1)(a))",
    "exploiting_vulnerabilities": "Exploiting vulnerabilities of age, disability or social situation (Art. 5(1)(b))",
    "social_scoring": "Social scoring leading to unjustified detrimental treatment (Art. 5(1)(c))",
    "predictive_policing_profiling": "Predicting criminal offences solely from profiling (Art. 5(1)(d))",
    "face_scraping": "Untargeted scraping of facial images for recognition databases (Art. 5(1)(e))",
    "emotion_recognition_work_education": "Emotion recognition at work or in education (Art. 5(1)(f))",
    "biometric_categorisation_sensitive": "Biometric categorisation inferring sensitive traits (Art. 5(1)(g))",
    "realtime_remote_biometric_id": "Real-time remote biometric identification in public for law enforcement "
    "(Art. 5(1)(h))",
}

QUESTIONS: dict[str, str] = {
    "prohibited_practice": "Does the system perform any Article 5 practice?",
    "annex_iii_area": "Which Annex III area, if any, is the system used in?",
    "profiles_natural_persons": "Does the system profile natural persons (evaluate personal aspects)?",
    "human_reviews_each_decision": "Does a human review every decision before it takes effect?",
    "interacts_with_people_or_generates_content": "Does it interact with people or generate content "
    "(chat, synthetic media)?",
}


class QuestionnaireError(ValueError):
    """The answers are incomplete or name options that do not exist."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Classification:
    """The tier, the rationale in words, and the cleaned answers that produced it."""

    tier: str
    rationale: str
    answers: dict[str, Any]


def _validate(answers: Mapping[str, Any]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    unknown = set(answers) - set(QUESTIONS)
    for key in sorted(unknown):
        problems[key] = "not a question of the risk questionnaire"
    cleaned: dict[str, Any] = {}
    for key, options in (("prohibited_practice", PROHIBITED_PRACTICES), ("annex_iii_area", ANNEX_III_AREAS)):
        value = answers.get(key)
        if not isinstance(value, str) or value not in options:
            problems[key] = f"choose one of {', '.join(options)}"
        cleaned[key] = value
    for key in (
        "profiles_natural_persons",
        "human_reviews_each_decision",
        "interacts_with_people_or_generates_content",
    ):
        value = answers.get(key)
        if not isinstance(value, bool):
            problems[key] = "answer true or false"
        cleaned[key] = value
    if problems:
        raise QuestionnaireError(problems)
    return cleaned


def classify(answers: Mapping[str, Any]) -> Classification:
    """Classify a system from its questionnaire answers (see the module docstring for the rules)."""
    a = _validate(answers)
    if a["prohibited_practice"] != "none":
        practice = PROHIBITED_PRACTICES[a["prohibited_practice"]]
        return Classification("prohibited", f"Prohibited practice: {practice}. It may not be placed on the market.", a)
    if a["annex_iii_area"] != "none":
        area = ANNEX_III_AREAS[a["annex_iii_area"]]
        if a["profiles_natural_persons"]:
            return Classification(
                "high", f"{area}, and it profiles natural persons: always high-risk (Art. 6(2), 6(3) last para.).", a
            )
        if a["human_reviews_each_decision"]:
            return Classification(
                "limited",
                f"{area}, but no profiling and a human reviews each decision: the Art. 6(3) derogation is claimed; "
                "the provider must document this assessment (Art. 6(4)) before placing it on the market.",
                a,
            )
        return Classification("high", f"{area}: high-risk under Art. 6(2) and Annex III.", a)
    if a["interacts_with_people_or_generates_content"]:
        return Classification(
            "limited", "Interacts with people or generates content: transparency duties (Art. 50).", a
        )
    return Classification("minimal", "No Article 5 practice, no Annex III area, no Article 50 duty: minimal risk.", a)


def required_approvals(tier: str) -> int:
    """Distinct approvers a version needs: two for high-risk models (four eyes), one otherwise."""
    return 2 if tier == "high" else 1
