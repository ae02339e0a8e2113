"""The answers checked and completed (pure; no Django): the current questionnaire's, or the first one's, each
against its own questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.risk.legacy import _from_first, _validate_first, is_first_questionnaire
from registry.risk.questions import (
    ANNEX_I_ROLES,
    ANNEX_III_USES,
    ASSESSMENT_MAX_CHARS,
    DEFAULTS,
    DEROGATION_CONDITIONS,
    PRACTICES,
    QUESTIONS,
    RBI_OBJECTIVES,
    TRANSPARENCY,
    QuestionnaireError,
    _boolean,
    _choice,
    _choices,
)


def clean_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers checked and completed with defaults (every question present), or QuestionnaireError naming
    each problem at once. Answers of the first questionnaire are checked against its own questions."""
    if not isinstance(answers, Mapping):
        raise QuestionnaireError({"risk_answers": "give an object of answers, one per question"})
    if is_first_questionnaire(answers):
        return _validate_first(answers)
    problems: dict[str, str] = {}
    for key in sorted(set(answers) - set(QUESTIONS)):
        problems[key] = "not a question of the risk questionnaire"
    given = {**DEFAULTS, **answers}
    cleaned: dict[str, Any] = {
        "art_5_practices": _choices(given, "art_5_practices", PRACTICES, problems),
        "art_5_1_h_objective": _choice(given, "art_5_1_h_objective", RBI_OBJECTIVES, problems),
        "annex_i": _choice(given, "annex_i", ANNEX_I_ROLES, problems),
        "annex_i_third_party_assessment": _boolean(given, "annex_i_third_party_assessment", problems),
        "annex_iii_uses": _choices(given, "annex_iii_uses", ANNEX_III_USES, problems),
        "profiles_natural_persons": _boolean(given, "profiles_natural_persons", problems),
        "art_6_3_conditions": _choices(given, "art_6_3_conditions", DEROGATION_CONDITIONS, problems),
        "art_6_3_no_significant_risk": _boolean(given, "art_6_3_no_significant_risk", problems),
        "art_6_3_assessment": given.get("art_6_3_assessment"),
        "transparency": _choices(given, "transparency", TRANSPARENCY, problems),
    }
    assessment = cleaned["art_6_3_assessment"]
    if not isinstance(assessment, str):
        problems["art_6_3_assessment"] = "give the documented assessment as text (empty when none)"
    elif len(assessment) > ASSESSMENT_MAX_CHARS:
        problems["art_6_3_assessment"] = f"at most {ASSESSMENT_MAX_CHARS} characters; say where the full text is kept"
    else:
        cleaned["art_6_3_assessment"] = assessment.strip()
    if problems:
        raise QuestionnaireError(problems)
    return cleaned


def current_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers in the current questionnaire's terms, to start a new answer from (a form's initial values).
    A first-questionnaire area is dropped: it names a point, and the current questionnaire asks for the use."""
    cleaned = clean_answers(answers)
    if not is_first_questionnaire(cleaned):
        return cleaned
    reading, _notes = _from_first(cleaned)
    return {**reading, "annex_iii_uses": [u for u in reading["annex_iii_uses"] if u in ANNEX_III_USES]}
