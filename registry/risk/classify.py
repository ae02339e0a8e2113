"""The classification (pure; no Django): the rules of the Act, route by route, from the checked answers to a tier,
its rationale citing the catalogue by id, and the duties named (the rules are listed in the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.citations import Citation, cite
from registry.risk.answers import clean_answers
from registry.risk.legacy import _from_first, is_first_questionnaire
from registry.risk.questions import (
    ANNEX_I_ROLES,
    ANNEX_III_POINTS,
    ANNEX_III_USES,
    DEROGATION_CONDITIONS,
    PRACTICES,
    QUESTIONNAIRE_VERSION,
    RBI_OBJECTIVES,
    TEXT_VERSION,
    TRANSPARENCY,
)

TIERS = ("prohibited", "high", "limited", "minimal")


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
