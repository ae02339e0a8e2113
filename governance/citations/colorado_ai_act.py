"""Catalogue records for the Colorado AI Act: Senate Bill 24-205, "Consumer Protections for Interactions with
Artificial Intelligence Systems" (C.R.S. §§ 6-1-1701 to 6-1-1707, title 6, article 1, part 17), as amended by
Senate Bill 25B-004, which moved every "February 1, 2026" in the part to "June 30, 2026".

What was read on 6.12.2026, and where (secondary copies only; no session law and no official C.R.S. text was opened):
- § 6-1-1702(1) and (2)(a)-(b), § 6-1-1703(1) and (2)(a): casetext's copy of the statute as enacted ("current through
  the 2024 session", still showing February 1, 2026).
- SB 25B-004 (signed 28.8.2025) changing only the date to June 30, 2026: several reports agree (govtech.com,
  theagenttimes.com citing Greenberg Traurig, publedge.org's record pointing to leg.colorado.gov/bills/sb25b-004).
- The 90-day disclosures to the Attorney General (§ 6-1-1702(5), § 6-1-1703(7)), the public statements, the notices
  and the annual review: section-by-section summaries (vogelitlaw.com quoting the bill summary, compliance guides).
- **SB 26-189** (signed 14.5.2026) repeals and reenacts these provisions as an "automated decision-making technology"
  law in force from 1.1.2027 (the Colorado Attorney General's page https://coag.gov/resources/ai/, read 6.12.2026).
  Its text was not read. Whether the SB 24-205 duties were enforceable between 30.6.2026 and 1.1.2027 (reports say
  enforcement was suspended while a constitutional challenge is pending) was not verified.

Every record is our summary (``text_is_quotation=False``) and its ``note`` says what was not checked.
"""

from __future__ import annotations

from governance.citations.model import Citation

ACT = "Colorado SB 24-205 (C.R.S. title 6, article 1, part 17), as amended by SB 25B-004"
VERSION = (
    "C.R.S. §§ 6-1-1701 to 6-1-1707 as enacted by SB 24-205 (signed 17.5.2024) and amended by SB 25B-004 "
    "(signed 28.8.2025; duties from 30.6.2026); repealed and reenacted by SB 26-189 from 1.1.2027"
)
URL = "https://leg.colorado.gov/bills/sb24-205"

_REPEAL = (
    " SB 26-189 (signed 14.5.2026) repeals and reenacts part 17 from 1.1.2027 (coag.gov); its text was not read, so "
    "whether this duty survives there is not known."
)
_READ = (
    "Summary. The subsection and its wording were read in a secondary copy of the statute as enacted (casetext), "
    "not in the session law; the date is as SB 25B-004 amended it (reports, not the bill text)." + _REPEAL
)
_NUMBERED = (
    "Summary. The subsection number comes from secondary summaries of the act; the statute's wording was not read in "
    "this session." + _REPEAL
)

_ENFORCEMENT = (
    "Summary. Subsections (1) and (2) as enacted were read only in a public repository's elided quotation of the "
    "session law (SB 24-205, ch. 198): the Attorney General's exclusive authority to enforce, and a violation being"
    " a trade practice 'pursuant to section 6-1-105 (1)(hhhh)'. The word 'unfair' before it is elided there and was"
    " not seen in any source read; it follows the legal reviewer's reading of the enacted text. The affirmative "
    "defence and whether the part creates a private right of action were not read. SB 26-189's reenacted § "
    "6-1-1706(2)(a) calls a violation a deceptive trade practice; that is the new law's wording, not this one's. "
    "The same source reports a court order of 27.4.2026 (X.AI LLC v. Weiser, D. Colo.) barring the Attorney General"
    " from enforcing SB 24-205 until rulemaking and a ruling; not verified." + _REPEAL
)


def _crs(
    id: str,
    section: str,
    title: str,
    text: str,
    *,
    paragraph: str = "",
    point: tuple[str, ...] = (),
    note: str = _NUMBERED,
) -> Citation:
    return Citation(
        id=id,
        act=ACT,
        act_short="Colorado AI Act",
        code="C.R.S. §",
        section=section,
        paragraph=paragraph,
        point=point,
        title=title,
        text=text,
        text_is_quotation=False,
        version=VERSION,
        url=URL,
        note=note,
    )


COLORADO_AI_ACT: tuple[Citation, ...] = (
    _crs(
        "crs/6-1-1701/3",
        "6-1-1701",
        "Definition: consequential decision",
        "A decision with a material legal or similarly significant effect on the provision, denial, cost or terms of "
        "education, employment, a financial or lending service, an essential government service, health care, "
        "housing, insurance or a legal service. A high-risk AI system is one that makes, or is a substantial factor "
        "in making, such a decision.",
        paragraph="3",
    ),
    # --- developers ----------------------------------------------------------------------------------------------
    _crs(
        "crs/6-1-1702/1",
        "6-1-1702",
        "Developer: reasonable care against algorithmic discrimination",
        "From 30 June 2026 a developer of a high-risk AI system must use reasonable care to protect consumers from "
        "known or reasonably foreseeable risks of algorithmic discrimination from the system's intended and "
        "contracted uses; complying with the section (and the Attorney General's rules) raises a rebuttable "
        "presumption of reasonable care.",
        paragraph="1",
        note=_READ,
    ),
    _crs(
        "crs/6-1-1702/2",
        "6-1-1702",
        "Developer: documentation for deployers",
        "The developer gives deployers a statement of the system's foreseeable and known harmful or inappropriate "
        "uses, and documentation of its training data (in summary), known limitations and risks of algorithmic "
        "discrimination, purpose, intended benefits and uses, how it was evaluated and how those risks were "
        "mitigated, and what a deployer needs to meet its own duties.",
        paragraph="2",
        note=_READ,
    ),
    _crs(
        "crs/6-1-1702/3",
        "6-1-1702",
        "Developer: information for the deployer's impact assessment",
        "The developer makes available the documentation and information a deployer needs to complete an impact "
        "assessment (for example model cards or dataset cards).",
        paragraph="3",
    ),
    _crs(
        "crs/6-1-1702/4",
        "6-1-1702",
        "Developer: public statement",
        "The developer publishes, on its website or in a public use-case inventory, a statement summarising the "
        "high-risk systems it makes available and how it manages their risks of algorithmic discrimination, and "
        "keeps it current (within 90 days of an intentional and substantial modification).",
        paragraph="4",
    ),
    _crs(
        "crs/6-1-1702/5",
        "6-1-1702",
        "Developer: disclosure of discovered algorithmic discrimination",
        "Within 90 days after discovering, or receiving a credible report from a deployer, that the system has caused "
        "or is reasonably likely to have caused algorithmic discrimination, the developer discloses the known or "
        "reasonably foreseeable risks to the Attorney General and to all known deployers and other developers.",
        paragraph="5",
    ),
    # --- deployers -----------------------------------------------------------------------------------------------
    _crs(
        "crs/6-1-1703/1",
        "6-1-1703",
        "Deployer: reasonable care against algorithmic discrimination",
        "From 30 June 2026 a deployer of a high-risk AI system must use reasonable care to protect consumers from "
        "known or reasonably foreseeable risks of algorithmic discrimination; complying with the section (and the "
        "Attorney General's rules) raises a rebuttable presumption of reasonable care.",
        paragraph="1",
        note=_READ,
    ),
    _crs(
        "crs/6-1-1703/2",
        "6-1-1703",
        "Deployer: risk management policy and program",
        "The deployer implements a risk management policy and program for the system: the principles, processes and "
        "people that identify, document and mitigate risks of algorithmic discrimination, reviewed and updated "
        "regularly over the system's life; reasonable in the light of the NIST AI RMF, ISO/IEC 42001 or another "
        "recognised framework, the deployer's size and the system's nature and data.",
        paragraph="2",
        note=_READ,
    ),
    _crs(
        "crs/6-1-1703/3/a",
        "6-1-1703",
        "Deployer: impact assessment",
        "The deployer (or a third party it engages) completes an impact assessment of the system, at least once a "
        "year and within 90 days after an intentional and substantial modification; it covers purpose and context, "
        "risks of algorithmic discrimination and their mitigation, data in and out, metrics and limitations, "
        "transparency and post-deployment monitoring.",
        paragraph="3",
        point=("a",),
    ),
    _crs(
        "crs/6-1-1703/3/g",
        "6-1-1703",
        "Deployer: annual review of the deployment",
        "At least once a year the deployer (or a third party it engages) reviews each deployment of the system to "
        "make sure it is not causing algorithmic discrimination.",
        paragraph="3",
        point=("g",),
    ),
    _crs(
        "crs/6-1-1703/4/a",
        "6-1-1703",
        "Deployer: notice before a consequential decision",
        "No later than when the system is used to make, or be a substantial factor in making, a consequential "
        "decision about a consumer, the deployer tells the consumer so, describes the system and the decision, gives "
        "contact details and, where it applies, the right to opt out of profiling under Colorado's privacy act.",
        paragraph="4",
        point=("a",),
    ),
    _crs(
        "crs/6-1-1703/4/b",
        "6-1-1703",
        "Deployer: explanation, correction and appeal after an adverse decision",
        "After an adverse consequential decision the deployer gives the consumer the principal reasons (how far the "
        "system contributed, what data it used and their source), a chance to correct incorrect personal data the "
        "system used, and an appeal that allows human review where technically feasible.",
        paragraph="4",
        point=("b",),
    ),
    _crs(
        "crs/6-1-1703/5",
        "6-1-1703",
        "Deployer: public statement",
        "The deployer publishes on its website a statement of the high-risk systems it deploys, how it manages their "
        "risks of algorithmic discrimination, and the nature, source and extent of the information it collects and "
        "uses, and keeps it current.",
        paragraph="5",
    ),
    _crs(
        "crs/6-1-1703/7",
        "6-1-1703",
        "Deployer: disclosure of discovered algorithmic discrimination",
        "Within 90 days after discovering that the system has caused algorithmic discrimination, the deployer "
        "discloses it to the Attorney General.",
        paragraph="7",
    ),
    _crs(
        "crs/6-1-1704",
        "6-1-1704",
        "Disclosure that a consumer is interacting with an AI system",
        "A deployer (or other developer) that makes available an AI system intended to interact with consumers "
        "discloses to each consumer that they are interacting with an AI system, unless that would be obvious to a "
        "reasonable person.",
    ),
    _crs(
        "crs/6-1-1706",
        "6-1-1706",
        "Enforcement by the Attorney General; affirmative defence",
        "The Attorney General has exclusive authority to enforce the part, and a violation of its requirements is an "
        "unfair trade practice under § 6-1-105(1)(hhhh). A developer or deployer has an affirmative defence if it "
        "discovers and cures a violation and complies with the NIST AI RMF, ISO/IEC 42001 or another recognised risk "
        "management framework.",
        note=_ENFORCEMENT,
    ),
    _crs(
        "crs/6-1-1707",
        "6-1-1707",
        "Rules of the Attorney General",
        "The Attorney General may adopt rules on documentation, notices, risk management programs, impact "
        "assessments and the rebuttable presumptions and affirmative defence.",
    ),
)
