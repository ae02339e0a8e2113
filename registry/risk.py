"""EU AI Act risk classification from a questionnaire that follows the Act's structure (pure; no Django).

The questionnaire asks, in the Act's order, and classifies by these rules:

1. Art. 5(1): does any prohibited practice apply, as worded in points (a) to (h) (and (ba), (bb) since Regulation
   (EU) 2026/1744)? Each covers placing on the market, putting into service and use ((h) covers use). A real-time
   remote biometric identification use that is strictly necessary for one of the objectives of Art. 5(1)(h)(i)-(iii)
   is outside the prohibition; it is then high risk (Annex III, point 1(a)) and needs the Art. 5(2)-(3) conditions.
   Any practice -> ``prohibited``.
2. Art. 6(1): is the system a safety component of a product, or itself a product, covered by the Annex I
   legislation, and must that product undergo a third-party conformity assessment? Both -> ``high`` (no
   derogation exists for this route).
3. Art. 6(2) and Annex III: which listed uses, point and letter as worded? Any -> ``high``, unless the Art. 6(3)
   derogation holds, which needs all of: one of conditions (a)-(d); no significant risk of harm, including by not
   materially influencing the outcome of decision making; an assessment documented before the system is placed on
   the market or put into service (Art. 6(4)); and no profiling of natural persons (Art. 6(3), third subparagraph:
   profiling is always high). "A human reviews each decision" is none of these. When the derogation holds, the
   result names the Art. 6(4) documentation duty and the Art. 49(2) registration duty.
4. Art. 50: transparency duties (interaction, synthetic content, emotion recognition or biometric categorisation,
   deep fakes and public-interest text) are a separate fact from the tier: they are listed for high-risk systems
   too. A system that is neither prohibited nor high risk is ``limited`` when an Art. 50 duty applies, else
   ``minimal``.

What this does not do: it classifies from the answers given. It cannot tell whether the answers are true, whether
the system is an "AI system" in the Act's sense, or which role (provider, deployer) the organisation holds; a
wrong or missing answer gives a wrong tier. Each result keeps every answer, a rationale citing the catalogue
(governance.citations) by id, and the text version of the Act it was classified under, so a reviewer can
challenge it.

Answers of the first questionnaire (``prohibited_practice``, ``annex_iii_area``, ...) are still accepted and read
conservatively: it never asked the Art. 6(3) conditions, so an Annex III area is high risk whatever
``human_reviews_each_decision`` says; it asked for an area, not a point's letter, so the point is cited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.citations import EU_AI_ACT_TEXT_VERSION, Citation, cite

TIERS = ("prohibited", "high", "limited", "minimal")
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

# --- the first questionnaire (answers stored before issue 27), read conservatively -------------------------------

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


class QuestionnaireError(ValueError):
    """The answers are incomplete or name options that do not exist."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Duty:
    """An obligation the classification names, with the provision it comes from."""

    citation: str
    duty: str

    def as_dict(self) -> dict[str, str]:
        return {"citation": self.citation, "label": cite(self.citation).label, "duty": self.duty}


@dataclass(frozen=True)
class Classification:
    """The tier, the rationale in words, and the cleaned answers that produced it; with the provisions the tier
    rests on, the Art. 50 duties (a separate fact from the tier), the duties named, and the Act's text version."""

    tier: str
    rationale: str
    answers: dict[str, Any]
    citations: tuple[str, ...] = ()
    transparency: tuple[str, ...] = ()
    duties: tuple[Duty, ...] = ()
    derogation: bool = False
    questionnaire_version: int = QUESTIONNAIRE_VERSION
    text_version: str = TEXT_VERSION
    notes: tuple[str, ...] = field(default=())

    def basis(self) -> dict[str, Any]:
        """What is stored beside the tier: JSON, every citation with its label and text version."""
        return {
            "tier": self.tier,
            "questionnaire_version": self.questionnaire_version,
            "text_version": self.text_version,
            "citations": [_cited(c) for c in self.citations],
            "transparency": [_cited(c) for c in dict.fromkeys(self.transparency)],
            "duties": [d.as_dict() for d in self.duties],
            "art_6_3_derogation": self.derogation,
            "notes": list(self.notes),
        }


def _cited(citation_id: str) -> dict[str, str]:
    c = cite(citation_id)
    cited = {"id": c.id, "label": c.label, "title": c.title, "version": c.version}
    if c.note:
        cited["note"] = c.note
    return cited


def _ref(citation_id: str) -> str:
    """How the rationale cites: 'Art. 6(3)(a) of Regulation (EU) 2024/1689 [eu-ai-act/art-6/3/a]'."""
    return f"{cite(citation_id).label} [{citation_id}]"


def _short(citation_id: str) -> str:
    """'Art. 6(3)(a) (narrow procedural task) [eu-ai-act/art-6/3/a]' for lists in the rationale."""
    c: Citation = cite(citation_id)
    return f"{c.pin} ({c.title}) [{citation_id}]"


# --- validation ----------------------------------------------------------------------------------------------


def is_first_questionnaire(answers: Mapping[str, Any]) -> bool:
    """Answers of the first questionnaire (stored before issue 27)."""
    return "annex_iii_area" in answers or "prohibited_practice" in answers


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


def current_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers in the current questionnaire's terms, to start a new answer from (a form's initial values).
    A first-questionnaire area is dropped: it names a point, and the current questionnaire asks for the use."""
    cleaned = clean_answers(answers)
    if not is_first_questionnaire(cleaned):
        return cleaned
    reading, _notes = _from_first(cleaned)
    return {**reading, "annex_iii_uses": [u for u in reading["annex_iii_uses"] if u in ANNEX_III_USES]}


# --- the rules -----------------------------------------------------------------------------------------------


def classify(answers: Mapping[str, Any]) -> Classification:
    """Classify a system from its questionnaire answers (see the module docstring for the rules)."""
    cleaned = clean_answers(answers)
    if is_first_questionnaire(cleaned):
        reading, notes = _from_first(cleaned)
        return _classify(reading, stored=cleaned, questionnaire_version=1, notes=notes)
    return _classify(cleaned, stored=cleaned, questionnaire_version=QUESTIONNAIRE_VERSION, notes=[])


def _transparency(a: Mapping[str, Any]) -> tuple[tuple[str, ...], list[Duty], str]:
    """Art. 50: the provisions that apply, their duties, and the rationale's sentence (a fact beside the tier)."""
    ids = tuple(dict.fromkeys(TRANSPARENCY[t][0] for t in a["transparency"]))
    duties = [Duty(cid, cite(cid).text) for cid in ids]
    if not ids:
        return ids, duties, "No Art. 50 transparency situation was answered."
    words = " ".join(f"{TRANSPARENCY[t][1][:-1]}: {_ref(TRANSPARENCY[t][0])}." for t in a["transparency"])
    return ids, duties, f"Transparency duties, a separate fact from the tier: {words}"


@dataclass
class _Findings:
    """What the rules found, route by route, before the tier is decided."""

    high: list[str] = field(default_factory=list)  # one sentence per route that makes the system high risk
    citations: list[str] = field(default_factory=list)
    duties: list[Duty] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    derogation: str = ""  # the sentence stating that the Art. 6(3) derogation holds, when it does


def _rbi_objective(a: Mapping[str, Any], found: _Findings) -> None:
    objective = a["art_5_1_h_objective"]
    if objective == "none":
        return
    found.high.append(
        "Real-time remote biometric identification in publicly accessible spaces for law enforcement, strictly "
        f"necessary for {_short(RBI_OBJECTIVES[objective])}: outside the Art. 5(1)(h) prohibition, and a remote "
        f"biometric identification system, {_ref('eu-ai-act/annex-iii/1/a')}, so high risk under "
        f"{_ref('eu-ai-act/art-6/2')}. Each use needs the conditions of {_ref('eu-ai-act/art-5/2')} and a prior "
        f"authorisation ({_ref('eu-ai-act/art-5/3')})."
    )
    found.citations += [RBI_OBJECTIVES[objective], "eu-ai-act/annex-iii/1/a", "eu-ai-act/art-6/2"]
    found.duties += [Duty(c, cite(c).text) for c in ("eu-ai-act/art-5/2", "eu-ai-act/art-5/3")]


def _annex_i(a: Mapping[str, Any], found: _Findings) -> None:
    if a["annex_i"] == "none":
        return
    role = ANNEX_I_ROLES[a["annex_i"]]
    if a["annex_i_third_party_assessment"]:
        found.high.append(
            f"{role} ({_ref('eu-ai-act/annex-i')}) that must undergo a third-party conformity assessment: high risk "
            f"under {_ref('eu-ai-act/art-6/1')}; the Art. 6(3) derogation applies only to Annex III, not to this "
            "route."
        )
        found.citations += ["eu-ai-act/art-6/1", "eu-ai-act/annex-i"]
    else:
        found.notes.append(
            f"{role}, without a third-party conformity assessment for health and safety risks: not high risk under "
            f"{_ref('eu-ai-act/art-6/1')} (see {_ref('eu-ai-act/art-6/1c')})."
        )


def _annex_iii(a: Mapping[str, Any], found: _Findings) -> None:
    rbi_objective = a["art_5_1_h_objective"] != "none"  # already cited as 1(a) by _rbi_objective
    uses = [u for u in a["annex_iii_uses"] if not (rbi_objective and u == "1(a)")]
    if not uses:
        return
    annex_iii = [ANNEX_III_USES.get(u) or ANNEX_III_POINTS[u] for u in uses]
    listed = "; ".join(_short(c) for c in annex_iii)
    conditions = [DEROGATION_CONDITIONS[c] for c in a["art_6_3_conditions"]]
    if a["profiles_natural_persons"]:
        found.high.append(
            f"Listed in Annex III: {listed}; high risk under {_ref('eu-ai-act/art-6/2')}. It performs profiling of "
            f"natural persons, so it is always high risk and the derogation cannot apply "
            f"({_ref('eu-ai-act/art-6/3/sub-3')})."
        )
        found.citations += ["eu-ai-act/art-6/2", *annex_iii, "eu-ai-act/art-6/3/sub-3"]
        return
    if conditions and a["art_6_3_no_significant_risk"] and a["art_6_3_assessment"]:
        found.citations += ["eu-ai-act/art-6/2", *annex_iii, "eu-ai-act/art-6/3", *conditions]
        found.derogation = (
            f"Listed in Annex III ({listed}), but not high risk: the Art. 6(3) derogation holds "
            f"({_ref('eu-ai-act/art-6/3')}): " + "; ".join(_short(c) for c in conditions) + "; no significant risk "
            "of harm, including by not materially influencing the outcome of decision making; no profiling of "
            "natural persons; and a documented assessment. The provider must have documented that assessment before "
            "placing the system on the market or putting it into service and must give it to the national competent "
            f"authorities on request ({_ref('eu-ai-act/art-6/4')}); before then it must register itself and the "
            f"system in the EU database ({_ref('eu-ai-act/art-49/2')}). An authority may disagree with the "
            "assessment."
        )
        return
    missing = []
    if not conditions:
        missing.append(f"none of conditions (a)-(d) is met ({_ref('eu-ai-act/art-6/3/sub-2')})")
    if not a["art_6_3_no_significant_risk"]:
        missing.append(
            "the answers do not state that it poses no significant risk of harm, including by not materially "
            f"influencing the outcome of decision making ({_ref('eu-ai-act/art-6/3')})"
        )
    if conditions and a["art_6_3_no_significant_risk"] and not a["art_6_3_assessment"]:
        missing.append(
            "no documented assessment was given, which the provider must have before placing the system on the "
            f"market or putting it into service ({_ref('eu-ai-act/art-6/4')})"
        )
    found.high.append(
        f"Listed in Annex III: {listed}; high risk under {_ref('eu-ai-act/art-6/2')}. The Art. 6(3) derogation does "
        f"not hold: {'; '.join(missing)}."
    )
    found.citations += ["eu-ai-act/art-6/2", *annex_iii]


# Art. 5(1) points whose prohibition covers putting into service only "for this specific purpose", and (h), which
# prohibits the use alone; the others cover placing on the market, putting into service and use.
_SPECIFIC_PURPOSE = frozenset({"d", "e", "f", "g"})


def _prohibited(a: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    practices = a["art_5_practices"]
    cited = [PRACTICES[p] for p in practices]
    sentences = ["Prohibited: " + "; ".join(_short(c) for c in cited) + "."]
    if set(practices) - {"h"}:
        scope = (
            "placing such a system on the market, putting it into service (for points (d)-(g): for that specific "
            "purpose) and using it"
            if set(practices) & _SPECIFIC_PURPOSE
            else "placing such a system on the market, putting it into service and using it"
        )
        sentences.append(f"The Act prohibits {scope} ({_ref('eu-ai-act/art-5/1')}).")
    if "h" in practices:
        sentences.append(
            f"Point (h) prohibits the use ({_ref('eu-ai-act/art-5/1')}). Real-time remote biometric identification is "
            "outside it only where strictly necessary for one of its objectives (i)-(iii), under the conditions of "
            "Art. 5(2) and the prior authorisation of Art. 5(3); if that is the case, answer the objective instead."
        )
    if set(practices) & {"ba", "bb"}:
        sentences.append(
            f"For points (ba) and (bb), {_ref('eu-ai-act/art-5/1a')} says when placing on the market, putting into "
            "service and use are prohibited: check the answer against it."
        )
        cited.append("eu-ai-act/art-5/1a")
    return sentences, ["eu-ai-act/art-5/1", *cited]


def _classify(
    a: Mapping[str, Any], *, stored: dict[str, Any], questionnaire_version: int, notes: list[str]
) -> Classification:
    transparency, transparency_duties, art50 = _transparency(a)
    found = _Findings(notes=list(notes))
    if a["art_5_practices"]:
        tier = "prohibited"
        sentences, citations = _prohibited(a)
        duties: list[Duty] = []
    else:
        for route in (_rbi_objective, _annex_i, _annex_iii):
            route(a, found)
        citations, duties = found.citations, found.duties
        if found.high:
            tier, sentences = "high", found.high
            if found.derogation:
                sentences.append(
                    "The Art. 6(3) conditions answered for its Annex III use lower no tier set by another route."
                )
        elif found.derogation:
            tier, sentences = ("limited" if transparency else "minimal"), [found.derogation]
            duties = [Duty(c, cite(c).text) for c in ("eu-ai-act/art-6/4", "eu-ai-act/art-49/2")]
        elif transparency:
            tier = "limited"
            sentences = ["Not prohibited and not high risk; it carries Art. 50 transparency duties (tier: limited)."]
            citations = list(transparency)
        else:
            tier = "minimal"
            sentences = [
                "No Art. 5 practice, no Annex I product with a third-party conformity assessment, no Annex III use "
                "and no Art. 50 situation: minimal risk (no duty under these articles)."
            ]
    rationale = " ".join([*sentences, art50, *found.notes])
    return Classification(
        tier=tier,
        rationale=rationale,
        answers=stored,
        citations=tuple(dict.fromkeys(citations)),
        transparency=transparency,
        duties=tuple(duties) + tuple(transparency_duties),
        derogation=tier in ("limited", "minimal") and bool(found.derogation),
        questionnaire_version=questionnaire_version,
        notes=tuple(found.notes),
    )


def required_approvals(tier: str) -> int:
    """Distinct approvers a version needs: two for high-risk models (four eyes), one otherwise."""
    return 2 if tier == "high" else 1
