"""Obligation catalogues: the built-ins load, cite only what the citations catalogue holds, and hold the structure
their sources have (known answers from the texts, not from Assay); hostile or malformed catalogues are refused with
their line and field.

Known answers: the EU AI Act's high-risk obligations of providers are Arts. 9-15, 17, 72 and 73 with Annex IV, those
of deployers Arts. 26 and 27; Art. 73 sets 15 days, 2 days (widespread infringement, critical infrastructure) and
10 days (a death); ISO/IEC 42001:2023 Annex A has 38 controls under nine objectives A.2-A.10 (3, 2, 5, 4, 9, 5, 4, 3
and 3 controls); the NIST AI RMF 1.0 Core has 19 categories (GOVERN 1-6, MAP 1-5, MEASURE 1-4, MANAGE 1-4).
"""

from __future__ import annotations

import re

import pytest

from governance.citations import cite
from obligations.catalogues.loader import CatalogueError, builtin_catalogues, load_catalogue
from obligations.catalogues.schema import EVIDENCE_KINDS, MODEL_CARD_SECTIONS, TIERS
from obligations.status import JUDGES
from registry.models import MODEL_CARD_SECTIONS as REGISTRY_CARD_SECTIONS
from registry.models import RiskTier

CATALOGUES = {name: load_catalogue(text, source=name) for name, text in builtin_catalogues().items()}


def test_the_builtins_are_the_five_frameworks() -> None:
    assert set(CATALOGUES) == {"eu-ai-act-high-risk", "nist-ai-rmf", "nyc-ll144", "iso-42001", "colorado-ai-act"}
    assert CATALOGUES["eu-ai-act-high-risk"].binding
    assert CATALOGUES["nyc-ll144"].binding
    assert CATALOGUES["colorado-ai-act"].binding
    assert not CATALOGUES["nist-ai-rmf"].binding
    assert not CATALOGUES["iso-42001"].binding


def test_the_schema_names_the_registrys_tiers_card_sections_and_every_evidence_kind_has_a_judge() -> None:
    assert set(TIERS) == set(RiskTier.values)
    assert MODEL_CARD_SECTIONS == REGISTRY_CARD_SECTIONS
    assert set(JUDGES) == set(EVIDENCE_KINDS)


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_citation_of_a_builtin_resolves_in_the_citations_catalogue(name: str) -> None:
    for obligation in CATALOGUES[name].obligations:
        for citation_id in obligation.citations:
            assert cite(citation_id).id == citation_id
        assert obligation.labels(), obligation.id


def _articles(role: str) -> set[str]:
    found = set()
    for o in CATALOGUES["eu-ai-act-high-risk"].obligations:
        if role in o.roles:
            for c in o.citations:
                citation = cite(c)
                found.add(f"art-{citation.article}" if citation.article else f"annex-{citation.annex}")
    return found


def test_the_eu_catalogue_covers_the_providers_and_the_deployers_articles() -> None:
    provider = {f"art-{n}" for n in (9, 10, 11, 12, 13, 14, 15, 17, 72, 73)} | {"annex-IV"}
    assert _articles("provider") == provider
    assert _articles("deployer") == {"art-26", "art-27"}
    # Every one of them is an obligation of a high-risk system only.
    assert all(o.tiers == {"high"} for o in CATALOGUES["eu-ai-act-high-risk"].obligations)


def test_the_art_73_citations_carry_the_three_deadlines() -> None:
    assert "15 days" in cite("eu-ai-act/art-73/2").text
    assert "two days" in cite("eu-ai-act/art-73/3").text
    assert "ten days" in cite("eu-ai-act/art-73/4").text
    assert "six months" in cite("eu-ai-act/art-26/6").text
    assert not any(cite(c).text_is_quotation for c in ("eu-ai-act/art-17/1", "eu-ai-act/art-27/1"))


def test_art_27_applies_to_the_annex_iii_points_the_article_names() -> None:
    (fria,) = [o for o in CATALOGUES["eu-ai-act-high-risk"].obligations if "eu-ai-act/art-27/1" in o.citations]
    assert fria.roles == {"deployer"}
    assert set(fria.annex_iii) == {"eu-ai-act/annex-iii/5/b", "eu-ai-act/annex-iii/5/c"}


def test_iso_42001_has_its_38_annex_a_controls_under_nine_objectives() -> None:
    ids = [o.control for o in CATALOGUES["iso-42001"].obligations]
    assert len(ids) == len(set(ids)) == 38
    groups: dict[str, int] = {}
    for control in ids:
        match = re.fullmatch(r"A\.(\d+)\.\d+(?:\.\d+)?", control)
        assert match, control
        groups[match.group(1)] = groups.get(match.group(1), 0) + 1
    assert groups == {"2": 3, "3": 2, "4": 5, "5": 4, "6": 9, "7": 5, "8": 4, "9": 3, "10": 3}
    assert {"A.6.2.8", "A.7.5", "A.10.4", "A.5.2"} <= set(ids)
    # The standard's text is not reproduced: no obligation claims a citation of the ISO text.
    assert all(not o.citations for o in CATALOGUES["iso-42001"].obligations)


def test_nist_ai_rmf_has_its_19_categories_each_citing_its_function() -> None:
    controls = [o.control for o in CATALOGUES["nist-ai-rmf"].obligations]
    expected = [
        f"{f} {n}"
        for f, count in (("GOVERN", 6), ("MAP", 5), ("MEASURE", 4), ("MANAGE", 4))
        for n in range(1, count + 1)
    ]
    assert controls == expected
    for o in CATALOGUES["nist-ai-rmf"].obligations:
        assert o.citations == (f"nist-ai-rmf/{o.control.split()[0].lower()}",)


def test_nyc_ll144_asks_for_the_bias_audit_its_publication_and_the_notices() -> None:
    by_id = {o.id: o for o in CATALOGUES["nyc-ll144"].obligations}
    assert set(by_id) == {"bias-audit", "published-results", "notices"}
    assert "nyc-rcny/5-301/a" in by_id["bias-audit"].citations
    assert "nyc-rcny/5-303" in by_id["published-results"].citations
    assert "nyc-rcny/5-304" in by_id["notices"].citations


def test_colorado_names_each_duty_of_developers_and_deployers_by_its_subsection() -> None:
    # Known answers from SB 24-205: developers C.R.S. § 6-1-1702(1)-(5), deployers § 6-1-1703(1)-(7), § 6-1-1704.
    catalogue = CATALOGUES["colorado-ai-act"]
    cited = {(o.id, c) for o in catalogue.obligations for c in o.citations}
    expected = {
        ("developer-reasonable-care", "C.R.S. § 6-1-1702(1)", "provider"),
        ("developer-documentation", "C.R.S. § 6-1-1702(2)", "provider"),
        ("developer-public-statement", "C.R.S. § 6-1-1702(4)", "provider"),
        ("developer-attorney-general-disclosure", "C.R.S. § 6-1-1702(5)", "provider"),
        ("deployer-reasonable-care", "C.R.S. § 6-1-1703(1)", "deployer"),
        ("risk-management-policy", "C.R.S. § 6-1-1703(2)", "deployer"),
        ("impact-assessment", "C.R.S. § 6-1-1703(3)(a)", "deployer"),
        ("annual-review", "C.R.S. § 6-1-1703(3)(g)", "deployer"),
        ("consumer-notice", "C.R.S. § 6-1-1703(4)(a)", "deployer"),
        ("adverse-decision-explanation-and-appeal", "C.R.S. § 6-1-1703(4)(b)", "deployer"),
        ("deployer-public-statement", "C.R.S. § 6-1-1703(5)", "deployer"),
        ("deployer-attorney-general-disclosure", "C.R.S. § 6-1-1703(7)", "deployer"),
    }
    by_id = {o.id: o for o in catalogue.obligations}
    for obligation_id, label, role in expected:
        assert label in {cite(c).label for i, c in cited if i == obligation_id}, obligation_id
        assert by_id[obligation_id].roles == {role}, obligation_id
    assert "90 days" in cite("crs/6-1-1702/5").text
    assert "90 days" in cite("crs/6-1-1703/7").text
    assert "Attorney General" in cite("crs/6-1-1703/7").text
    # The date is SB 25B-004's, and the records say what was not read, including SB 26-189's repeal.
    assert "30 June 2026" in cite("crs/6-1-1703/1").text
    for record in (cite(c) for o in catalogue.obligations for c in o.citations):
        assert not record.text_is_quotation
        assert "SB 26-189" in record.note, record.id
        assert "not read" in record.note, record.id
    assert "SB 26-189" in catalogue.document["description"]
    assert "not verified" in catalogue.document["description"]


def test_colorado_says_plainly_its_period_ends_when_sb_26_189_replaces_it() -> None:
    # Known answer (coag.gov/resources/ai): SB 26-189 repeals and reenacts the provisions from 1 January 2027.
    catalogue = CATALOGUES["colorado-ai-act"]
    description = " ".join(catalogue.document["description"].split())
    assert description.startswith("Period: this catalogue states SB 24-205's duties as amended by SB 25B-004")
    assert "in effect from 1 January 2027; Assay does not yet model SB 26-189" in description
    assert "Nothing here says what applies after 31 December 2026" in description
    assert "31.12.2026 only" in catalogue.title
    assert "replaced from 1.1.2027 by SB 26-189" in " ".join(catalogue.title.split())
    # A court order reportedly bars enforcing SB 24-205 (X.AI LLC v. Weiser, D. Colo., 27.4.2026): not verified,
    # so the title says it is reported, never that the duties were enforceable from 30.6.2026.
    assert "enforcement reportedly enjoined, unverified" in " ".join(catalogue.title.split())


def test_colorado_states_the_developers_duty_of_care_as_the_act_does_and_adds_no_testing_duty() -> None:
    # Known answer: C.R.S. § 6-1-1702(1) is a duty of reasonable care against known or reasonably foreseeable risks
    # of algorithmic discrimination, with a rebuttable presumption on compliance; it sets no duty to test the system.
    (care,) = [o for o in CATALOGUES["colorado-ai-act"].obligations if o.id == "developer-reasonable-care"]
    assert "reasonable care" in care.summary
    assert "known or reasonably foreseeable risks of algorithmic" in " ".join(care.summary.split())
    assert "rebuttable presumption" in care.summary
    assert not re.search(r"\btest", care.summary, re.IGNORECASE)


def test_the_hash_ignores_comments_and_layout_but_not_a_value() -> None:
    text = builtin_catalogues()["nyc-ll144"]
    again = load_catalogue("# a comment\n" + text)
    assert again.sha256 == CATALOGUES["nyc-ll144"].sha256
    assert again.text_sha256 != CATALOGUES["nyc-ll144"].text_sha256
    changed = load_catalogue(text.replace("within_days: 365", "within_days: 366"))
    assert changed.sha256 != CATALOGUES["nyc-ll144"].sha256


MINIMAL = """\
name: tiny
title: Tiny
framework: Test
binding: true
source: nowhere
description: d
obligations:
  - id: one
    title: One
    summary: s
    citations: [eu-ai-act/art-9]
    applies_to: {tiers: [high], roles: [provider]}
    evidence:
      - {kind: approval}
"""


def test_a_minimal_catalogue_loads() -> None:
    catalogue = load_catalogue(MINIMAL)
    assert [o.id for o in catalogue.obligations] == ["one"]


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (MINIMAL.replace("    summary: s\n", "    sumary: s\n"), 10, "obligations[0].sumary", "did you mean 'summary'"),
        (
            MINIMAL.replace("eu-ai-act/art-9]", "eu-ai-act/art-99]"),
            11,
            "obligations[0].citations[0]",
            "unknown citation",
        ),
        (MINIMAL.replace("tiers: [high]", "tiers: [extreme]"), 12, "obligations[0].applies_to.tiers[0]", "extreme"),
        (
            MINIMAL.replace("roles: [provider]", "roles: [importer]"),
            12,
            "obligations[0].applies_to.roles[0]",
            "importer",
        ),
        (
            MINIMAL.replace("{kind: approval}", "{kind: audit_passed, policy: baseline}"),
            14,
            "obligations[0].evidence[0]",
            "within_days",
        ),
        (
            MINIMAL.replace("{kind: approval}", "{kind: audit_passed, policy: baseline, within_days: 30.0}"),
            14,
            "obligations[0].evidence[0].within_days",
            "integer",
        ),
        (MINIMAL.replace("{kind: approval}", "{kind: telepathy}"), 14, "obligations[0].evidence[0].kind", "telepathy"),
        (
            MINIMAL.replace("{kind: approval}", "{kind: approval, policy: x}"),
            14,
            "obligations[0].evidence[0].policy",
            "unknown key 'policy'",
        ),
        (
            MINIMAL.replace("{kind: approval}", "{kind: model_card_section, section: horoscope}"),
            14,
            "obligations[0].evidence[0].section",
            "horoscope",
        ),
        (MINIMAL.replace("    citations: [eu-ai-act/art-9]\n", ""), 8, "obligations[0]", "needs citations"),
        (MINIMAL.replace("binding: true", "binding: yes"), 4, "binding", "boolean"),
        (MINIMAL.replace("name: tiny", "name: Tiny Catalogue"), 1, "name", "does not match"),
        (MINIMAL + MINIMAL[MINIMAL.index("  - id: one") :], 15, "obligations[1].id", "appears twice"),
        (MINIMAL.replace("id: one", "id: 'one two'"), 8, "obligations[0].id", "does not match"),
        (
            MINIMAL.replace(
                "applies_to: {tiers: [high], roles: [provider]}",
                "applies_to: {tiers: [high], roles: [provider], annex_iii: [eu-ai-act/annex-iii/9]}",
            ),
            12,
            "obligations[0].applies_to.annex_iii[0]",
            "does not match",
        ),
        (MINIMAL.replace("title: Tiny\n", "title: Tiny\ntitle: Other\n"), 3, "", "duplicate"),
    ],
)
def test_a_faulty_catalogue_is_refused_with_its_line_and_field(text: str, line: int, field: str, words: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(text)
    assert caught.value.line == line, caught.value.message
    assert caught.value.field == field, caught.value.message
    assert words in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- a list\n- not a mapping\n",
        "name: [unclosed\n",
        "a: &a [1,1,1,1,1,1,1,1,1]\n"
        + "".join(f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}]*9\n" for i in range(9)),
        "x: " + "y" * 70_000 + "\n",
        b"name: \xff\xfe\n",
        "name: \x00\n",
        "!!python/object:os.system {}\n",
        "[" * 200 + "]" * 200,
    ],
)
def test_hostile_texts_are_refused_as_catalogue_errors(text: str | bytes) -> None:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(text)
    assert caught.value.message
    assert "policy" not in caught.value.message
