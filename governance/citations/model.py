"""The record every citation in Assay is made of (pure; no Django)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A citation id is lower-case words separated by "/", e.g. "eu-ai-act/art-6/3/a" or "eu-ai-act/annex-iii/5/c".
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[a-z0-9-]*[a-z0-9])?(?:/[a-z0-9]+(?:[a-z0-9-]*[a-z0-9])?)*$")

_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@dataclass(frozen=True)
class Citation:
    """One provision of one act: where it is, what it says (quoted or summarised) and which text that is.

    ``point`` is the path below the paragraph: ``("a",)`` for Art. 6(3)(a), ``("h", "i")`` for Art. 5(1)(h)(i).
    For an annex, ``annex`` is set (``"III"``), ``article`` and ``paragraph`` are empty and ``point`` starts with
    the annex point's number: ``("5", "c")`` is Annex III, point 5(c).

    Acts that are not cited by article say where a provision is in their own way, one of:
    ``section`` with ``code`` for a codified section (``code="29 CFR"``, ``section="1607.4"``, ``paragraph="D"``
    reads "29 CFR 1607.4(D)"; ``code="6 RCNY §"``, ``section="5-301"``, ``paragraph="b"`` reads "6 RCNY § 5-301(b)",
    and ``term`` names a definition within it); ``recital`` for a recital ("Recital 26 of Regulation (EU) 2016/679");
    ``function`` for a part of a framework ("NIST AI RMF 1.0, MEASURE function"). ``binding`` is False for a
    voluntary framework, and its label says so.
    """

    id: str
    act: str  # "Regulation (EU) 2024/1689"
    title: str  # a short title, e.g. "Derogation: narrow procedural task"
    text: str  # the provision's words
    text_is_quotation: bool  # True: ``text`` is quoted verbatim; False: a summary in our words
    version: str  # the text the wording was read from, e.g. "OJ L, 2024/1689, 12.7.2024"
    url: str
    article: str = ""
    paragraph: str = ""
    point: tuple[str, ...] = ()
    subparagraph: int | None = None
    annex: str = ""
    act_short: str = ""  # "EU AI Act"
    note: str = ""  # what was not verified about this record, said plainly (empty when nothing is open)
    section: str = ""  # a codified section: "1607.4", "20-870", "5-301"
    code: str = ""  # how that code is cited before the section: "29 CFR", "NYC Admin. Code §", "6 RCNY §"
    term: str = ""  # a defined term within the section: "impact ratio"
    recital: str = ""  # "26"
    function: str = ""  # a framework's part: "GOVERN"
    binding: bool = True  # False for a voluntary framework (NIST AI RMF)

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"citation id {self.id!r}: use lower-case words separated by '/'")
        places = [bool(self.article), bool(self.annex), bool(self.section), bool(self.recital), bool(self.function)]
        if sum(places) != 1:
            raise ValueError(
                f"citation {self.id!r}: give either an article or an annex (or exactly one section, recital or "
                "function)"
            )
        if bool(self.section) != bool(self.code):
            raise ValueError(f'citation {self.id!r}: a section needs its code ("29 CFR") and a code its section')

    @property
    def pin(self) -> str:
        """The pin cite without the act: "Art. 6(3)(a)", "Art. 6(3), third subparagraph", "Annex III, point 5(c)";
        for a codified section the whole cite, "6 RCNY § 5-301(b)"; "Recital 26"; "MEASURE function"."""
        if self.section:
            pin = f"{self.code} {self.section}"
            pin += f"({self.paragraph})" if self.paragraph else ""
            pin += "".join(f"({p})" for p in self.point)
            return pin + (f' ("{self.term}")' if self.term else "")
        if self.recital:
            return f"Recital {self.recital}"
        if self.function:
            return f"{self.function} function"
        if self.annex:
            if not self.point:
                return f"Annex {self.annex}"
            head, *rest = self.point
            return f"Annex {self.annex}, point {head}" + "".join(f"({p})" for p in rest)
        pin = f"Art. {self.article}"
        if self.paragraph:
            pin += f"({self.paragraph})"
        pin += "".join(f"({p})" for p in self.point)
        if self.subparagraph:
            pin += f", {_ORDINALS.get(self.subparagraph, str(self.subparagraph))} subparagraph"
        return pin

    @property
    def label(self) -> str:
        """The full citation: "Art. 6(3)(a) of Regulation (EU) 2024/1689", "29 CFR 1607.4(D)",
        "NIST AI RMF 1.0, MEASURE function (voluntary framework)"."""
        if self.section:
            return self.pin  # a code cite names its code already
        if self.function:
            return f"{self.act}, {self.pin}" + ("" if self.binding else " (voluntary framework)")
        if self.annex:
            return f"{self.pin}, to {self.act}"
        if self.subparagraph:
            return f"{self.pin}, of {self.act}"
        return f"{self.pin} of {self.act}"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy (for stored classifications, reports and the API)."""
        return {
            "id": self.id,
            "label": self.label,
            "act": self.act,
            "article": self.article,
            "paragraph": self.paragraph,
            "point": list(self.point),
            "subparagraph": self.subparagraph,
            "annex": self.annex,
            "section": self.section,
            "code": self.code,
            "term": self.term,
            "recital": self.recital,
            "function": self.function,
            "binding": self.binding,
            "title": self.title,
            "text": self.text,
            "text_is_quotation": self.text_is_quotation,
            "version": self.version,
            "url": self.url,
            "note": self.note,
        }
