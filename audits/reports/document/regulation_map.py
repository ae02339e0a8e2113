"""The regulation map: which obligation (EU AI Act, NIST AI RMF) the report's evidence supports and what it does
not cover (``REGULATION_MAP``), as plain rows (``regulation_map_rows``) and as the report's section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audits.reports.document.builder import OUTCOME_WORDS, _Builder, esc
from audits.reports.document.checks import check_title
from governance.citations import Citation, cite


# Which obligation each piece of evidence in this report SUPPORTS, and what it does NOT cover. Assay's evidence is
# documentation about a model version (measurements, governance decisions, its own trail); it is never the AI
# system's own features (its logs, its oversight tools) nor the provider's management systems. Each row says so.
# EU AI Act items are the citations catalogue's records (governance/citations, which names the text version); NIST
# items are functions and categories of NIST AI 100-1 (AI RMF 1.0, January 2023), a voluntary framework.
# ``checks`` names check results; "adversarial:counterfactual" is the adversarial check's counterfactual flip test
# alone (a bias examination, not a robustness test).
@dataclass(frozen=True)
class MapRow:
    """One row of the regulation map: what the text asks, what this report's evidence supports, what it does not."""

    framework: str
    item: str
    binding: bool  # False for a voluntary framework (NIST AI RMF): never shown as a "requirement"
    asks: str
    supports: str
    not_covered: str
    checks: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()  # the catalogue's records behind ``item`` (governance/citations)


EU_AI_ACT = "EU AI Act"
NIST_AI_RMF = "NIST AI RMF 1.0"


def _eu_row(  # noqa: PLR0917 (a table of rows reads best positionally)
    citations: tuple[Citation, ...],
    asks: str,
    supports: str,
    not_covered: str,
    checks: tuple[str, ...],
    sections: tuple[str, ...],
) -> MapRow:
    """A row of the EU AI Act (binding): its item is the pin cites of the catalogue's ``citations``."""
    item = ", ".join(c.pin for c in citations)
    return MapRow(EU_AI_ACT, item, True, asks, supports, not_covered, checks, sections, citations)


REGULATION_MAP: tuple[MapRow, ...] = (
    _eu_row(
        (cite("eu-ai-act/art-9"),),
        "A risk management system established, implemented, documented and maintained over the system's lifecycle, "
        "including testing against prior defined metrics and probabilistic thresholds (Art. 9(1)-(2), 9(6), 9(8)).",
        "Documentation of testing: the checks run against the policy's declared thresholds, the risk tier with its "
        "answers, and the findings opened and resolved.",
        "The risk management system itself: identifying, estimating and evaluating the risks, the risk management "
        "measures adopted and the judgement of residual risk (Art. 9(2)(a)-(d), 9(5)) are the provider's.",
        (),
        ("Cover (risk tier)", "Model card (risk rationale)", "Findings", "Executive summary"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-10"),),
        "Training, validation and testing data sets subject to data governance and management practices, including "
        "examination of possible biases and measures to detect, prevent and mitigate them (Art. 10(2)-(4)).",
        "Examination of the evaluation data set named in this report: its quality and group representation, and "
        "possible biases in the model's decisions on it (Art. 10(2)(f), 10(3)); the data's lineage and consent "
        "coverage.",
        "Data sets Assay was not given (training and validation data unless registered and audited); the data "
        "governance practices themselves (design choices, collection, preparation, Art. 10(2)(a)-(e), (h)); the "
        "measures that prevent and mitigate the biases found (Art. 10(2)(g)).",
        ("data_quality", "group_fairness", "disparate_impact", "adversarial:counterfactual"),
        ("Data and lineage", "Consent coverage"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-11"), cite("eu-ai-act/annex-iv")),
        "Technical documentation drawn up before the system is placed on the market or put into service and kept up "
        "to date, with at least the content of Annex IV (Art. 11(1)).",
        "Part of that documentation: validation and testing procedures, data, metrics and dated, signed test reports "
        "(Annex IV point 2(g)); the model card.",
        "The rest of Annex IV (general description, design specifications, architecture, the assessment of human "
        "oversight measures, the risk management system, the post-market monitoring plan, the EU declaration of "
        "conformity), which the provider writes.",
        (),
        ("This report", "Model card", "Audit inputs and reproduction"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-12/1"),),
        "Record-keeping: the high-risk AI system itself technically allows the automatic recording of events (logs) "
        "over its lifetime, for traceability of its functioning (Art. 12(1)-(2)).",
        "The provider's documentation of how this model version was registered, audited, approved and deployed: "
        "Assay's tamper-evident trail of those governance events, with a signed checkpoint.",
        "Art. 12 logging: Assay's trail is not generated by the AI system and does not record the system's operation "
        "in use. The system's own logging capability, and keeping its logs (Art. 19, Art. 26(6)), are not evidenced "
        "here.",
        (),
        ("Audit trail events", "Checkpoint"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-13"),),
        "Transparency: the system designed so that deployers can interpret its output and use it appropriately, with "
        "instructions for use (Art. 13(1)-(3)).",
        "Content for the instructions for use: measured accuracy and its metrics (Art. 13(3)(b)(ii)), performance on "
        "groups of persons (13(3)(b)(v)), and explanation results relevant to explaining the output (13(3)(b)(iv)); "
        "intended and out-of-scope uses from the model card.",
        "The system's design for transparency (Art. 13(1)) and the instructions for use themselves (13(2)-(3)), "
        "which the provider writes and supplies.",
        ("performance", "group_fairness", "explainability"),
        ("Model card (intended use, out-of-scope uses)",),
    ),
    _eu_row(
        (cite("eu-ai-act/art-14"),),
        "Human oversight: the system designed and developed, with appropriate human-machine interface tools, so that "
        "natural persons can oversee it while it is in use: understand its capacities and limitations, interpret its "
        "output, decide not to use it or disregard, override or reverse its output, and interrupt it through a "
        "'stop' button or a similar procedure (Art. 14(1), 14(4)).",
        "Documentation of the provider's pre-deployment governance: who approved this version and when, with "
        "separation of duties, and the risk answers about human review. It can support the provider's description "
        "of oversight arrangements.",
        "The oversight measures themselves: approvals before deployment are not measures built into or accompanying "
        "the system that let a person understand, override or stop it in use (Art. 14(3)-(4)), nor the deployer's "
        "assignment of oversight to competent persons (Art. 26(2)).",
        (),
        ("Approvals and sign-offs", "Risk answers"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-15"),),
        "An appropriate level of accuracy, robustness and cybersecurity, consistent throughout the lifecycle, with "
        "accuracy levels declared in the instructions for use (Art. 15(1), 15(3)); resilience to errors, faults and "
        "inconsistencies (15(4)) and to attempts to exploit vulnerabilities, including adversarial examples or model "
        "evasion (15(5)).",
        "Accuracy measured on the evaluation data set against the policy's levels (Art. 15(1), 15(3)); the evasion "
        "attack's success rate within a perturbation budget: exact for a linear or tree model whose structure is "
        "read, else a black-box attack's lower bound on what an attacker could do, the results naming which (15(5)); "
        "the random-noise flip rate, reported and not judged (15(4)).",
        "Performance throughout the lifecycle beyond the audited data set; technical redundancy, fail-safe plans and "
        "feedback loops (Art. 15(4)); data or model poisoning, confidentiality attacks and the system's "
        "cybersecurity (15(5)). The counterfactual flip test is bias evidence (Art. 10), not robustness evidence.",
        ("performance", "adversarial"),
        (),
    ),
    _eu_row(
        (cite("eu-ai-act/art-72"),),
        "Post-market monitoring (Chapter IX, Section 1): providers establish and document a system that actively "
        "and systematically collects, documents and analyses data on the system's performance throughout its "
        "lifetime, based on a plan that is part of the Annex IV documentation (Art. 72(1)-(3)).",
        "Inputs to such a system: the policy's monitoring thresholds, the deployments on record and the findings "
        "opened after deployment.",
        "The post-market monitoring system and plan themselves (Art. 72(1), 72(3)) and the reporting of serious "
        "incidents (Art. 73).",
        (),
        ("Deployments", "Findings", "Policy and its version"),
    ),
    MapRow(
        NIST_AI_RMF,
        "GOVERN",
        False,
        "Policies, processes and accountability structures for AI risk management (GOVERN 1, GOVERN 2).",
        "The versioned policy applied, roles and approvals with separation of duties, and the trail of decisions.",
        "Organisational culture, workforce and stakeholder engagement, and third-party risk policies (GOVERN 3-6).",
        (),
        ("Policy and its version", "Approvals and sign-offs", "Audit trail events"),
    ),
    MapRow(
        NIST_AI_RMF,
        "MAP",
        False,
        "Context established and the AI system categorised; risks and impacts identified (MAP 1-5).",
        "Intended use and limits from the model card, the risk tier and its answers, and data lineage.",
        "Impacts on individuals, groups and communities beyond the measured groups, and benefits and costs (MAP 3, "
        "MAP 5), which the organisation assesses.",
        (),
        ("Model card", "Risk tier", "Data and lineage"),
    ),
    MapRow(
        NIST_AI_RMF,
        "MEASURE",
        False,
        "Appropriate methods and metrics applied; the system evaluated for trustworthy characteristics; risks "
        "tracked over time (MEASURE 1-4).",
        "Quantitative measurements of validity, fairness, explainability and robustness on the evaluation data set, "
        "with confidence intervals and the reasons for any insufficient evidence.",
        "Characteristics not measured here (privacy, safety, environmental impact), feedback from affected people "
        "(MEASURE 4), and measurement in use.",
        ("performance", "group_fairness", "disparate_impact", "data_quality", "explainability", "adversarial"),
        (),
    ),
    MapRow(
        NIST_AI_RMF,
        "MANAGE",
        False,
        "Risks prioritised, responded to and monitored; responses and recovery documented (MANAGE 1-4).",
        "The verdict, the findings with their resolutions, and the deployments on record.",
        "The organisation's risk treatment decisions, incident response and recovery, and third-party risk "
        "management (MANAGE 3-4).",
        (),
        ("Findings", "Deployments", "Verdict"),
    ),
)


def _evidence_words(checks: Sequence[str], outcomes: Mapping[str, list[str]]) -> list[str]:
    words = []
    for entry in checks:
        name, _, part = entry.partition(":")
        title = check_title(name) + (", counterfactual flip test" if part == "counterfactual" else "")
        if name in outcomes:
            seen = ", ".join(sorted({OUTCOME_WORDS.get(o, o).lower() for o in outcomes[name]}))
            words.append(f"{title} ({seen})")
        else:
            words.append(f"{title} (not run)")
    return words


MAP_COLUMNS = ("What the evidence supports", "What it does not cover", "Evidence in this report")


def regulation_map_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The regulation map as plain rows for ``runs`` (the report context's runs): for each item, what it asks, what
    this report's evidence supports, what it does not cover, and the evidence with each check's outcomes."""
    outcomes: dict[str, list[str]] = {}
    for run in runs:
        for check in run["checks"]:
            outcomes.setdefault(check["name"], []).append(check["outcome"])
    return [
        {
            "framework": row.framework,
            "item": row.item,
            "binding": row.binding,
            "asks": row.asks,
            "supports": row.supports,
            "not_covered": row.not_covered,
            "evidence": [*_evidence_words(row.checks, outcomes), *row.sections],
            "citations": [c.label for c in row.citations],
            "text_versions": sorted({c.version for c in row.citations}),
        }
        for row in REGULATION_MAP
    ]


def _regulation_map(b: _Builder, ctx: Mapping[str, Any]) -> None:
    b.h1("Regulation map")
    b.para(
        "Which obligation the evidence in this report supports, and what it does not cover. This is a map of "
        "evidence, not a conformity assessment: the evidence documents a model version; it is not the AI system's "
        "own logging or oversight measures, and the provider decides whether it is enough.",
        "small",
    )
    rows = regulation_map_rows(ctx["runs"])
    b.h2("EU AI Act, Regulation (EU) 2024/1689 (binding requirements)")
    versions = sorted({v for r in rows for v in r["text_versions"]})
    b.para(esc(f"Cited from Assay's citations catalogue; text: {'; '.join(versions)}."), "small")
    b.table(
        ["Requirement", *MAP_COLUMNS],
        [
            (f"{r['item']}: {r['asks']}", r["supports"], r["not_covered"], "; ".join(r["evidence"]))
            for r in rows
            if r["binding"]
        ],
        widths=(0.28, 0.25, 0.27, 0.2),
    )
    b.h2("NIST AI RMF 1.0 (voluntary framework)")
    b.para("The AI RMF is voluntary guidance: its items are outcomes an organisation may aim for, not requirements.")
    b.table(
        ["Framework item (voluntary)", *MAP_COLUMNS],
        [
            (f"{r['item']}: {r['asks']}", r["supports"], r["not_covered"], "; ".join(r["evidence"]))
            for r in rows
            if not r["binding"]
        ],
        widths=(0.28, 0.25, 0.27, 0.2),
    )
