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

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"citation id {self.id!r}: use lower-case words separated by '/'")
        if bool(self.article) == bool(self.annex):
            raise ValueError(f"citation {self.id!r}: give either an article or an annex")

    @property
    def pin(self) -> str:
        """The pin cite without the act: "Art. 6(3)(a)", "Art. 6(3), third subparagraph", "Annex III, point 5(c)"."""
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
        """The full citation: "Art. 6(3)(a) of Regulation (EU) 2024/1689"."""
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
            "title": self.title,
            "text": self.text,
            "text_is_quotation": self.text_is_quotation,
            "version": self.version,
            "url": self.url,
            "note": self.note,
        }
