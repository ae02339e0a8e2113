"""The catalogue's data: one frozen record per provision (see model.Citation).

Wording of Regulation (EU) 2024/1689 is quoted from the text named in each record's ``version``. Provisions that
Regulation (EU) 2026/1744 (the "Digital Omnibus on AI") inserted carry that act's version. Quotations were read,
on 6.12.2026, from a public repository's copy of the EUR-Lex consolidated text 02024R1689-20260727 (Art. 5, Art. 6,
Annex III), cross-checked against other secondary copies, and, for Art. 49(2) and Art. 50, from the 2024 text as
quoted identically by several independent sources. Neither the Official Journal nor EUR-Lex itself was read: the
amending act's text, date and numbering are unverified against the OJ. ``text_is_quotation`` is False where the
text is our summary. To correct a wording or a date, change it here: every page, report and stored
classification cites by id. (Over 600 lines on purpose: it is data, one record per provision.)
"""

from __future__ import annotations

from governance.citations.model import Citation

AI_ACT = "Regulation (EU) 2024/1689"
AI_ACT_SHORT = "EU AI Act"
OJ_2024 = "OJ L, 2024/1689, 12.7.2024"
OJ_2026 = "OJ L, 2026/1744, 24.7.2026 (amending Regulation (EU) 2024/1689)"
URL_2024 = "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"
URL_2026 = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=OJ:L_202601744"

# The text the questionnaire classifies under, stored with every classification.
EU_AI_ACT_TEXT_VERSION = (
    "Regulation (EU) 2024/1689 (OJ L, 2024/1689, 12.7.2024) as amended by Regulation (EU) 2026/1744 "
    "(OJ L, 2026/1744, 24.7.2026); consolidated text 02024R1689-20260727"
)

_PLACING = "the placing on the market, the putting into service or the use of "
_PLACING_SPECIFIC = "the placing on the market, the putting into service for this specific purpose, or the use of "


def _art(  # noqa: PLR0917 (a table of records reads best positionally: where, title, text)
    id: str,
    article: str,
    paragraph: str,
    point: tuple[str, ...],
    title: str,
    text: str,
    *,
    quotation: bool = True,
    subparagraph: int | None = None,
    amended: bool = False,
    note: str = "",
) -> Citation:
    return Citation(
        id=id,
        act=AI_ACT,
        act_short=AI_ACT_SHORT,
        article=article,
        paragraph=paragraph,
        point=point,
        subparagraph=subparagraph,
        title=title,
        text=text,
        text_is_quotation=quotation,
        version=OJ_2026 if amended else OJ_2024,
        url=URL_2026 if amended else URL_2024,
        note=note,
    )


ART_50_NOTE = (
    "Quoted from the 2024 text; the consolidated text marks Article 50 as amended by Regulation (EU) 2026/1744, and "
    "whether these words changed was not checked against it."
)


def _annex(
    id: str, annex: str, point: tuple[str, ...], title: str, text: str, *, quotation: bool = True, note: str = ""
) -> Citation:
    return Citation(
        id=id,
        act=AI_ACT,
        act_short=AI_ACT_SHORT,
        annex=annex,
        point=point,
        title=title,
        text=text,
        text_is_quotation=quotation,
        version=OJ_2024,
        url=URL_2024,
        note=note,
    )


EU_AI_ACT: tuple[Citation, ...] = (
    # --- Article 5: prohibited AI practices ----------------------------------------------------------------------
    _art(
        "eu-ai-act/art-5/1",
        "5",
        "1",
        (),
        "Prohibited AI practices",
        "The following AI practices shall be prohibited: [points (a) to (h); each covers the placing on the market, "
        "the putting into service and the use of the AI system, except point (h), which prohibits the use]",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-5/1/a",
        "5",
        "1",
        ("a",),
        "Subliminal, manipulative or deceptive techniques",
        _PLACING + "an AI system that deploys subliminal techniques beyond a person's consciousness or purposefully "
        "manipulative or deceptive techniques, with the objective, or the effect of materially distorting the "
        "behaviour of a person or a group of persons by appreciably impairing their ability to make an informed "
        "decision, thereby causing them to take a decision that they would not have otherwise taken in a manner that "
        "causes or is reasonably likely to cause that person, another person or group of persons significant harm",
    ),
    _art(
        "eu-ai-act/art-5/1/b",
        "5",
        "1",
        ("b",),
        "Exploiting vulnerabilities (age, disability, social or economic situation)",
        _PLACING + "an AI system that exploits any of the vulnerabilities of a natural person or a specific group of "
        "persons due to their age, disability or a specific social or economic situation, with the objective, or the "
        "effect, of materially distorting the behaviour of that person or a person belonging to that group in a "
        "manner that causes or is reasonably likely to cause that person or another person significant harm",
    ),
    _art(
        "eu-ai-act/art-5/1/ba",
        "5",
        "1",
        ("ba",),
        "Non-consensual intimate imagery of an identifiable person",
        _PLACING + "an AI system that generates or manipulates realistic images, videos, audio or similar material of "
        "an identifiable natural person's intimate parts, or of an identifiable natural person engaged in sexually "
        "explicit activities, without that person's freely-given, specific, informed, unambiguous and explicit "
        "consent for that generation or manipulation",
        amended=True,
    ),
    _art(
        "eu-ai-act/art-5/1/bb",
        "5",
        "1",
        ("bb",),
        "Child sexual abuse material",
        _PLACING + "an AI system that generates or manipulates material or performance within the meaning of Article "
        "2, points (c) and (e), of Directive 2011/93/EU, except where a 'without right' defence applies under "
        "national law",
        amended=True,
    ),
    _art(
        "eu-ai-act/art-5/1a",
        "5",
        "1a",
        (),
        "When (ba) and (bb) apply to providers and deployers",
        "Placing on the market or putting into service is prohibited only where that generation or manipulation is "
        "the system's intended purpose, or a reasonably foreseeable and reproducible outcome of its design without "
        "significant technical modification and without reasonable and adequate safeguards to prevent it; use is "
        "prohibited only where the deployer uses the system for that purpose.",
        quotation=False,
        amended=True,
    ),
    _art(
        "eu-ai-act/art-5/1/c",
        "5",
        "1",
        ("c",),
        "Social scoring",
        _PLACING + "AI systems for the evaluation or classification of natural persons or groups of persons over a "
        "certain period of time based on their social behaviour or known, inferred or predicted personal or "
        "personality characteristics, with the social score leading to either or both of the following: (i) "
        "detrimental or unfavourable treatment of certain natural persons or groups of persons in social contexts "
        "that are unrelated to the contexts in which the data was originally generated or collected; (ii) "
        "detrimental or unfavourable treatment of certain natural persons or groups of persons that is unjustified "
        "or disproportionate to their social behaviour or its gravity",
    ),
    _art(
        "eu-ai-act/art-5/1/d",
        "5",
        "1",
        ("d",),
        "Predicting criminal offences solely from profiling or personality traits",
        _PLACING_SPECIFIC + "an AI system for making risk assessments of natural persons in order to assess or "
        "predict the risk of a natural person committing a criminal offence, based solely on the profiling of a "
        "natural person or on assessing their personality traits and characteristics; this prohibition shall not "
        "apply to AI systems used to support the human assessment of the involvement of a person in a criminal "
        "activity, which is already based on objective and verifiable facts directly linked to a criminal activity",
    ),
    _art(
        "eu-ai-act/art-5/1/e",
        "5",
        "1",
        ("e",),
        "Untargeted scraping of facial images",
        _PLACING_SPECIFIC + "AI systems that create or expand facial recognition databases through the untargeted "
        "scraping of facial images from the internet or CCTV footage",
    ),
    _art(
        "eu-ai-act/art-5/1/f",
        "5",
        "1",
        ("f",),
        "Emotion recognition in the workplace and education institutions",
        _PLACING_SPECIFIC + "AI systems to infer emotions of a natural person in the areas of workplace and education "
        "institutions, except where the use of the AI system is intended to be put in place or into the market for "
        "medical or safety reasons",
    ),
    _art(
        "eu-ai-act/art-5/1/g",
        "5",
        "1",
        ("g",),
        "Biometric categorisation inferring sensitive characteristics",
        _PLACING_SPECIFIC + "biometric categorisation systems that categorise individually natural persons based on "
        "their biometric data to deduce or infer their race, political opinions, trade union membership, religious "
        "or philosophical beliefs, sex life or sexual orientation; this prohibition does not cover any labelling or "
        "filtering of lawfully acquired biometric datasets, such as images, based on biometric data or categorizing "
        "of biometric data in the area of law enforcement",
    ),
    _art(
        "eu-ai-act/art-5/1/h",
        "5",
        "1",
        ("h",),
        "Real-time remote biometric identification in public spaces for law enforcement",
        "the use of 'real-time' remote biometric identification systems in publicly accessible spaces for the "
        "purposes of law enforcement, unless and in so far as such use is strictly necessary for one of the "
        "following objectives: [(i) to (iii)]",
    ),
    _art(
        "eu-ai-act/art-5/1/h/i",
        "5",
        "1",
        ("h", "i"),
        "Exception: targeted search for victims and missing persons",
        "the targeted search for specific victims of abduction, trafficking in human beings or sexual exploitation "
        "of human beings, as well as the search for missing persons",
    ),
    _art(
        "eu-ai-act/art-5/1/h/ii",
        "5",
        "1",
        ("h", "ii"),
        "Exception: threat to life or terrorist attack",
        "the prevention of a specific, substantial and imminent threat to the life or physical safety of natural "
        "persons or a genuine and present or genuine and foreseeable threat of a terrorist attack",
    ),
    _art(
        "eu-ai-act/art-5/1/h/iii",
        "5",
        "1",
        ("h", "iii"),
        "Exception: suspects of Annex II offences",
        "the localisation or identification of a person suspected of having committed a criminal offence, for the "
        "purpose of conducting a criminal investigation or prosecution or executing a criminal penalty for offences "
        "referred to in Annex II and punishable in the Member State concerned by a custodial sentence or a detention "
        "order for a maximum period of at least four years",
    ),
    _art(
        "eu-ai-act/art-5/2",
        "5",
        "2",
        (),
        "Conditions for the point (h) objectives: FRIA and registration",
        "Use for a point (h) objective only to confirm the identity of the specifically targeted individual, taking "
        "into account the seriousness, probability and scale of harm and the consequences for the rights of all "
        "persons concerned, with necessary and proportionate safeguards under the authorising national law; it is "
        "authorised only if the law enforcement authority has completed a fundamental rights impact assessment "
        "(Art. 27) and registered the system in the EU database (Art. 49), registration being allowed without undue "
        "delay after the start in duly justified cases of urgency.",
        quotation=False,
    ),
    _art(
        "eu-ai-act/art-5/3",
        "5",
        "3",
        (),
        "Prior authorisation for each use under point (h)",
        "Each use is subject to a prior authorisation granted by a judicial authority or an independent "
        "administrative authority whose decision is binding, of the Member State of use, on a reasoned request; in "
        "a duly justified urgency the use may start without it if authorisation is requested within 24 hours, and "
        "if it is rejected the use stops and its data and outputs are deleted. No decision producing an adverse "
        "legal effect on a person may be taken based solely on the system's output.",
        quotation=False,
    ),
    # --- Article 6: classification rules for high-risk AI systems ------------------------------------------------
    _art(
        "eu-ai-act/art-6/1",
        "6",
        "1",
        (),
        "High risk through Annex I (safety component or product with third-party conformity assessment)",
        "Irrespective of whether an AI system is placed on the market or put into service independently of the "
        "products referred to in points (a) and (b), that AI system shall be considered to be high-risk where both "
        "of the following conditions are fulfilled: (a) the AI system is intended to be used as a safety component "
        "of a product, or the AI system is itself a product, covered by the Union harmonisation legislation listed "
        "in Annex I; (b) the product whose safety component pursuant to point (a) is the AI system, or the AI system "
        "itself as a product, is required to undergo a third-party conformity assessment, with a view to the placing "
        "on the market or the putting into service of that product pursuant to the Union harmonisation legislation "
        "listed in Annex I.",
    ),
    _art(
        "eu-ai-act/art-6/1a",
        "6",
        "1a",
        (),
        "What is not a safety component",
        "For the purposes of this Regulation, including paragraph 1 of this Article, AI systems that are solely used "
        "for non-safety related aspects of user assistance, performance optimisation, service efficiency, automation "
        "or convenience or quality control shall not qualify as safety components.",
        amended=True,
    ),
    _art(
        "eu-ai-act/art-6/1b",
        "6",
        "1b",
        (),
        "Failure that would endanger health and safety makes a safety component",
        "Notwithstanding paragraph 1a, AI systems the failure or malfunctioning of which would endanger health and "
        "safety shall qualify as safety components.",
        amended=True,
    ),
    _art(
        "eu-ai-act/art-6/1c",
        "6",
        "1c",
        (),
        "Third-party assessment for non-safety risks only does not count",
        "A product that is required to undergo a third-party conformity assessment solely due to risks other than "
        "risks to health and safety, in particular risks relating to the distribution of radio spectrum or "
        "electromagnetic interference that do not affect health and safety, shall not be considered as fulfilling "
        "the condition in paragraph 1, point (b).",
        amended=True,
    ),
    _art(
        "eu-ai-act/art-6/2",
        "6",
        "2",
        (),
        "High risk through Annex III",
        "In addition to the high-risk AI systems referred to in paragraph 1, AI systems referred to in Annex III "
        "shall be considered to be high-risk.",
    ),
    _art(
        "eu-ai-act/art-6/3",
        "6",
        "3",
        (),
        "Derogation: no significant risk of harm",
        "By derogation from paragraph 2, an AI system referred to in Annex III shall not be considered to be "
        "high-risk where it does not pose a significant risk of harm to the health, safety or fundamental rights of "
        "natural persons, including by not materially influencing the outcome of decision making.",
        subparagraph=1,
    ),
    _art(
        "eu-ai-act/art-6/3/a",
        "6",
        "3",
        ("a",),
        "Derogation condition: narrow procedural task",
        "the AI system is intended to perform a narrow procedural task",
    ),
    _art(
        "eu-ai-act/art-6/3/b",
        "6",
        "3",
        ("b",),
        "Derogation condition: improving a completed human activity",
        "the AI system is intended to improve the result of a previously completed human activity",
    ),
    _art(
        "eu-ai-act/art-6/3/c",
        "6",
        "3",
        ("c",),
        "Derogation condition: detecting decision-making patterns or deviations",
        "the AI system is intended to detect decision-making patterns or deviations from prior decision-making "
        "patterns and is not meant to replace or influence the previously completed human assessment, without "
        "proper human review",
    ),
    _art(
        "eu-ai-act/art-6/3/d",
        "6",
        "3",
        ("d",),
        "Derogation condition: preparatory task",
        "the AI system is intended to perform a preparatory task to an assessment relevant for the purposes of the "
        "use cases listed in Annex III",
    ),
    _art(
        "eu-ai-act/art-6/3/sub-2",
        "6",
        "3",
        (),
        "The derogation needs one of conditions (a) to (d)",
        "The first subparagraph shall apply where any of the following conditions is fulfilled: [(a) to (d)]",
        subparagraph=2,
    ),
    _art(
        "eu-ai-act/art-6/3/sub-3",
        "6",
        "3",
        (),
        "Profiling is always high risk",
        "Notwithstanding the first subparagraph, an AI system referred to in Annex III shall always be considered to "
        "be high-risk where the AI system performs profiling of natural persons.",
        subparagraph=3,
    ),
    _art(
        "eu-ai-act/art-6/4",
        "6",
        "4",
        (),
        "Documenting the derogation assessment",
        "A provider who considers that an AI system referred to in Annex III is not high-risk shall document its "
        "assessment before that system is placed on the market or put into service. Such provider shall be subject "
        "to the registration obligation set out in Article 49(2). Upon request of national competent authorities, "
        "the provider shall provide the documentation of the assessment.",
    ),
    _art(
        "eu-ai-act/art-49/2",
        "49",
        "2",
        (),
        "Registering a system concluded not to be high-risk",
        "Before placing on the market or putting into service an AI system for which the provider has concluded that "
        "it is not high-risk according to Article 6(3), that provider or, where applicable, the authorised "
        "representative shall register themselves and that system in the EU database referred to in Article 71.",
    ),
    # --- Article 50: transparency obligations (separate from the risk tier) --------------------------------------
    _art(
        "eu-ai-act/art-50/1",
        "50",
        "1",
        (),
        "Informing people that they interact with an AI system",
        "Providers shall ensure that AI systems intended to interact directly with natural persons are designed and "
        "developed in such a way that the natural persons concerned are informed that they are interacting with an "
        "AI system, unless this is obvious from the point of view of a natural person who is reasonably "
        "well-informed, observant and circumspect, taking into account the circumstances and the context of use.",
        note=ART_50_NOTE,
    ),
    _art(
        "eu-ai-act/art-50/2",
        "50",
        "2",
        (),
        "Marking synthetic audio, image, video or text",
        "Providers of AI systems, including general-purpose AI systems, generating synthetic audio, image, video or "
        "text content, shall ensure that the outputs of the AI system are marked in a machine-readable format and "
        "detectable as artificially generated or manipulated.",
        note=ART_50_NOTE,
    ),
    _art(
        "eu-ai-act/art-50/3",
        "50",
        "3",
        (),
        "Informing people exposed to emotion recognition or biometric categorisation",
        "Deployers of an emotion recognition system or a biometric categorisation system shall inform the natural "
        "persons exposed thereto of the operation of the system, and shall process the personal data in accordance "
        "with Regulations (EU) 2016/679 and (EU) 2018/1725 and Directive (EU) 2016/680, as applicable.",
        note=ART_50_NOTE,
    ),
    _art(
        "eu-ai-act/art-50/4",
        "50",
        "4",
        (),
        "Disclosing deep fakes",
        "Deployers of an AI system that generates or manipulates image, audio or video content constituting a deep "
        "fake, shall disclose that the content has been artificially generated or manipulated.",
        subparagraph=1,
        note=ART_50_NOTE,
    ),
    _art(
        "eu-ai-act/art-50/4/sub-2",
        "50",
        "4",
        (),
        "Disclosing AI-generated text on matters of public interest",
        "Deployers of an AI system that generates or manipulates text which is published with the purpose of "
        "informing the public on matters of public interest shall disclose that the text has been artificially "
        "generated or manipulated.",
        subparagraph=2,
        note=ART_50_NOTE,
    ),
    # --- Annex I and Annex III ---------------------------------------------------------------------------------
    _annex(
        "eu-ai-act/annex-i",
        "I",
        (),
        "Union harmonisation legislation (Art. 6(1))",
        "The list of Union harmonisation legislation whose products, or their safety components, are high-risk under "
        "Art. 6(1) when a third-party conformity assessment is required: Section A (legislation based on the New "
        "Legislative Framework, e.g. toys, lifts, radio equipment, medical devices) and Section B (other legislation, "
        "e.g. civil aviation, motor vehicles, marine equipment).",
        quotation=False,
        note="A summary, not the list: Annex I was amended by Regulation (EU) 2026/1744 and the amended list was not "
        "read; check the product's legislation against the consolidated text.",
    ),
    _annex(
        "eu-ai-act/annex-iii",
        "III",
        (),
        "High-risk AI systems referred to in Article 6(2)",
        "High-risk AI systems pursuant to Article 6(2) are the AI systems listed in any of the following areas:",
    ),
    _annex(
        "eu-ai-act/annex-iii/1",
        "III",
        ("1",),
        "Biometrics",
        "Biometrics, in so far as their use is permitted under relevant Union or national law:",
    ),
    _annex(
        "eu-ai-act/annex-iii/1/a",
        "III",
        ("1", "a"),
        "Remote biometric identification",
        "remote biometric identification systems. This shall not include AI systems intended to be used for "
        "biometric verification the sole purpose of which is to confirm that a specific natural person is the person "
        "he or she claims to be",
    ),
    _annex(
        "eu-ai-act/annex-iii/1/b",
        "III",
        ("1", "b"),
        "Biometric categorisation by sensitive or protected attributes",
        "AI systems intended to be used for biometric categorisation, according to sensitive or protected attributes "
        "or characteristics based on the inference of those attributes or characteristics",
    ),
    _annex(
        "eu-ai-act/annex-iii/1/c",
        "III",
        ("1", "c"),
        "Emotion recognition",
        "AI systems intended to be used for emotion recognition",
    ),
    _annex(
        "eu-ai-act/annex-iii/2",
        "III",
        ("2",),
        "Critical infrastructure",
        "Critical infrastructure: AI systems intended to be used as safety components in the management and "
        "operation of critical digital infrastructure, road traffic, or in the supply of water, gas, heating or "
        "electricity",
    ),
    _annex(
        "eu-ai-act/annex-iii/3",
        "III",
        ("3",),
        "Education and vocational training",
        "Education and vocational training:",
    ),
    _annex(
        "eu-ai-act/annex-iii/3/a",
        "III",
        ("3", "a"),
        "Access, admission or assignment to education",
        "AI systems intended to be used to determine access or admission or to assign natural persons to educational "
        "and vocational training institutions at all levels",
    ),
    _annex(
        "eu-ai-act/annex-iii/3/b",
        "III",
        ("3", "b"),
        "Evaluating learning outcomes",
        "AI systems intended to be used to evaluate learning outcomes, including when those outcomes are used to "
        "steer the learning process of natural persons in educational and vocational training institutions at all "
        "levels",
    ),
    _annex(
        "eu-ai-act/annex-iii/3/c",
        "III",
        ("3", "c"),
        "Assessing the appropriate level of education",
        "AI systems intended to be used for the purpose of assessing the appropriate level of education that an "
        "individual will receive or will be able to access, in the context of or within educational and vocational "
        "training institutions at all levels",
    ),
    _annex(
        "eu-ai-act/annex-iii/3/d",
        "III",
        ("3", "d"),
        "Monitoring students during tests",
        "AI systems intended to be used for monitoring and detecting prohibited behaviour of students during tests "
        "in the context of or within educational and vocational training institutions at all levels",
    ),
    _annex(
        "eu-ai-act/annex-iii/4",
        "III",
        ("4",),
        "Employment, workers' management and access to self-employment",
        "Employment, workers' management and access to self-employment:",
    ),
    _annex(
        "eu-ai-act/annex-iii/4/a",
        "III",
        ("4", "a"),
        "Recruitment and selection",
        "AI systems intended to be used for the recruitment or selection of natural persons, in particular to place "
        "targeted job advertisements, to analyse and filter job applications, and to evaluate candidates",
    ),
    _annex(
        "eu-ai-act/annex-iii/4/b",
        "III",
        ("4", "b"),
        "Decisions in work relationships, task allocation, monitoring",
        "AI systems intended to be used to make decisions affecting terms of work-related relationships, the "
        "promotion or termination of work-related contractual relationships, to allocate tasks based on individual "
        "behaviour or personal traits or characteristics or to monitor and evaluate the performance and behaviour of "
        "persons in such relationships",
    ),
    _annex(
        "eu-ai-act/annex-iii/5",
        "III",
        ("5",),
        "Essential private services and essential public services and benefits",
        "Access to and enjoyment of essential private services and essential public services and benefits:",
    ),
    _annex(
        "eu-ai-act/annex-iii/5/a",
        "III",
        ("5", "a"),
        "Eligibility for public assistance benefits and services",
        "AI systems intended to be used by public authorities or on behalf of public authorities to evaluate the "
        "eligibility of natural persons for essential public assistance benefits and services, including healthcare "
        "services, as well as to grant, reduce, revoke, or reclaim such benefits and services",
    ),
    _annex(
        "eu-ai-act/annex-iii/5/b",
        "III",
        ("5", "b"),
        "Creditworthiness and credit scores",
        "AI systems intended to be used to evaluate the creditworthiness of natural persons or establish their "
        "credit score, with the exception of AI systems used for the purpose of detecting financial fraud",
    ),
    _annex(
        "eu-ai-act/annex-iii/5/c",
        "III",
        ("5", "c"),
        "Life and health insurance risk assessment and pricing",
        "AI systems intended to be used for risk assessment and pricing in relation to natural persons in the case "
        "of life and health insurance",
    ),
    _annex(
        "eu-ai-act/annex-iii/5/d",
        "III",
        ("5", "d"),
        "Emergency calls, dispatch and triage",
        "AI systems intended to evaluate and classify emergency calls by natural persons or to be used to dispatch, "
        "or to establish priority in the dispatching of, emergency first response services, including by police, "
        "firefighters and medical aid, as well as of emergency healthcare patient triage systems",
    ),
    _annex(
        "eu-ai-act/annex-iii/6",
        "III",
        ("6",),
        "Law enforcement",
        "Law enforcement, in so far as their use is permitted under relevant Union or national law:",
    ),
    _annex(
        "eu-ai-act/annex-iii/6/a",
        "III",
        ("6", "a"),
        "Risk of becoming a victim of crime",
        "AI systems intended to be used by or on behalf of law enforcement authorities, or by Union institutions, "
        "bodies, offices or agencies in support of law enforcement authorities or on their behalf to assess the risk "
        "of a natural person becoming the victim of criminal offences",
    ),
    _annex(
        "eu-ai-act/annex-iii/6/b",
        "III",
        ("6", "b"),
        "Polygraphs and similar tools (law enforcement)",
        "AI systems intended to be used by or on behalf of law enforcement authorities or by Union institutions, "
        "bodies, offices or agencies in support of law enforcement authorities as polygraphs or similar tools",
    ),
    _annex(
        "eu-ai-act/annex-iii/6/c",
        "III",
        ("6", "c"),
        "Reliability of evidence",
        "AI systems intended to be used by or on behalf of law enforcement authorities, or by Union institutions, "
        "bodies, offices or agencies, in support of law enforcement authorities to evaluate the reliability of "
        "evidence in the course of the investigation or prosecution of criminal offences",
    ),
    _annex(
        "eu-ai-act/annex-iii/6/d",
        "III",
        ("6", "d"),
        "Risk of offending or re-offending; personality traits",
        "AI systems intended to be used by law enforcement authorities or on their behalf or by Union institutions, "
        "bodies, offices or agencies in support of law enforcement authorities for assessing the risk of a natural "
        "person offending or re-offending not solely on the basis of the profiling of natural persons as referred to "
        "in Article 3(4) of Directive (EU) 2016/680, or to assess personality traits and characteristics or past "
        "criminal behaviour of natural persons or groups",
    ),
    _annex(
        "eu-ai-act/annex-iii/6/e",
        "III",
        ("6", "e"),
        "Profiling in criminal investigations",
        "AI systems intended to be used by or on behalf of law enforcement authorities or by Union institutions, "
        "bodies, offices or agencies in support of law enforcement authorities for the profiling of natural persons "
        "as referred to in Article 3(4) of Directive (EU) 2016/680 in the course of the detection, investigation or "
        "prosecution of criminal offences",
    ),
    _annex(
        "eu-ai-act/annex-iii/7",
        "III",
        ("7",),
        "Migration, asylum and border control management",
        "Migration, asylum and border control management, in so far as their use is permitted under relevant Union "
        "or national law:",
    ),
    _annex(
        "eu-ai-act/annex-iii/7/a",
        "III",
        ("7", "a"),
        "Polygraphs and similar tools (migration)",
        "AI systems intended to be used by or on behalf of competent public authorities or by Union institutions, "
        "bodies, offices or agencies as polygraphs or similar tools",
    ),
    _annex(
        "eu-ai-act/annex-iii/7/b",
        "III",
        ("7", "b"),
        "Security, irregular migration or health risk of a person",
        "AI systems intended to be used by or on behalf of competent public authorities or by Union institutions, "
        "bodies, offices or agencies to assess a risk, including a security risk, a risk of irregular migration, or "
        "a health risk, posed by a natural person who intends to enter or who has entered into the territory of a "
        "Member State",
    ),
    _annex(
        "eu-ai-act/annex-iii/7/c",
        "III",
        ("7", "c"),
        "Asylum, visa and residence applications",
        "AI systems intended to be used by or on behalf of competent public authorities or by Union institutions, "
        "bodies, offices or agencies to assist competent public authorities for the examination of applications for "
        "asylum, visa or residence permits and for associated complaints with regard to the eligibility of the "
        "natural persons applying for a status, including related assessments of the reliability of evidence",
    ),
    _annex(
        "eu-ai-act/annex-iii/7/d",
        "III",
        ("7", "d"),
        "Detecting, recognising or identifying persons at borders",
        "AI systems intended to be used by or on behalf of competent public authorities, or by Union institutions, "
        "bodies, offices or agencies, in the context of migration, asylum or border control management, for the "
        "purpose of detecting, recognising or identifying natural persons, with the exception of the verification of "
        "travel documents",
    ),
    _annex(
        "eu-ai-act/annex-iii/8",
        "III",
        ("8",),
        "Administration of justice and democratic processes",
        "Administration of justice and democratic processes:",
    ),
    _annex(
        "eu-ai-act/annex-iii/8/a",
        "III",
        ("8", "a"),
        "Assisting judicial authorities or alternative dispute resolution",
        "AI systems intended to be used by a judicial authority or on their behalf to assist a judicial authority in "
        "researching and interpreting facts and the law and in applying the law to a concrete set of facts, or to be "
        "used in a similar way in alternative dispute resolution",
    ),
    _annex(
        "eu-ai-act/annex-iii/8/b",
        "III",
        ("8", "b"),
        "Influencing elections, referenda or voting behaviour",
        "AI systems intended to be used for influencing the outcome of an election or referendum or the voting "
        "behaviour of natural persons in the exercise of their vote in elections or referenda. This does not include "
        "AI systems to the output of which natural persons are not directly exposed, such as tools used to organise, "
        "optimise or structure political campaigns from an administrative or logistical point of view",
    ),
)

CATALOGUE: tuple[Citation, ...] = EU_AI_ACT
