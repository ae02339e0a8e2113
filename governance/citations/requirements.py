"""Catalogue records for the EU AI Act provisions the report's regulation map cites: the requirements for high-risk
AI systems (Chapter III, Section 2, Arts. 9-15, with Annex IV) and post-market monitoring (Chapter IX, Section 1,
Art. 72).

Quotations are from Regulation (EU) 2024/1689 as published (OJ L, 12.7.2024), checked on 6.12.2026 against texts
that quote it identically; ``text_is_quotation`` is False where the text is our summary of the provision.

The paragraph pins at the end (Art. 10(2)(c) ... 72(2)) are the ones the eu-ai-act-high-risk policy cites for its
thresholds; they are summaries, and their notes say the wording was not read again for them.
"""

from __future__ import annotations

from governance.citations.catalogue import _annex, _art
from governance.citations.model import Citation

REQUIREMENTS: tuple[Citation, ...] = (
    _art(
        "eu-ai-act/art-9",
        "9",
        "",
        (),
        "Risk management system",
        "A risk management system is established, implemented, documented and maintained for a high-risk AI system: "
        "a continuous iterative process over its entire lifecycle that identifies, estimates and evaluates risks and "
        "adopts risk management measures; the system is tested against prior defined metrics and probabilistic "
        "thresholds (Art. 9(6), 9(8)).",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-10",
        "10",
        "",
        (),
        "Data and data governance",
        "Training, validation and testing data sets are subject to data governance and management practices "
        "appropriate for the intended purpose, including the examination of possible biases and appropriate "
        "measures to detect, prevent and mitigate them (Art. 10(2)(f)-(g)); they are relevant, sufficiently "
        "representative and, to the best extent possible, free of errors and complete (Art. 10(3)).",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-11",
        "11",
        "",
        (),
        "Technical documentation",
        "The technical documentation of a high-risk AI system is drawn up before it is placed on the market or put "
        "into service, kept up to date, and contains at least the elements of Annex IV (Art. 11(1)).",
        quotation=False,
    ),
    _annex(
        "eu-ai-act/annex-iv",
        "IV",
        (),
        "Technical documentation referred to in Article 11(1)",
        "The content of the technical documentation: a general description of the system; a detailed description "
        "of its elements and development, including the validation and testing procedures, metrics and dated, signed "
        "test reports (point 2(g)); monitoring, functioning and control; the risk management system; changes; "
        "standards applied; the EU declaration of conformity; and the post-market monitoring plan.",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-12/1",
        "12",
        "1",
        (),
        "Record-keeping: automatic logs of the system",
        "High-risk AI systems shall technically allow for the automatic recording of events (logs) over the lifetime "
        "of the system.",
    ),
    _art(
        "eu-ai-act/art-13",
        "13",
        "",
        (),
        "Transparency and provision of information to deployers",
        "High-risk AI systems are designed so that their operation is sufficiently transparent for deployers to "
        "interpret the output and use it appropriately, and come with instructions for use that state, among "
        "others, the level of accuracy and its metrics (Art. 13(3)(b)(ii)), the capabilities to provide information "
        "relevant to explain the output (13(3)(b)(iv)) and the performance on specific persons or groups "
        "(13(3)(b)(v)).",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-14",
        "14",
        "",
        (),
        "Human oversight",
        "High-risk AI systems are designed and developed, including with appropriate human-machine interface tools, "
        "so that natural persons can effectively oversee them while they are in use (Art. 14(1)); the oversight "
        "measures let those persons understand the system's capacities and limitations, interpret its output, decide "
        "not to use it or disregard, override or reverse its output, and intervene or interrupt it through a 'stop' "
        "button or a similar procedure (Art. 14(4)).",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-15",
        "15",
        "",
        (),
        "Accuracy, robustness and cybersecurity",
        "High-risk AI systems achieve an appropriate level of accuracy, robustness and cybersecurity and perform "
        "consistently in those respects throughout their lifecycle (Art. 15(1)); the levels of accuracy and the "
        "relevant metrics are declared in the instructions for use (Art. 15(3)).",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-15/4",
        "15",
        "4",
        (),
        "Robustness: errors, faults, inconsistencies, feedback loops",
        "High-risk AI systems shall be as resilient as possible regarding errors, faults or inconsistencies that may "
        "occur within the system or the environment in which the system operates, in particular due to their "
        "interaction with natural persons or other systems. Technical and organisational measures shall be taken in "
        "this regard.",
    ),
    _art(
        "eu-ai-act/art-15/5",
        "15",
        "5",
        (),
        "Cybersecurity: AI-specific vulnerabilities",
        "High-risk AI systems are resilient against attempts by unauthorised third parties to alter their use, "
        "outputs or performance by exploiting system vulnerabilities; the technical solutions include, where "
        "appropriate, measures against data poisoning, model poisoning, inputs designed to cause the model to make a "
        "mistake (adversarial examples or model evasion), confidentiality attacks and model flaws.",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-72",
        "72",
        "",
        (),
        "Post-market monitoring by providers (Chapter IX, Section 1)",
        "Providers establish and document a post-market monitoring system that actively and systematically "
        "collects, documents and analyses relevant data on the performance of high-risk AI systems throughout their "
        "lifetime, based on a post-market monitoring plan that is part of the Annex IV documentation (Art. 72(1)-(3)).",
        quotation=False,
    ),
)

_PIN_NOTE = (
    "Summary of the paragraph for the policy's basis; the wording was not read in the Official Journal for this record."
)


def _pin(  # noqa: PLR0917 (a table of records reads best positionally, as _art's)
    id: str, article: str, paragraph: str, point: tuple[str, ...], title: str, text: str
) -> Citation:
    return _art(id, article, paragraph, point, title, text, quotation=False, note=_PIN_NOTE)


PINS: tuple[Citation, ...] = (
    _pin(
        "eu-ai-act/art-10/2/c",
        "10",
        "2",
        ("c",),
        "Data-preparation operations",
        "The data governance practices concern relevant data-preparation processing operations, such as annotation, "
        "labelling, cleaning, updating, enrichment and aggregation.",
    ),
    _pin(
        "eu-ai-act/art-10/2/f",
        "10",
        "2",
        ("f",),
        "Examination for possible biases",
        "The data governance practices concern the examination in view of possible biases that are likely to affect "
        "the health and safety of persons, have a negative impact on fundamental rights or lead to discrimination "
        "prohibited under Union law.",
    ),
    _pin(
        "eu-ai-act/art-10/2/g",
        "10",
        "2",
        ("g",),
        "Measures against the biases found",
        "The data governance practices concern appropriate measures to detect, prevent and mitigate the possible "
        "biases identified under point (f).",
    ),
    _pin(
        "eu-ai-act/art-10/2/h",
        "10",
        "2",
        ("h",),
        "Data gaps and shortcomings",
        "The data governance practices concern the identification of relevant data gaps or shortcomings that prevent "
        "compliance with the Regulation, and how they can be addressed.",
    ),
    _pin(
        "eu-ai-act/art-10/3",
        "10",
        "3",
        (),
        "Relevant, representative, free of errors, complete",
        "Training, validation and testing data sets are relevant, sufficiently representative and, to the best extent "
        "possible, free of errors and complete in view of the intended purpose, with the appropriate statistical "
        "properties, including as regards the persons or groups of persons on whom the system is intended to be used.",
    ),
    _pin(
        "eu-ai-act/art-10/4",
        "10",
        "4",
        (),
        "The setting the system is used in",
        "Data sets take into account, to the extent required by the intended purpose, the characteristics or "
        "elements particular to the specific geographical, contextual, behavioural or functional setting within "
        "which the system is intended to be used.",
    ),
    _pin(
        "eu-ai-act/art-13/1",
        "13",
        "1",
        (),
        "Transparency to deployers",
        "High-risk AI systems are designed and developed so that their operation is sufficiently transparent to "
        "enable deployers to interpret the system's output and use it appropriately.",
    ),
    _pin(
        "eu-ai-act/art-13/3/b/iv",
        "13",
        "3",
        ("b", "iv"),
        "Instructions for use: information that explains the output",
        "The instructions for use state, where applicable, the technical capabilities and characteristics of the "
        "system to provide information that is relevant to explain its output.",
    ),
    _pin(
        "eu-ai-act/art-13/3/b/v",
        "13",
        "3",
        ("b", "v"),
        "Instructions for use: performance on specific persons or groups",
        "The instructions for use state, when appropriate, the system's performance regarding specific persons or "
        "groups of persons on which it is intended to be used.",
    ),
    _pin(
        "eu-ai-act/art-15/1",
        "15",
        "1",
        (),
        "Appropriate accuracy, robustness and cybersecurity",
        "High-risk AI systems are designed and developed to achieve an appropriate level of accuracy, robustness and "
        "cybersecurity, and to perform consistently in those respects throughout their lifecycle.",
    ),
    _pin(
        "eu-ai-act/art-15/3",
        "15",
        "3",
        (),
        "Declared accuracy levels and metrics",
        "The levels of accuracy and the relevant accuracy metrics of high-risk AI systems are declared in the "
        "accompanying instructions for use.",
    ),
    _pin(
        "eu-ai-act/art-72/1",
        "72",
        "1",
        (),
        "A post-market monitoring system",
        "Providers establish and document a post-market monitoring system in a manner proportionate to the nature of "
        "the AI technologies and the risks of the high-risk AI system.",
    ),
    _pin(
        "eu-ai-act/art-72/2",
        "72",
        "2",
        (),
        "What post-market monitoring collects",
        "The post-market monitoring system actively and systematically collects, documents and analyses relevant "
        "data on the performance of high-risk AI systems throughout their lifetime, allowing the provider to evaluate "
        "their continuous compliance with the requirements of Chapter III, Section 2.",
    ),
)
