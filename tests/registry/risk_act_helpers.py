"""Helpers shared by the risk questionnaire tests under the Act (test_risk_act.py, test_risk_act_surfaces.py):
the Act's lists (Article 5 points, Annex III uses) and answers to the current and the first questionnaire.
"""

from __future__ import annotations

from typing import Any

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
