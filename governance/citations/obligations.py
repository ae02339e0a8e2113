"""Catalogue records for the EU AI Act provisions the obligation catalogues cite (obligations/catalogues/): the
provider's quality management system (Art. 17), the deployer's obligations (Art. 26), the fundamental rights impact
assessment (Art. 27) and the reporting of serious incidents (Art. 73).

Every text here is Assay's summary of the provision (``text_is_quotation`` False), written on 6.12.2026 after reading
the 2024 text of Arts. 26, 27 and 73 as quoted by several secondary sources that agree with each other; neither the
Official Journal nor EUR-Lex was read, and whether Regulation (EU) 2026/1744 changed these articles was not checked.
The notes say what is open, record by record.
"""

from __future__ import annotations

from governance.citations.catalogue import _art
from governance.citations.model import Citation

_SECONDARY = (
    "Assay's summary, from the 2024 text as quoted by secondary sources; not read in the Official Journal, and not "
    "checked against the consolidated text as amended by Regulation (EU) 2026/1744."
)
_ART_27_NOTE = (
    _SECONDARY + " One secondary source gives a different list of Annex III points for Art. 27(1) (5(b) and 6(a)-(c) "
    "and (e)); the 2024 text as quoted by two others names points 5(b) and (c), used here."
)


def _summary(  # noqa: PLR0917 (a table of records reads best positionally, as _art's)
    id: str, article: str, paragraph: str, point: tuple[str, ...], title: str, text: str, note: str = _SECONDARY
) -> Citation:
    return _art(id, article, paragraph, point, title, text, quotation=False, note=note)


OBLIGATION_CITATIONS: tuple[Citation, ...] = (
    _summary(
        "eu-ai-act/art-17/1",
        "17",
        "1",
        (),
        "Quality management system",
        "Providers of high-risk AI systems put a quality management system in place that ensures compliance with the "
        "Regulation, documented in written policies, procedures and instructions (among them the techniques for "
        "design, development, testing and validation, data management, post-market monitoring and the reporting of "
        "serious incidents).",
    ),
    _summary(
        "eu-ai-act/art-26/1",
        "26",
        "1",
        (),
        "Deployers: use in accordance with the instructions for use",
        "Deployers of high-risk AI systems take appropriate technical and organisational measures to use them in "
        "accordance with the instructions for use that accompany them.",
    ),
    _summary(
        "eu-ai-act/art-26/2",
        "26",
        "2",
        (),
        "Deployers: human oversight assigned",
        "Deployers assign human oversight to natural persons who have the necessary competence, training and "
        "authority, and the necessary support.",
    ),
    _summary(
        "eu-ai-act/art-26/4",
        "26",
        "4",
        (),
        "Deployers: relevant and representative input data",
        "To the extent a deployer controls the input data, it ensures that the input data is relevant and "
        "sufficiently representative in view of the system's intended purpose.",
    ),
    _summary(
        "eu-ai-act/art-26/5",
        "26",
        "5",
        (),
        "Deployers: monitoring the operation, informing, suspending",
        "Deployers monitor the system's operation on the basis of the instructions for use and, where relevant, "
        "inform the provider (Art. 72); where use may present a risk they inform the provider or distributor and the "
        "market surveillance authority and suspend use; a serious incident is reported first to the provider.",
    ),
    _summary(
        "eu-ai-act/art-26/6",
        "26",
        "6",
        (),
        "Deployers: keeping the logs",
        "Deployers keep the logs the system generates automatically, to the extent the logs are under their "
        "control, for a period appropriate to the intended purpose and of at least six months, unless other Union "
        "or national law provides otherwise.",
    ),
    _summary(
        "eu-ai-act/art-26/7",
        "26",
        "7",
        (),
        "Deployers that are employers: informing workers",
        "Before putting a high-risk AI system into service or using it at the workplace, deployers that are "
        "employers inform workers' representatives and the affected workers that they will be subject to it.",
    ),
    _summary(
        "eu-ai-act/art-26/11",
        "26",
        "11",
        (),
        "Deployers: informing the persons subject to decisions",
        "Deployers of Annex III high-risk systems that make decisions, or assist in making decisions, related to "
        "natural persons inform those persons that they are subject to the use of the system.",
    ),
    _summary(
        "eu-ai-act/art-27/1",
        "27",
        "1",
        (),
        "Fundamental rights impact assessment",
        "Before deploying a high-risk AI system referred to in Art. 6(2) (other than one in the area of Annex III, "
        "point 2), deployers that are bodies governed by public law or private entities providing public services, "
        "and deployers of the systems in Annex III, points 5(b) and (c), assess the impact on fundamental rights "
        "that the use may produce: their processes, the period and frequency of use, the persons and groups likely "
        "to be affected, the specific risks of harm, the human oversight measures, and what is done if the risks "
        "materialise.",
        note=_ART_27_NOTE,
    ),
    _summary(
        "eu-ai-act/art-73/1",
        "73",
        "1",
        (),
        "Reporting serious incidents to the market surveillance authority",
        "Providers of high-risk AI systems placed on the Union market report any serious incident to the market "
        "surveillance authorities of the Member States where it occurred.",
    ),
    _summary(
        "eu-ai-act/art-73/2",
        "73",
        "2",
        (),
        "Serious incidents: the general deadline",
        "The report is made immediately after the provider has established a causal link between the system and "
        "the serious incident, or its reasonable likelihood, and in any event not later than 15 days after the "
        "provider or, where applicable, the deployer becomes aware of the serious incident.",
    ),
    _summary(
        "eu-ai-act/art-73/3",
        "73",
        "3",
        (),
        "Serious incidents: widespread infringement or critical infrastructure",
        "For a widespread infringement, or a serious incident that is a serious and irreversible disruption of the "
        "management or operation of critical infrastructure, the report is made immediately and not later than two "
        "days after the provider or, where applicable, the deployer becomes aware of it.",
    ),
    _summary(
        "eu-ai-act/art-73/4",
        "73",
        "4",
        (),
        "Serious incidents: the death of a person",
        "In the event of the death of a person, the report is made immediately after the provider or the deployer "
        "has established, or as soon as it suspects, a causal relationship between the system and the serious "
        "incident, and not later than ten days after becoming aware of it.",
    ),
)
