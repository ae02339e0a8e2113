"""The citations catalogue: every legal provision Assay cites, as data, looked up by id.

    from governance.citations import cite
    cite("eu-ai-act/art-6/3/a").label   # "Art. 6(3)(a) of Regulation (EU) 2024/1689"

Code cites a provision only through ``cite("<id>")`` with the id written out, so a wording or date fix is one
change in the catalogue and a test (tests/test_citations.py) can check that every id written anywhere resolves.
This package is at the ground floor: it imports nothing from the apps.

One module per act: ``catalogue.py``, ``requirements.py`` and ``obligations.py`` (EU AI Act), ``us_ugesp.py`` (29 CFR
1607.4(D), 41 CFR 60-3.4(D)), ``nyc_ll144.py`` (NYC Admin. Code §§ 20-870, 20-871; 6 RCNY §§ 5-300 to 5-304),
``gdpr.py`` (Regulation (EU) 2016/679), ``nist_ai_rmf.py`` (NIST AI RMF 1.0, voluntary) and ``colorado_ai_act.py``
(C.R.S. §§ 6-1-1701 to 6-1-1707). A new act is a new
module, added to ``_BY_ID``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from governance.citations.catalogue import CATALOGUE, EU_AI_ACT_TEXT_VERSION
from governance.citations.colorado_ai_act import COLORADO_AI_ACT
from governance.citations.gdpr import GDPR_CITATIONS
from governance.citations.model import Citation
from governance.citations.nist_ai_rmf import NIST_AI_RMF_CITATIONS
from governance.citations.nyc_ll144 import NYC_LL144
from governance.citations.obligations import OBLIGATION_CITATIONS
from governance.citations.requirements import PINS, REQUIREMENTS
from governance.citations.us_ugesp import UGESP_CITATIONS

__all__ = [
    "CITE_CALL",
    "EU_AI_ACT_TEXT_VERSION",
    "Citation",
    "UnknownCitation",
    "all_citations",
    "cite",
    "cite_all",
    "labels",
]

# How a citation is referenced in code: cite("eu-ai-act/art-6/3/a"). The test greps the code base with this.
CITE_CALL = re.compile(r"""\bcite\(\s*["']([^"']+)["']\s*\)""")


class UnknownCitation(KeyError):
    """A citation id that is not in the catalogue."""

    def __init__(self, citation_id: str) -> None:
        super().__init__(citation_id)
        self.citation_id = citation_id

    def __str__(self) -> str:
        return f"no citation {self.citation_id!r} in the citations catalogue (governance/citations/)"


def _index(citations: Iterable[Citation]) -> dict[str, Citation]:
    index: dict[str, Citation] = {}
    for citation in citations:
        if citation.id in index:
            raise ValueError(f"citation id {citation.id!r} appears twice in the catalogue")
        index[citation.id] = citation
    return index


# One tuple per act's module; a new act is one more entry here.
_MODULES = (
    CATALOGUE,
    REQUIREMENTS,
    PINS,
    OBLIGATION_CITATIONS,
    UGESP_CITATIONS,
    NYC_LL144,
    GDPR_CITATIONS,
    NIST_AI_RMF_CITATIONS,
    COLORADO_AI_ACT,
)
_BY_ID = _index(citation for module in _MODULES for citation in module)


def cite(citation_id: str) -> Citation:
    """The catalogue's citation ``citation_id``; UnknownCitation (a KeyError) when there is none."""
    try:
        return _BY_ID[citation_id]
    except KeyError:
        raise UnknownCitation(citation_id) from None


def cite_all(citation_ids: Iterable[str]) -> list[Citation]:
    """Several citations at once, in the order given (each must exist)."""
    return [cite(c) for c in citation_ids]


def labels(citation_ids: Iterable[str]) -> str:
    """The labels of several citations joined with "; ", for a sentence that cites more than one provision."""
    return "; ".join(c.label for c in cite_all(citation_ids))


def all_citations() -> list[Citation]:
    """Every citation in the catalogue, in catalogue order."""
    return list(_BY_ID.values())
