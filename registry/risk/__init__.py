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

The package follows those steps, and everything is importable from ``registry.risk``: ``questions`` (the questions,
their options with the provisions they stand for, the defaults, and the questionnaire as data), ``legacy`` (the
first questionnaire's answers, checked and read in the current one's terms), ``answers`` (``clean_answers`` and
``current_answers``) and ``classify`` (the rules, ``Classification`` and ``required_approvals``).
"""

from registry.risk.answers import clean_answers, current_answers
from registry.risk.classify import TIERS, Classification, Duty, classify, required_approvals
from registry.risk.legacy import (
    ANNEX_III_AREAS,
    LEGACY_AREAS,
    LEGACY_PRACTICES,
    LEGACY_QUESTIONS,
    PROHIBITED_PRACTICES,
    is_first_questionnaire,
)
from registry.risk.questions import (
    ANNEX_I_ROLES,
    ANNEX_III_POINTS,
    ANNEX_III_USES,
    ASSESSMENT_MAX_CHARS,
    DEFAULTS,
    DEROGATION_CONDITIONS,
    PRACTICES,
    QUESTIONNAIRE_VERSION,
    QUESTIONS,
    RBI_OBJECTIVES,
    TEXT_VERSION,
    TRANSPARENCY,
    QuestionnaireError,
    questionnaire,
)

__all__ = [
    "ANNEX_III_AREAS",
    "ANNEX_III_POINTS",
    "ANNEX_III_USES",
    "ANNEX_I_ROLES",
    "ASSESSMENT_MAX_CHARS",
    "DEFAULTS",
    "DEROGATION_CONDITIONS",
    "LEGACY_AREAS",
    "LEGACY_PRACTICES",
    "LEGACY_QUESTIONS",
    "PRACTICES",
    "PROHIBITED_PRACTICES",
    "QUESTIONNAIRE_VERSION",
    "QUESTIONS",
    "RBI_OBJECTIVES",
    "TEXT_VERSION",
    "TIERS",
    "TRANSPARENCY",
    "Classification",
    "Duty",
    "QuestionnaireError",
    "classify",
    "clean_answers",
    "current_answers",
    "is_first_questionnaire",
    "questionnaire",
    "required_approvals",
]
