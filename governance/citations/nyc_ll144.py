"""Catalogue records for New York City Local Law 144 of 2021 (NYC Admin. Code §§ 20-870, 20-871) and the DCWP's
rules on automated employment decision tools (6 RCNY §§ 5-300 to 5-304, effective 6.5.2023, enforced from 5.7.2023).

What was read on 6.12.2026, and where: 6 RCNY § 5-302(a) and the opening of (b), and the opening of § 5-300 (the
AEDT and bias-audit definitions), as published by nacmiaslaw.com ("Effective: 5/6/2023"); these are quoted
(``text_is_quotation=True``). The subdivisions (a) to (d) of § 5-301 and (a), (b) of § 5-302 were confirmed by a
section-by-section crosswalk (aiuc-1.com); § 5-301(a)-(b) was read by the LL144 helper at
https://codelibrary.amlegal.com/codes/newyorkcity/latest/NYCrules/0-0-0-138530. Everything else is our summary
(``text_is_quotation=False``), and each record's ``note`` says what was not checked against a primary text.
"""

from __future__ import annotations

from governance.citations.model import Citation

LL144 = "NYC Local Law 144 of 2021 (NYC Admin. Code, title 20, chapter 5, subchapter 25)"
RULES = "6 RCNY chapter 5, subchapter T (DCWP rules on automated employment decision tools)"
CODE_VERSION = "NYC Admin. Code as amended by Local Law 144 of 2021, in force 1.1.2023"
RULES_VERSION = "6 RCNY §§ 5-300 to 5-304 as adopted by DCWP (Notice of Adoption 6.4.2023), effective 6.5.2023"
URL_RULES = "https://codelibrary.amlegal.com/codes/newyorkcity/latest/NYCrules/0-0-0-138530"
URL_DCWP = "https://www.nyc.gov/site/dca/about/automated-employment-decision-tools.page"

_NOT_PRIMARY = "Summary; the wording was not read in a primary text in this session."
_NUMBERING = (
    "Summary. The subdivision and paragraph numbers are those the LL144 summary and the nyc-ll144 policy use (read by "
    "the LL144 helper from the rule as published); the paragraph wording was not re-read in this session."
)


def _code(id: str, section: str, title: str, text: str, *, term: str = "", note: str = _NOT_PRIMARY) -> Citation:
    return Citation(
        id=id,
        act=LL144,
        act_short="NYC LL144",
        code="NYC Admin. Code §",
        section=section,
        term=term,
        title=title,
        text=text,
        text_is_quotation=False,
        version=CODE_VERSION,
        url=URL_DCWP,  # DCWP's page on the law and its rules; the code's own page was not opened
        note=note,
    )


def _rule(
    id: str,
    section: str,
    title: str,
    text: str,
    *,
    paragraph: str = "",
    point: tuple[str, ...] = (),
    term: str = "",
    quotation: bool = False,
    note: str = _NOT_PRIMARY,
    url: str = URL_RULES,
) -> Citation:
    return Citation(
        id=id,
        act=RULES,
        act_short="6 RCNY",
        code="6 RCNY §",
        section=section,
        paragraph=paragraph,
        point=point,
        term=term,
        title=title,
        text=text,
        text_is_quotation=quotation,
        version=RULES_VERSION,
        url=url,
        note="" if quotation and note == _NOT_PRIMARY else note,
    )


NYC_LL144: tuple[Citation, ...] = (
    # --- NYC Admin. Code ------------------------------------------------------------------------------------------
    _code(
        "nyc-admin-code/20-870",
        "20-870",
        "Definitions (automated employment decision tool, bias audit, independent auditor ...)",
        'Defines, among others, "automated employment decision tool", "bias audit" (an impartial evaluation by an '
        "independent auditor, including testing of the tool to assess its disparate impact on persons of the "
        'component 1 categories an employer reports to the EEOC) and "employment decision".',
    ),
    _code(
        "nyc-admin-code/20-870/bias-audit",
        "20-870",
        "Definition: bias audit",
        "A bias audit is an impartial evaluation by an independent auditor, including at a minimum the testing of an "
        "automated employment decision tool to assess its disparate impact on persons of any component 1 category "
        "required to be reported by employers to the EEOC.",
        term="bias audit",
    ),
    _code(
        "nyc-admin-code/20-871",
        "20-871",
        "Requirements for automated employment decision tools",
        "An employer or employment agency may not use an automated employment decision tool to screen a candidate or "
        "employee for an employment decision unless the tool has been the subject of a bias audit conducted no more "
        "than one year before its use and a summary of the results of the most recent bias audit, with the tool's "
        "distribution date, is made publicly available on its website before use; candidates and employees who "
        "reside in the city receive notices (20-871(b)).",
    ),
    # --- 6 RCNY § 5-300: definitions -----------------------------------------------------------------------------
    _rule(
        "nyc-rcny/5-300",
        "5-300",
        "Definitions",
        "As used in this subchapter, the following terms have the following meanings: Automated Employment Decision "
        'Tool. "Automated employment decision tool" or "AEDT" means "Automated employment decision tool" as '
        'defined by § 20-870 of the Code where the phrase "to substantially assist or replace discretionary decision '
        'making" means: i. to rely solely on a simplified output (score, tag, classification, ranking, etc.), with no '
        "other factors considered; or ii. to use a simplified output as one of a set of criteria where the "
        "simplified output is weighted more than any other criterion in the set; or iii. to use a simplified output "
        'to overrule conclusions derived from other factors including human decision-making. Bias Audit. "Bias '
        'audit" means "Bias audit" as defined by § 20-870 of the Code. [...]',
        quotation=True,
        note="Quoted: the opening of the section (read at nacmiaslaw.com, effective 5/6/2023); the definitions "
        'after "bias audit" are summarised in their own records.',
        url="https://nacmiaslaw.com/resources/legal-codes/16989",
    ),
    _rule(
        "nyc-rcny/5-300/selection-rate",
        "5-300",
        "Definition: selection rate",
        "The rate at which individuals in a category are either selected to move forward in the hiring process or "
        "assigned a classification by an AEDT (the number in the category moving forward or so classified, divided "
        "by the number of individuals in the category who applied or were considered).",
        term="selection rate",
    ),
    _rule(
        "nyc-rcny/5-300/scoring-rate",
        "5-300",
        "Definition: scoring rate",
        "The rate at which individuals in a category receive a score above the sample's median score, where the score "
        "was calculated by an AEDT.",
        term="scoring rate",
    ),
    _rule(
        "nyc-rcny/5-300/impact-ratio",
        "5-300",
        "Definition: impact ratio",
        "Either the selection rate for a category divided by the selection rate of the most selected category, or "
        "the scoring rate for a category divided by the scoring rate for the highest scoring category.",
        term="impact ratio",
    ),
    _rule(
        "nyc-rcny/5-300/independent-auditor",
        "5-300",
        "Definition: independent auditor",
        "A person or group capable of exercising objective and impartial judgment on all issues within the scope of a "
        "bias audit of an AEDT; not independent if, among other things, they are or were involved in using, "
        "developing or distributing the AEDT, had an employment relationship with the employer, employment agency or "
        "vendor during the audit, or have a direct or material indirect financial interest in any of them.",
        term="independent auditor",
    ),
    _rule(
        "nyc-rcny/5-300/test-data",
        "5-300",
        "Definitions: historical data and test data",
        "Historical data is data collected during an employer's or employment agency's use of an AEDT to assess "
        "candidates or employees; test data is data used to conduct a bias audit that is not historical data.",
        term="test data",
    ),
    # --- 6 RCNY § 5-301: bias audit ------------------------------------------------------------------------------
    _rule(
        "nyc-rcny/5-301",
        "5-301",
        "Bias audit",
        "What a bias audit must calculate and report: selection rates and impact ratios for a tool that selects or "
        "classifies ((b)), scoring rates and impact ratios for a tool that scores ((c)), for sex, race/ethnicity and "
        "intersectional categories, with the number of individuals in an unknown category, who are in no "
        "calculation; and the exclusion of a category under 2% of the data ((d)).",
    ),
    _rule(
        "nyc-rcny/5-301/a",
        "5-301",
        "Bias audit no more than one year old",
        "An employer or employment agency may not use or continue to use an AEDT if more than one year has passed "
        "since its most recent bias audit.",
        paragraph="a",
        note="Summary; the LL144 helper read (a) at the American Legal Publishing URL; not re-read here.",
    ),
    _rule(
        "nyc-rcny/5-301/b",
        "5-301",
        "Tool that selects or classifies: selection rates and impact ratios",
        "Where an AEDT selects candidates or employees to move forward in the hiring process or classifies them into "
        "groups, a bias audit must at a minimum calculate the selection rate and the impact ratio for each category, "
        "separately for sex categories, race/ethnicity categories and intersectional categories of sex, ethnicity and "
        "race.",
        paragraph="b",
        note="Summary; the LL144 helper read (b) at the American Legal Publishing URL; not re-read here.",
    ),
    *(
        _rule(
            f"nyc-rcny/5-301/{para}/{num}/{roman}",
            "5-301",
            f"Separate calculation: {what}",
            f"The calculations are made separately for {what}.",
            paragraph=para,
            point=(num, roman),
            note=_NUMBERING,
        )
        for para, num in (("b", "3"), ("c", "4"))
        for roman, what in (
            ("i", "sex categories"),
            ("ii", "race/ethnicity categories"),
            ("iii", "intersectional categories of sex, ethnicity and race"),
        )
    ),
    _rule(
        "nyc-rcny/5-301/c",
        "5-301",
        "Tool that scores: median, scoring rates and impact ratios",
        "Where an AEDT only scores candidates or employees, a bias audit must at a minimum calculate the median score "
        "for the full sample of applicants, the scoring rate and the impact ratio for each category, separately for "
        "sex, race/ethnicity and intersectional categories.",
        paragraph="c",
        note="Summary; (c) as read by an earlier helper in a copy of DCWP's Notice of Adoption; not re-read here.",
    ),
    _rule(
        "nyc-rcny/5-301/d",
        "5-301",
        "Excluding a category under 2% of the data",
        "An independent auditor may exclude a category that represents less than 2% of the data being used for the "
        "bias audit from the required calculations for impact ratio; the summary of results must then include the "
        "independent auditor's justification for the exclusion, and the number of applicants and the scoring rate or "
        "selection rate for the excluded category.",
        paragraph="d",
        note="Summary close to the rule's words; (d) as read by an earlier helper in a copy of DCWP's Notice of "
        "Adoption, and confirmed as subdivision (d) by a secondary crosswalk; not read in a primary text here.",
    ),
    # --- 6 RCNY § 5-302: data requirements -----------------------------------------------------------------------
    _rule(
        "nyc-rcny/5-302",
        "5-302",
        "Data requirements",
        "A bias audit uses historical data of the AEDT ((a)); test data only if insufficient historical data is "
        "available to conduct a statistically significant bias audit, and then the summary of results explains why "
        "and how the test data was generated and obtained ((b)).",
    ),
    _rule(
        "nyc-rcny/5-302/a",
        "5-302",
        "Historical data",
        "A bias audit conducted pursuant to 6 RCNY § 5-301 must use historical data of the AEDT. The historical data "
        "used to conduct a bias audit may be from one or more employers or employment agencies that use the AEDT.",
        paragraph="a",
        quotation=True,
        note="Quoted: the first two sentences of (a) (read at nacmiaslaw.com, effective 5/6/2023); the conditions on "
        "relying on other employers' data follow in the rule.",
        url="https://nacmiaslaw.com/resources/legal-codes/16991",
    ),
    _rule(
        "nyc-rcny/5-302/b",
        "5-302",
        "Test data",
        "Notwithstanding the requirements of subdivision (a) of this section, an employer or employment agency may "
        "rely on a bias audit that uses test data if insufficient historical data is available to conduct a "
        "statistically significant bias audit. If a bias audit uses test data, the summary of results of the bias "
        "audit must explain why historical data was not used and describe how the test data used was generated and "
        "obtained.",
        paragraph="b",
        quotation=True,
        note="Quoted: (b) without its examples (read at nacmiaslaw.com, effective 5/6/2023).",
        url="https://nacmiaslaw.com/resources/legal-codes/16991",
    ),
    # --- 6 RCNY § 5-303: published results; § 5-304: notices -------------------------------------------------------
    _rule(
        "nyc-rcny/5-303",
        "5-303",
        "Published results",
        "Before using an AEDT, the employer or employment agency makes publicly available on its website the date "
        "of the most recent bias audit, a summary of its results and the AEDT's distribution date.",
    ),
    _rule(
        "nyc-rcny/5-303/a",
        "5-303",
        "What the published summary contains",
        "The summary of results includes the source and explanation of the data used to conduct the bias audit, the "
        "number of individuals the AEDT assessed in an unknown category, the number of applicants or candidates, and "
        "the selection or scoring rates and impact ratios for all categories; with the AEDT's distribution date.",
        paragraph="a",
        note="Summary; the wording of § 5-303 was not found in any source available in this session (issue 27 says "
        "the same).",
    ),
    _rule(
        "nyc-rcny/5-304",
        "5-304",
        "Notice to candidates and employees",
        "The notices of NYC Admin. Code § 20-871(b) to candidates and employees who reside in the city: how they are "
        "given (e.g. on the website's employment section, in a job posting, or by mail or e-mail) and at least 10 "
        "business days before use of the AEDT.",
        note="Summary from secondary sources; not read in a primary text.",
    ),
)
