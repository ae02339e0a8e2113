"""Catalogue records for the General Data Protection Regulation, Regulation (EU) 2016/679, as far as Assay's data
subject answers cite it (access, erasure, the rights named in an access answer, pseudonymised data).

Art. 15(1), its points (a) to (h) and the first two sentences of 15(3) are quoted as read on 6.12.2026 in the legal
text reproduced by GDPRhub (https://gdprhub.eu/Article_15_GDPR), which was not compared with the Official Journal.
Art. 15(2) is given in the form the access answer names a missing item in (the information, not the sentence that
grants the right). The other records are our summaries (``text_is_quotation=False``), each with a note.
"""

from __future__ import annotations

from governance.citations.model import Citation

GDPR = "Regulation (EU) 2016/679"
GDPR_SHORT = "GDPR"
OJ_2016 = "OJ L 119, 4.5.2016, p. 1 (corrigendum OJ L 127, 23.5.2018)"
URL = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
_QUOTED_NOTE = (
    "Quoted from the legal text as reproduced by GDPRhub (gdprhub.eu, Article 15 GDPR), read on 6.12.2026; not "
    "compared with the Official Journal."
)
_WORDS_NOTE = (
    "The information Art. 15(2) requires, in the words of the paragraph but cut to the item an access answer must "
    "give (the paragraph itself reads: the data subject shall have the right to be informed of ...); not a quotation."
)
_SUMMARY_NOTE = "Summary; the wording was not read in the Official Journal in this session."


def _art(  # noqa: PLR0917 (a table of records reads best positionally: where, title, text)
    id: str,
    article: str,
    paragraph: str,
    point: tuple[str, ...],
    title: str,
    text: str,
    *,
    note: str = _SUMMARY_NOTE,
    quotation: bool = False,
) -> Citation:
    return Citation(
        id=id,
        act=GDPR,
        act_short=GDPR_SHORT,
        article=article,
        paragraph=paragraph,
        point=point,
        title=title,
        text=text,
        text_is_quotation=quotation,
        version=OJ_2016,
        url=URL,
        note=note,
    )


ART_15_1 = {
    "a": ("Purposes", "the purposes of the processing"),
    "b": ("Categories of data", "the categories of personal data concerned"),
    "c": (
        "Recipients",
        "the recipients or categories of recipient to whom the personal data have been or will be disclosed, in "
        "particular recipients in third countries or international organisations",
    ),
    "d": (
        "Storage period",
        "where possible, the envisaged period for which the personal data will be stored, or, if not possible, the "
        "criteria used to determine that period",
    ),
    "e": (
        "Rights to rectification, erasure, restriction and objection",
        "the existence of the right to request from the controller rectification or erasure of personal data or "
        "restriction of processing of personal data concerning the data subject or to object to such processing",
    ),
    "f": ("Complaint", "the right to lodge a complaint with a supervisory authority"),
    "g": (
        "Source",
        "where the personal data are not collected from the data subject, any available information as to their source",
    ),
    "h": (
        "Automated decision-making",
        "the existence of automated decision-making, including profiling, referred to in Article 22(1) and (4) and, "
        "at least in those cases, meaningful information about the logic involved, as well as the significance and "
        "the envisaged consequences of such processing for the data subject",
    ),
}

GDPR_CITATIONS: tuple[Citation, ...] = (
    _art(
        "gdpr/art-4/5",
        "4",
        "5",
        (),
        "Definition: pseudonymisation",
        "Pseudonymisation is the processing of personal data so that they can no longer be attributed to a specific "
        "data subject without additional information, kept separately and protected by technical and organisational "
        "measures.",
    ),
    _art(
        "gdpr/art-15",
        "15",
        "",
        (),
        "Right of access by the data subject",
        "The data subject's right to confirmation whether personal data concerning them are processed, to access "
        "those data and the information of Art. 15(1)(a)-(h) and 15(2), and to a copy of the data (Art. 15(3)).",
    ),
    _art(
        "gdpr/art-15/1",
        "15",
        "1",
        (),
        "Access to the data and the information of points (a) to (h)",
        "The data subject shall have the right to obtain from the controller confirmation as to whether or not "
        "personal data concerning him or her are being processed, and, where that is the case, access to the "
        "personal data and the following information:",
        quotation=True,
        note=_QUOTED_NOTE,
    ),
    *(
        _art(f"gdpr/art-15/1/{letter}", "15", "1", (letter,), title, words, quotation=True, note=_QUOTED_NOTE)
        for letter, (title, words) in ART_15_1.items()
    ),
    _art(
        "gdpr/art-15/2",
        "15",
        "2",
        (),
        "Safeguards for transfers",
        "where personal data are transferred to a third country or to an international organisation, the appropriate "
        "safeguards pursuant to Article 46 relating to the transfer",
        note=_WORDS_NOTE,
    ),
    _art(
        "gdpr/art-15/3",
        "15",
        "3",
        (),
        "Copy of the personal data",
        "The controller shall provide a copy of the personal data undergoing processing. For any further copies "
        "requested by the data subject, the controller may charge a reasonable fee based on administrative costs.",
        quotation=True,
        note=_QUOTED_NOTE + " Quoted in part: the rest of 15(3) (electronic requests) and 15(4) are not here.",
    ),
    _art(
        "gdpr/art-16",
        "16",
        "",
        (),
        "Right to rectification",
        "The right to have inaccurate personal data rectified, and incomplete data completed, without undue delay.",
    ),
    _art(
        "gdpr/art-17",
        "17",
        "",
        (),
        "Right to erasure ('right to be forgotten')",
        "The right to obtain from the controller the erasure of personal data without undue delay on the grounds of "
        "Art. 17(1) (among them: no longer necessary, consent withdrawn, objection, unlawful processing), subject to "
        "the exceptions of Art. 17(3).",
    ),
    _art(
        "gdpr/art-18",
        "18",
        "",
        (),
        "Right to restriction of processing",
        "The right to obtain restriction of processing in the cases of Art. 18(1).",
    ),
    _art(
        "gdpr/art-21",
        "21",
        "",
        (),
        "Right to object",
        "The right to object, on grounds relating to the data subject's particular situation, to processing based on "
        "Art. 6(1)(e) or (f), including profiling, and at any time to processing for direct marketing.",
    ),
    _art(
        "gdpr/art-22",
        "22",
        "",
        (),
        "Automated individual decision-making, including profiling",
        "The right not to be subject to a decision based solely on automated processing, including profiling, which "
        "produces legal effects concerning the data subject or similarly significantly affects them, with the "
        "exceptions of Art. 22(2) and the limits on special categories of data of Art. 22(4).",
    ),
    _art(
        "gdpr/art-77",
        "77",
        "",
        (),
        "Right to lodge a complaint with a supervisory authority",
        "Every data subject has the right to lodge a complaint with a supervisory authority, in particular in the "
        "Member State of their habitual residence, place of work or place of the alleged infringement.",
    ),
    Citation(
        id="gdpr/recital-26",
        act=GDPR,
        act_short=GDPR_SHORT,
        recital="26",
        title="Pseudonymised data is personal data; anonymous data is not",
        text="Personal data which have undergone pseudonymisation, which could be attributed to a natural person by "
        "the use of additional information, should be considered to be information on an identifiable natural "
        "person; the principles of data protection do not apply to anonymous information.",
        text_is_quotation=False,
        version=OJ_2016,
        url=URL,
        note=_SUMMARY_NOTE,
    ),
)
