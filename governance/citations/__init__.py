"""The citations catalogue: every legal provision Assay cites, as data, looked up by id.

    from governance.citations import cite
    cite("eu-ai-act/art-6/3/a").label   # "Art. 6(3)(a) of Regulation (EU) 2024/1689"

Code cites a provision only through ``cite("<id>")`` with the id written out, so a wording or date fix is one
change in ``catalogue.py`` and a test (tests/test_citations.py) can check that every id written anywhere resolves.
This package is at the ground floor: it imports nothing from the apps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from governance.citations.catalogue import CATALOGUE, EU_AI_ACT_TEXT_VERSION
from governance.citations.model import Citation
from governance.citations.requirements import REQUIREMENTS

__all__ = [
    "CITE_CALL",
    "EU_AI_ACT_TEXT_VERSION",
    "Citation",
    "UnknownCitation",
    "all_citations",
    "cite",
    "cite_all",
]

# How a citation is referenced in code: cite("eu-ai-act/art-6/3/a"). The test greps the code base with this.
CITE_CALL = re.compile(r"""\bcite\(\s*["']([^"']+)["']\s*\)""")


class UnknownCitation(KeyError):
    """A citation id that is not in the catalogue."""

    def __init__(self, citation_id: str) -> None:
        super().__init__(citation_id)
        self.citation_id = citation_id

    def __str__(self) -> str:
        return f"no citation {self.citation_id!r} in governance/citations/catalogue.py"


def _index(citations: Iterable[Citation]) -> dict[str, Citation]:
    index: dict[str, Citation] = {}
    for citation in citations:
        if citation.id in index:
            raise ValueError(f"citation id {citation.id!r} appears twice in the catalogue")
        index[citation.id] = citation
    return index


_BY_ID = _index((*CATALOGUE, *REQUIREMENTS))


def cite(citation_id: str) -> Citation:
    """The catalogue's citation ``citation_id``; UnknownCitation (a KeyError) when there is none."""
    try:
        return _BY_ID[citation_id]
    except KeyError:
        raise UnknownCitation(citation_id) from None


def cite_all(citation_ids: Iterable[str]) -> list[Citation]:
    """Several citations at once, in the order given (each must exist)."""
    return [cite(c) for c in citation_ids]


def all_citations() -> list[Citation]:
    """Every citation in the catalogue, in catalogue order."""
    return list(_BY_ID.values())
