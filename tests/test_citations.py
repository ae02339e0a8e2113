"""The citations catalogue (governance.citations): ids resolve, labels read as the Act is cited, ids in code exist.

Known answers come from the Act itself: Art. 6(3) has points (a) to (d) and three subparagraphs, Annex III has
eight points with the letters printed below, Art. 5(1) has points (a) to (h) and, since Regulation (EU) 2026/1744,
(ba) and (bb).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from audits.ll144 import META_FIELDS, STATUS_NOTES
from governance.citations import CITE_CALL, Citation, UnknownCitation, all_citations, cite, cite_all
from governance.citations.model import ID_PATTERN

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("governance", "registry", "audits", "obligations", "templates", "docs")
ACT_PREFIXES = sorted({c.id.split("/", 1)[0] for c in all_citations()})
# A quoted string that looks like a citation id of an act the catalogue knows: "eu-ai-act/art-6/3/a".
_PREFIXES = "|".join(re.escape(p) for p in ACT_PREFIXES)
QUOTED_ID = re.compile(r"""["']((?:""" + _PREFIXES + r""")/[a-z0-9/-]+)["']""")
CATALOGUE_DIR = ROOT / "governance" / "citations"  # where ids are defined, not referenced


def _code_files() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        for suffix in ("*.py", "*.html", "*.yaml", "*.yml", "*.md", "*.txt"):
            files += [
                p for p in (ROOT / top).rglob(suffix) if "__pycache__" not in p.parts and CATALOGUE_DIR not in p.parents
            ]
    return files


def _yaml_citation_lists(value: object) -> list[str]:
    """Every id under a ``citations:`` key of a parsed YAML document (a policy basis cites by these lists)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "citations" and isinstance(item, list):
                found += [str(i) for i in item]
            else:
                found += _yaml_citation_lists(item)
    elif isinstance(value, list):
        for item in value:
            found += _yaml_citation_lists(item)
    return found


def _referenced_ids() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _code_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        where = str(path.relative_to(ROOT))
        for pattern in (CITE_CALL, QUOTED_ID):
            for match in pattern.finditer(text):
                found.setdefault(match.group(1), []).append(where)
        if path.suffix in (".yaml", ".yml"):
            # Unquoted ids in a YAML list (citations: [us-29-cfr/1607-4/d]) are read by parsing, not by pattern.
            for cid in _yaml_citation_lists(yaml.safe_load(text)):
                found.setdefault(cid, []).append(where)
    return found


def test_every_citation_id_written_in_the_code_resolves_in_the_catalogue() -> None:
    referenced = _referenced_ids()
    assert referenced, "the scan found no citation at all: the pattern or the scanned folders are wrong"
    missing = {
        cid: sorted(set(paths)) for cid, paths in referenced.items() if cid not in {c.id for c in all_citations()}
    }
    assert missing == {}


def test_the_scan_sees_the_risk_questionnaire_citations() -> None:
    # The scan must reach the registry.risk package (the questionnaire's options and the classifier's rules), or the
    # test above proves nothing about the classifier.
    paths = {p for ps in _referenced_ids().values() for p in ps}
    assert {"registry/risk/questions.py", "registry/risk/classify.py"} <= paths


def test_the_scan_sees_the_policies_the_ll144_summary_and_the_gdpr_answers() -> None:
    # Every surface that cites must be reached by the scan, each by the form it cites in.
    paths = {p for ps in _referenced_ids().values() for p in ps}
    for builtin in ("four-fifths", "nyc-ll144", "eu-ai-act-high-risk", "baseline"):
        assert f"audits/policies/builtin/{builtin}.yaml" in paths
    assert {"audits/ll144.py", "audits/reports/document/ll144.py", "governance/data/subject_access.py"} <= paths


def test_the_yaml_scan_reads_unquoted_citation_lists() -> None:
    document = yaml.safe_load(
        "checks:\n  x:\n    basis:\n      text: t\n      citation: c\n"
        "      citations: [us-29-cfr/1607-4/d, nyc-rcny/5-301/e]\n"
    )
    ids = _yaml_citation_lists(document)
    assert ids == ["us-29-cfr/1607-4/d", "nyc-rcny/5-301/e"]
    cite(ids[0])
    with pytest.raises(UnknownCitation):
        cite(ids[1])


def test_the_scan_would_catch_a_misspelt_id(tmp_path: Path) -> None:
    sample = 'x = cite("eu-ai-act/art-6/3/e")\ny = "eu-ai-act/annex-iii/9"\n'
    ids = [m.group(1) for pat in (CITE_CALL, QUOTED_ID) for m in pat.finditer(sample)]
    assert ids == ["eu-ai-act/art-6/3/e", "eu-ai-act/art-6/3/e", "eu-ai-act/annex-iii/9"]
    for cid in set(ids):
        with pytest.raises(UnknownCitation):
            cite(cid)


@pytest.mark.parametrize(
    ("cid", "label"),
    [
        ("eu-ai-act/art-6/3/a", "Art. 6(3)(a) of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-6/4", "Art. 6(4) of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-49/2", "Art. 49(2) of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-5/1/h/iii", "Art. 5(1)(h)(iii) of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-5/1/ba", "Art. 5(1)(ba) of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-6/3/sub-3", "Art. 6(3), third subparagraph, of Regulation (EU) 2024/1689"),
        ("eu-ai-act/art-50/4/sub-2", "Art. 50(4), second subparagraph, of Regulation (EU) 2024/1689"),
        ("eu-ai-act/annex-iii/5/c", "Annex III, point 5(c), to Regulation (EU) 2024/1689"),
        ("eu-ai-act/annex-iii/2", "Annex III, point 2, to Regulation (EU) 2024/1689"),
        ("eu-ai-act/annex-i", "Annex I, to Regulation (EU) 2024/1689"),
        # Codes are cited as their own publications cite them.
        ("us-29-cfr/1607-4/d", "29 CFR 1607.4(D)"),
        ("us-41-cfr/60-3-4/d", "41 CFR 60-3.4(D)"),
        ("nyc-admin-code/20-870", "NYC Admin. Code § 20-870"),
        ("nyc-admin-code/20-871", "NYC Admin. Code § 20-871"),
        ("nyc-rcny/5-300/impact-ratio", '6 RCNY § 5-300 ("impact ratio")'),
        ("nyc-rcny/5-301/d", "6 RCNY § 5-301(d)"),
        ("nyc-rcny/5-301/b/3/iii", "6 RCNY § 5-301(b)(3)(iii)"),
        ("nyc-rcny/5-302/b", "6 RCNY § 5-302(b)"),
        ("nyc-rcny/5-303/a", "6 RCNY § 5-303(a)"),
        ("gdpr/art-15/1/h", "Art. 15(1)(h) of Regulation (EU) 2016/679"),
        ("gdpr/art-4/5", "Art. 4(5) of Regulation (EU) 2016/679"),
        ("gdpr/recital-26", "Recital 26 of Regulation (EU) 2016/679"),
        ("nist-ai-rmf/measure", "NIST AI RMF 1.0, MEASURE function (voluntary framework)"),
    ],
)
def test_labels_read_as_the_act_is_cited(cid: str, label: str) -> None:
    assert cite(cid).label == label


def test_the_catalogue_holds_the_acts_structure() -> None:
    ids = {c.id for c in all_citations()}
    art5 = {f"eu-ai-act/art-5/1/{p}" for p in ("a", "b", "ba", "bb", "c", "d", "e", "f", "g", "h")}
    art63 = {f"eu-ai-act/art-6/3/{p}" for p in "abcd"}
    annex_iii = {
        f"eu-ai-act/annex-iii/{point}/{letter}"
        for point, letters in {
            "1": "abc",
            "3": "abcd",
            "4": "ab",
            "5": "abcd",
            "6": "abcde",
            "7": "abcd",
            "8": "ab",
        }.items()
        for letter in letters
    } | {"eu-ai-act/annex-iii/2"}
    art50 = {
        "eu-ai-act/art-50/1",
        "eu-ai-act/art-50/2",
        "eu-ai-act/art-50/3",
        "eu-ai-act/art-50/4",
        "eu-ai-act/art-50/4/sub-2",
    }
    assert art5 | art63 | annex_iii | art50 | {"eu-ai-act/art-6/1", "eu-ai-act/art-6/4", "eu-ai-act/art-49/2"} <= ids


def test_wording_that_issue_27_found_missing_is_in_the_catalogue() -> None:
    assert "economic situation" in cite("eu-ai-act/art-5/1/b").text
    assert "unrelated to the contexts" in cite("eu-ai-act/art-5/1/c").text
    assert "personality traits" in cite("eu-ai-act/art-5/1/d").text
    assert "life and health insurance" in cite("eu-ai-act/annex-iii/5/c").text
    assert cite("eu-ai-act/annex-iii/1/c").text == "AI systems intended to be used for emotion recognition"
    for point in "abcdefg":
        assert cite(f"eu-ai-act/art-5/1/{point}").text.startswith("the placing on the market, the putting into service")
    assert "Article 49(2)" in cite("eu-ai-act/art-6/4").text


def test_every_record_names_its_text_version_and_a_url() -> None:
    for c in all_citations():
        if c.act == "Regulation (EU) 2024/1689":
            assert re.match(r"^OJ L, 20\d\d/\d+, \d{1,2}\.\d{1,2}\.20\d\d", c.version), c.id
            assert c.url.startswith("https://eur-lex.europa.eu/"), c.id
        assert c.version, c.id
        assert c.url.startswith("https://"), c.id
        assert c.title, c.id
        assert c.text, c.id
        assert c.as_dict()["label"] == c.label


def test_the_catalogue_knows_the_other_acts_assay_cites() -> None:
    ids = {c.id for c in all_citations()}
    gdpr = {f"gdpr/art-15/1/{p}" for p in "abcdefgh"} | {
        f"gdpr/{a}" for a in ("art-4/5", "art-15/2", "art-15/3", "art-17", "art-21", "art-22", "art-77", "recital-26")
    }
    ll144 = {"nyc-admin-code/20-870", "nyc-admin-code/20-871"} | {
        f"nyc-rcny/{s}" for s in ("5-300", "5-301/a", "5-301/b", "5-301/c", "5-301/d", "5-302", "5-303", "5-304")
    }
    nist = {f"nist-ai-rmf/{f}" for f in ("govern", "map", "measure", "manage")}
    assert gdpr | ll144 | nist | {"us-29-cfr/1607-4/d", "us-41-cfr/60-3-4/d"} <= ids


def test_the_four_fifths_rule_is_quoted_and_the_nist_framework_is_marked_voluntary() -> None:
    four_fifths = cite("us-29-cfr/1607-4/d")
    assert four_fifths.text_is_quotation
    assert "less than four-fifths (4/5) (or eighty percent) of the rate for the group with the highest rate" in (
        four_fifths.text
    )
    for function in ("govern", "map", "measure", "manage"):
        record = cite(f"nist-ai-rmf/{function}")
        assert record.binding is False
        assert record.as_dict()["binding"] is False
        assert "voluntary" in record.label
    assert all(c.binding for c in all_citations() if not c.id.startswith("nist-ai-rmf/"))


def test_a_summary_says_it_is_one_and_says_what_was_not_verified() -> None:
    for c in all_citations():
        if not c.id.startswith(("us-", "nyc-", "gdpr/", "nist-")):
            continue
        if not c.text_is_quotation:
            assert c.note, f"{c.id}: a summary needs a note saying what was not verified"


def test_an_unknown_id_is_refused_by_name() -> None:
    with pytest.raises(UnknownCitation) as caught:
        cite("eu-ai-act/art-6/3/e")
    assert "eu-ai-act/art-6/3/e" in str(caught.value)
    assert isinstance(caught.value, KeyError)
    with pytest.raises(UnknownCitation):
        cite_all(["eu-ai-act/art-6/4", "eu-ai-act/art-99"])


def test_records_refuse_malformed_ids_and_locations() -> None:
    common = {
        "act": "Regulation (EU) 2024/1689",
        "title": "t",
        "text": "x",
        "text_is_quotation": True,
        "version": "OJ L, 2024/1689, 12.7.2024",
        "url": "https://eur-lex.europa.eu/",
    }
    with pytest.raises(ValueError, match="lower-case"):
        Citation(id="EU/Art 6", article="6", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either an article or an annex"):
        Citation(id="x/y", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either an article or an annex"):
        Citation(id="x/y", article="1", recital="2", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs its code"):
        Citation(id="x/y", section="5-301", **common)  # type: ignore[arg-type]
    assert ID_PATTERN.match("eu-ai-act/annex-iii/5/c")


# Free-text pins that must come from the catalogue in these modules: a string in the code (not a docstring or a
# comment) that writes one out by hand would be a citation the catalogue cannot correct.
HAND_WRITTEN_PIN = re.compile(r"RCNY §|Admin\. Code §|\bCFR\b|\bArt\. \d|Recital \d")
CITING_MODULES = ("audits/ll144.py", "audits/reports/document/ll144.py", "governance/data/subject_access.py")


def _strings_outside_docstrings(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add(id(value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("module", CITING_MODULES)
def test_the_ll144_summary_and_the_gdpr_answers_write_no_pin_by_hand(module: str) -> None:
    strings = _strings_outside_docstrings((ROOT / module).read_text(encoding="utf-8"))
    assert strings, "the module has no strings: the scan is wrong"
    assert [(line, text) for line, text in strings if HAND_WRITTEN_PIN.search(text)] == []


def test_the_hand_written_pin_scan_catches_one() -> None:
    sample = '"""Doc: 6 RCNY § 5-301."""\nX = "(6 RCNY § 5-301(d))"\nY = f"{a} GDPR Art. 17"\n'
    found = _strings_outside_docstrings(sample)
    assert [text for _, text in found if HAND_WRITTEN_PIN.search(text)] == ["(6 RCNY § 5-301(d))", " GDPR Art. 17"]


def test_the_ll144_fields_and_the_gdpr_items_carry_catalogue_labels() -> None:
    known = {c.label for c in all_citations()}
    for key, (_what, where) in META_FIELDS.items():
        assert all(part in known for part in where.split("; ") if where), key
    assert META_FIELDS["distribution_date"][1] == "6 RCNY § 5-303(a)"
    assert META_FIELDS["test_data_explanation"][1] == "6 RCNY § 5-302(b)"
    assert '6 RCNY § 5-300 ("independent auditor")' in META_FIELDS["auditor_statement"][0]
    assert STATUS_NOTES["excluded_below_share"].endswith("(6 RCNY § 5-301(d))")


def test_the_gdpr_access_points_are_quoted_as_the_regulation_words_them() -> None:
    # Known answers from Art. 15(1) GDPR: (a) is "the purposes of the processing"; (h) refers to Art. 22(1), (4).
    assert cite("gdpr/art-15/1/a").text == "the purposes of the processing"
    assert cite("gdpr/art-15/1/a").text_is_quotation
    assert "referred to in Article 22(1) and (4)" in cite("gdpr/art-15/1/h").text
    assert cite("gdpr/art-15/1").text.endswith("access to the personal data and the following information:")
    assert not cite("gdpr/art-15/2").text_is_quotation  # cut to the item, so not a quotation


def test_colorado_enforcement_is_an_unfair_trade_practice_as_sb_24_205_enacted_it() -> None:
    # Known answer: C.R.S. § 6-1-1706(2) as enacted by SB 24-205 makes a violation an unfair trade practice under
    # § 6-1-105(1)(hhhh); "deceptive" is SB 26-189's reenacted wording, from 1 January 2027.
    record = cite("crs/6-1-1706")
    assert "unfair trade practice under § 6-1-105(1)(hhhh)" in record.text
    assert "deceptive" not in record.text
    assert not record.text_is_quotation
    assert "not read" in record.note
    assert "SB 26-189" in record.note
