"""The risk questionnaire (pure; no Django): its questions in the Act's order, each option with the provision it
stands for in the catalogue (governance.citations), the defaults, how each kind of answer is checked, and the
questionnaire as data for a form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from governance.citations import EU_AI_ACT_TEXT_VERSION, cite

QUESTIONNAIRE_VERSION = 2
TEXT_VERSION = EU_AI_ACT_TEXT_VERSION


# --- the questions, in the Act's order; every option points at its provision in the catalogue ---------------

# Art. 5(1) points: answer key -> citation id.
PRACTICES: dict[str, str] = {
    "a": "eu-ai-act/art-5/1/a",
    "b": "eu-ai-act/art-5/1/b",
    "ba": "eu-ai-act/art-5/1/ba",
    "bb": "eu-ai-act/art-5/1/bb",
    "c": "eu-ai-act/art-5/1/c",
    "d": "eu-ai-act/art-5/1/d",
    "e": "eu-ai-act/art-5/1/e",
    "f": "eu-ai-act/art-5/1/f",
    "g": "eu-ai-act/art-5/1/g",
    "h": "eu-ai-act/art-5/1/h",
}
# Art. 5(1)(h): the objectives for which real-time remote biometric identification is outside the prohibition.
RBI_OBJECTIVES: dict[str, str] = {
    "none": "",
    "i": "eu-ai-act/art-5/1/h/i",
    "ii": "eu-ai-act/art-5/1/h/ii",
    "iii": "eu-ai-act/art-5/1/h/iii",
}
ANNEX_I_ROLES: dict[str, str] = {
    "none": "Neither a safety component of, nor itself, a product covered by the Annex I legislation",
    "safety_component": "A safety component of a product covered by the Annex I legislation",
    "product": "Itself a product covered by the Annex I legislation",
}
# Annex III uses, written as the Act numbers them: answer value -> citation id.
ANNEX_III_USES: dict[str, str] = {
    "1(a)": "eu-ai-act/annex-iii/1/a",
    "1(b)": "eu-ai-act/annex-iii/1/b",
    "1(c)": "eu-ai-act/annex-iii/1/c",
    "2": "eu-ai-act/annex-iii/2",
    "3(a)": "eu-ai-act/annex-iii/3/a",
    "3(b)": "eu-ai-act/annex-iii/3/b",
    "3(c)": "eu-ai-act/annex-iii/3/c",
    "3(d)": "eu-ai-act/annex-iii/3/d",
    "4(a)": "eu-ai-act/annex-iii/4/a",
    "4(b)": "eu-ai-act/annex-iii/4/b",
    "5(a)": "eu-ai-act/annex-iii/5/a",
    "5(b)": "eu-ai-act/annex-iii/5/b",
    "5(c)": "eu-ai-act/annex-iii/5/c",
    "5(d)": "eu-ai-act/annex-iii/5/d",
    "6(a)": "eu-ai-act/annex-iii/6/a",
    "6(b)": "eu-ai-act/annex-iii/6/b",
    "6(c)": "eu-ai-act/annex-iii/6/c",
    "6(d)": "eu-ai-act/annex-iii/6/d",
    "6(e)": "eu-ai-act/annex-iii/6/e",
    "7(a)": "eu-ai-act/annex-iii/7/a",
    "7(b)": "eu-ai-act/annex-iii/7/b",
    "7(c)": "eu-ai-act/annex-iii/7/c",
    "7(d)": "eu-ai-act/annex-iii/7/d",
    "8(a)": "eu-ai-act/annex-iii/8/a",
    "8(b)": "eu-ai-act/annex-iii/8/b",
}
# Whole Annex III points: only answers of the first questionnaire name a point without its letter.
ANNEX_III_POINTS: dict[str, str] = {
    "1": "eu-ai-act/annex-iii/1",
    "2": "eu-ai-act/annex-iii/2",
    "3": "eu-ai-act/annex-iii/3",
    "4": "eu-ai-act/annex-iii/4",
    "5": "eu-ai-act/annex-iii/5",
    "6": "eu-ai-act/annex-iii/6",
    "7": "eu-ai-act/annex-iii/7",
    "8": "eu-ai-act/annex-iii/8",
}
DEROGATION_CONDITIONS: dict[str, str] = {
    "a": "eu-ai-act/art-6/3/a",
    "b": "eu-ai-act/art-6/3/b",
    "c": "eu-ai-act/art-6/3/c",
    "d": "eu-ai-act/art-6/3/d",
}
# Art. 50 duties: answer value -> (citation id, what the answer says).
TRANSPARENCY: dict[str, tuple[str, str]] = {
    "50(1)": ("eu-ai-act/art-50/1", "It is intended to interact directly with natural persons."),
    "50(2)": ("eu-ai-act/art-50/2", "It generates synthetic audio, image, video or text content."),
    "50(3)-emotion": ("eu-ai-act/art-50/3", "It is an emotion recognition system."),
    "50(3)-biometric": ("eu-ai-act/art-50/3", "It is a biometric categorisation system."),
    "50(4)-deep-fake": ("eu-ai-act/art-50/4", "It generates or manipulates image, audio or video that is a deep fake."),
    "50(4)-text": (
        "eu-ai-act/art-50/4/sub-2",
        "It generates or manipulates text published to inform the public on matters of public interest.",
    ),
}

QUESTIONS: dict[str, str] = {
    "art_5_practices": "Art. 5(1): which prohibited practices, as worded, does placing the system on the market, "
    "putting it into service or using it involve? (none: an empty list)",
    "art_5_1_h_objective": "Art. 5(1)(h): if the system is used for real-time remote biometric identification in "
    "publicly accessible spaces for law enforcement only where strictly necessary for one of the objectives "
    "(i)-(iii), which one? (none otherwise)",
    "annex_i": "Art. 6(1)(a): is the system a safety component of a product, or itself a product, covered by the "
    "Union harmonisation legislation listed in Annex I?",
    "annex_i_third_party_assessment": "Art. 6(1)(b): must that product undergo a third-party conformity assessment "
    "(for health and safety risks, Art. 6(1c)) under that legislation?",
    "annex_iii_uses": "Art. 6(2): which Annex III uses, as worded, is the system intended for? (none: an empty list)",
    "profiles_natural_persons": "Does the system perform profiling of natural persons (Art. 6(3), third subparagraph)?",
    "art_6_3_conditions": "Art. 6(3)(a)-(d): which derogation conditions does the system's intended purpose meet? "
    "(none: an empty list)",
    "art_6_3_no_significant_risk": "Art. 6(3): does it pose no significant risk of harm to the health, safety or "
    "fundamental rights of natural persons, including by not materially influencing the outcome of decision "
    "making?",
    "art_6_3_assessment": "Art. 6(4): the documented assessment on which the derogation rests (text, or where it is "
    "kept and what it concludes)",
    "transparency": "Art. 50: which transparency situations apply? (none: an empty list)",
}
# Questions with a default: a caller that never uses the derogation or Annex I need not send them.
DEFAULTS: dict[str, Any] = {
    "art_5_1_h_objective": "none",
    "annex_i_third_party_assessment": False,
    "art_6_3_conditions": [],
    "art_6_3_no_significant_risk": False,
    "art_6_3_assessment": "",
}
ASSESSMENT_MAX_CHARS = 20000


class QuestionnaireError(ValueError):
    """The answers are incomplete or name options that do not exist."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _choice(answers: Mapping[str, Any], key: str, options: Mapping[str, Any], problems: dict[str, str]) -> Any:
    value = answers.get(key)
    if not isinstance(value, str) or value not in options:
        problems[key] = f"choose one of {', '.join(options)}"
    return value


def _choices(answers: Mapping[str, Any], key: str, options: Mapping[str, Any], problems: dict[str, str]) -> list[str]:
    value = answers.get(key)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        problems[key] = f"give a list (empty for none) of any of {', '.join(options)}"
        return []
    unknown = [v for v in value if v not in options]
    if unknown:
        problems[key] = f"{', '.join(map(repr, unknown))} not an option; choose any of {', '.join(options)}"
    return list(dict.fromkeys(value))  # each once, in the order given


def _boolean(answers: Mapping[str, Any], key: str, problems: dict[str, str]) -> Any:
    value = answers.get(key)
    if not isinstance(value, bool):
        problems[key] = "answer true or false"
    return value


def questionnaire() -> dict[str, Any]:
    """The questionnaire as data (for the API and any other form): each question, how it is answered, its default,
    and each option with the provision it stands for, quoted from the catalogue."""

    def option(value: str, citation_id: str, words: str = "") -> dict[str, Any]:
        entry: dict[str, Any] = {"value": value, "citation": cite(citation_id).as_dict() if citation_id else None}
        if words:
            entry["words"] = words
        return entry

    kinds: dict[str, tuple[str, list[dict[str, Any]]]] = {
        "art_5_practices": ("choices", [option(k, c) for k, c in PRACTICES.items()]),
        "art_5_1_h_objective": ("choice", [option(k, c) for k, c in RBI_OBJECTIVES.items()]),
        "annex_i": (
            "choice",
            [option(k, "eu-ai-act/annex-i" if k != "none" else "", w) for k, w in ANNEX_I_ROLES.items()],
        ),
        "annex_i_third_party_assessment": ("boolean", [option("true", "eu-ai-act/art-6/1")]),
        "annex_iii_uses": ("choices", [option(k, c) for k, c in ANNEX_III_USES.items()]),
        "profiles_natural_persons": ("boolean", [option("true", "eu-ai-act/art-6/3/sub-3")]),
        "art_6_3_conditions": ("choices", [option(k, c) for k, c in DEROGATION_CONDITIONS.items()]),
        "art_6_3_no_significant_risk": ("boolean", [option("true", "eu-ai-act/art-6/3")]),
        "art_6_3_assessment": ("text", [option("", "eu-ai-act/art-6/4")]),
        "transparency": ("choices", [option(k, c, w) for k, (c, w) in TRANSPARENCY.items()]),
    }
    return {
        "questionnaire_version": QUESTIONNAIRE_VERSION,
        "text_version": TEXT_VERSION,
        "questions": [
            {
                "key": key,
                "question": QUESTIONS[key],
                "kind": kinds[key][0],
                "required": key not in DEFAULTS,
                "default": DEFAULTS.get(key),
                "options": kinds[key][1],
            }
            for key in QUESTIONS
        ],
    }
