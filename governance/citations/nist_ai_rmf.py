"""Catalogue records for the NIST AI Risk Management Framework 1.0 (NIST AI 100-1, January 2023): its four
functions. The framework is voluntary (``binding=False``): a policy or report that cites it claims a practice it
follows, never a legal duty.

Read on 6.12.2026 in the AI RMF's online edition, section 5 "AI RMF Core"
(https://airc.nist.gov/AI_RMF_Knowledge_Base/AI_RMF/Core_And_Profiles/5-sec-core): "the Core is composed of four
functions: govern, map, measure, and manage" and "Governance is designed to be a cross-cutting function to inform and
be infused throughout the other three functions." The descriptions of each function below are our summaries.
"""

from __future__ import annotations

from governance.citations.model import Citation

NIST_AI_RMF = "NIST AI RMF 1.0"
VERSION = "NIST AI 100-1, Artificial Intelligence Risk Management Framework (AI RMF 1.0), 26.1.2023"
URL = "https://doi.org/10.6028/NIST.AI.100-1"
_NOTE = (
    "Summary of the function; its categories and subcategories (e.g. MEASURE 2.11 on fairness and bias) were not "
    "read in this session."
)


def _function(id: str, function: str, title: str, text: str) -> Citation:
    return Citation(
        id=id,
        act=NIST_AI_RMF,
        act_short="NIST AI RMF",
        function=function,
        binding=False,
        title=title,
        text=text,
        text_is_quotation=False,
        version=VERSION,
        url=URL,
        note=_NOTE,
    )


NIST_AI_RMF_CITATIONS: tuple[Citation, ...] = (
    _function(
        "nist-ai-rmf/govern",
        "GOVERN",
        "Govern: a culture of AI risk management",
        "Policies, processes, accountability and a culture of AI risk management across the AI lifecycle; a "
        "cross-cutting function that informs the other three.",
    ),
    _function(
        "nist-ai-rmf/map",
        "MAP",
        "Map: context and risks",
        "Establishes the context of an AI system (its purposes, users, setting and impacts) so that its risks can "
        "be identified.",
    ),
    _function(
        "nist-ai-rmf/measure",
        "MEASURE",
        "Measure: analyse, assess, benchmark and monitor",
        "Quantitative, qualitative or mixed tools and methods to analyse, assess, benchmark and monitor AI risk and "
        "the system's trustworthiness (among them validity, reliability, and fairness with harmful bias managed), "
        "with the tests and metrics documented.",
    ),
    _function(
        "nist-ai-rmf/manage",
        "MANAGE",
        "Manage: prioritise, respond and monitor after deployment",
        "Allocates resources to the risks mapped and measured: prioritises them, responds to them, and monitors the "
        "deployed system, with plans for incidents and for decommissioning.",
    ),
)
