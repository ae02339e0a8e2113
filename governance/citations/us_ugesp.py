"""Catalogue records for the US Uniform Guidelines on Employee Selection Procedures (1978), section 4D.

The Guidelines were adopted jointly by the EEOC, the Department of Labor, the Department of Justice and the Civil
Service Commission and are codified twice with the same text: 29 CFR 1607.4(D) (EEOC) and 41 CFR 60-3.4(D) (OFCCP).
The quotations are the first two sentences of section 4D as the four-fifths policy quotes them (issue 27's review
checked every one against 29 CFR 1607.4); on 6.12.2026 the opening sentence was read again, identical, in secondary
sources that quote the Guidelines (the eCFR page itself was not opened). The rest of 4D is not in the record.
"""

from __future__ import annotations

from governance.citations.model import Citation

UGESP = "Uniform Guidelines on Employee Selection Procedures (1978)"
ECFR_VERSION = "29 CFR part 1607 as adopted (43 FR 38295, 25.8.1978); eCFR not opened in this session"
URL_29 = "https://www.ecfr.gov/current/title-29/subtitle-B/chapter-XIV/part-1607/section-1607.4"
URL_41 = "https://www.ecfr.gov/current/title-41/subtitle-B/chapter-60/part-60-3/section-60-3.4"

FOUR_FIFTHS = (
    "A selection rate for any race, sex, or ethnic group which is less than four-fifths (4/5) (or eighty percent) of "
    "the rate for the group with the highest rate will generally be regarded by the Federal enforcement agencies as "
    "evidence of adverse impact, while a greater than four-fifths rate will generally not be regarded by Federal "
    "enforcement agencies as evidence of adverse impact."
)
SIGNIFICANCE = (
    "Smaller differences in selection rate may nevertheless constitute adverse impact, where they are significant in "
    "both statistical and practical terms or where a user's actions have discouraged applicants disproportionately on "
    "grounds of race, sex, or ethnic group. Greater differences in selection rate may not constitute adverse impact "
    "where the differences are based on small numbers and are not statistically significant ..."
)

UGESP_CITATIONS: tuple[Citation, ...] = (
    Citation(
        id="us-29-cfr/1607-4/d",
        act=f"29 CFR part 1607, {UGESP}",
        act_short="UGESP",
        code="29 CFR",
        section="1607.4",
        paragraph="D",
        title='Adverse impact and the "four-fifths rule"',
        text=f"{FOUR_FIFTHS} {SIGNIFICANCE}",
        text_is_quotation=True,
        version=ECFR_VERSION,
        url=URL_29,
        note=(
            "Quoted in part (the first two sentences and the opening of the third); the rest of section 4D (e.g. "
            "on the user's actions and on larger samples) is not in this record."
        ),
    ),
    Citation(
        id="us-41-cfr/60-3-4/d",
        act=f"41 CFR part 60-3, {UGESP}",
        act_short="UGESP",
        code="41 CFR",
        section="60-3.4",
        paragraph="D",
        title='Adverse impact and the "four-fifths rule" (OFCCP codification)',
        text="The same text as 29 CFR 1607.4(D): section 4D of the Uniform Guidelines, codified for the OFCCP.",
        text_is_quotation=False,
        version="41 CFR part 60-3 as adopted (43 FR 38295, 25.8.1978); eCFR not opened in this session",
        url=URL_41,
        note="That the 41 CFR text is word for word the 29 CFR text was taken from the Guidelines' joint adoption, "
        "not compared here.",
    ),
)
