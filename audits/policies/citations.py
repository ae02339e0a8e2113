"""A policy's basis cites provisions by id (``citations: [us-29-cfr/1607-4/d]``); each id must be in Assay's
citations catalogue (governance.citations), so a policy cannot cite a provision the catalogue does not hold."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from audits.policies.errors import PolicyError
from audits.policies.reader import Path
from governance.citations import UnknownCitation, all_citations, cite


def check_citations(document: Any, lines: Mapping[Path, int], *, source: str, path: Path = ()) -> None:
    """PolicyError (line and field) naming the first id under a ``citations`` key that the catalogue does not hold.

    The schema allows the key only in a basis, so every ``citations`` list found is a basis's."""
    if isinstance(document, list):
        for index, item in enumerate(document):
            check_citations(item, lines, source=source, path=(*path, index))
        return
    if not isinstance(document, dict):
        return
    for key, item in document.items():
        if key != "citations" or not isinstance(item, list):
            check_citations(item, lines, source=source, path=(*path, key))
            continue
        for index, citation_id in enumerate(item):
            try:
                cite(citation_id)
            except UnknownCitation:
                where = (*path, key, index)
                hint = difflib.get_close_matches(citation_id, [c.id for c in all_citations()], n=1)
                problem = f"unknown citation id {citation_id!r}: not in the citations catalogue (governance/citations/)"
                if hint:
                    problem += f"; did you mean {hint[0]!r}?"
                raise PolicyError.at(problem, line=_line_of(lines, where), path=where, source=source) from None


def _line_of(lines: Mapping[Path, int], path: Path) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)
