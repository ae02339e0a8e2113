"""A tagged PDF (ISO 32000-1, 14.8) from reportlab, which has no tagging of its own. Pure: no Django.

Open-source reportlab writes no structure tree and no marked content, so a screen reader gets the pages' text in
drawing order with no headings, figures or tables. Two steps add them:

1. While the report is laid out, :class:`TaggedFrame` wraps each flowable it draws in marked content
   (``/H1 <</MCID n>> BDC ... EMC``) and records (page, MCID, structure type, alternative text): headings by their
   style (H1-H3), figures (with their caption as ``/Alt``), tables, the table of contents, captions and paragraphs.
   The page footer is marked ``/Artifact`` (not content).
2. :func:`add_structure` rewrites the finished PDF with pypdf: a ``/StructTreeRoot`` holding one ``/Document``
   element with a structure element per recorded piece in reading order, the ``/ParentTree`` that maps each page's
   MCIDs back to their elements, ``/StructParents`` and ``/Tabs /S`` on each page, and ``/MarkInfo <</Marked true>>``.

Limits, said plainly: a table is one ``/Table`` element without ``/TR``/``/TH``/``/TD`` children (reportlab draws
a table's cells in one pass that this cannot see into), and a paragraph split over two pages is two elements. That is
a tagged PDF, not a PDF/UA-conformant one; WeasyPrint's PDF/UA output (``pdf_variant="pdf/ua-1"``) or ReportLab's
commercial tagging would give table cells their tags.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

HEADINGS = {"H1": "H1", "H2": "H2", "H3": "H3", "title": "Title", "caption": "Caption"}


@dataclass(frozen=True)
class Tagged:
    """One piece of marked content: which page (0-based), its MCID on that page, its structure type, its /Alt."""

    page: int
    mcid: int
    tag: str
    alt: str = ""


def structure_type(flowable: Any) -> str | None:
    """The structure type of what ``flowable`` draws, or None for what draws nothing (spacers, page breaks)."""
    name = type(flowable).__name__
    if name in {"Spacer", "CondPageBreak", "PageBreak", "NullDraw", "ActionFlowable"}:
        return None
    if name == "Image":
        return "Figure"
    if name == "Table":
        return "Table"
    if name == "TableOfContents":
        return "TOC"
    style = getattr(getattr(flowable, "style", None), "name", "")
    return HEADINGS.get(style, "P")


def make_tagged_frame(base: Any) -> Any:
    """A reportlab ``Frame`` subclass of ``base`` that marks each flowable it draws (see the module's docstring).
    The document resets ``frame.tags`` at each build pass (multiBuild lays the report out more than once)."""

    class TaggedFrame(base):  # type: ignore[misc, valid-type]
        tags: list[Tagged]

        def add(self, flowable: Any, canv: Any, trySplit: int = 0) -> int:
            tag = structure_type(flowable)
            if tag is None:
                return int(super().add(flowable, canv, trySplit=trySplit))
            page = canv.getPageNumber() - 1
            mcid = sum(1 for t in self.tags if t.page == page)
            mark = len(canv._code)
            canv._code.append(f"/{tag} <</MCID {mcid}>> BDC")
            drawn = super().add(flowable, canv, trySplit=trySplit)
            if not drawn:  # it did not fit: nothing was drawn, so nothing is marked
                del canv._code[mark:]
                return 0
            canv._code.append("EMC")
            self.tags.append(Tagged(page, mcid, tag, getattr(flowable, "alt_text", "")))
            return int(drawn)

    return TaggedFrame


def begin_artifact(canv: Any) -> None:
    canv._code.append("/Artifact BMC")


def end_artifact(canv: Any) -> None:
    canv._code.append("EMC")


def add_structure(pdf: bytes, tags: list[Tagged], *, lang: str = "en") -> bytes:
    """``pdf`` with the structure tree of ``tags`` (in reading order) and the catalog's /MarkInfo."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        BooleanObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    root = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    root_ref = writer._add_object(root)
    document = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/StructElem"),
            NameObject("/S"): NameObject("/Document"),
            NameObject("/P"): root_ref,
            NameObject("/Lang"): TextStringObject(lang),
        }
    )
    document_ref = writer._add_object(document)
    children = ArrayObject()
    per_page: dict[int, dict[int, Any]] = {}
    for tag in tags:
        page = writer.pages[tag.page]
        element = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/StructElem"),
                NameObject("/S"): NameObject(f"/{tag.tag}"),
                NameObject("/P"): document_ref,
                NameObject("/Pg"): page.indirect_reference,
                NameObject("/K"): NumberObject(tag.mcid),
            }
        )
        if tag.alt:
            element[NameObject("/Alt")] = TextStringObject(tag.alt)
        element_ref = writer._add_object(element)
        children.append(element_ref)
        per_page.setdefault(tag.page, {})[tag.mcid] = element_ref
    document[NameObject("/K")] = children
    nums = ArrayObject()
    for index, page in enumerate(writer.pages):
        page[NameObject("/StructParents")] = NumberObject(index)
        page[NameObject("/Tabs")] = NameObject("/S")
        marked = per_page.get(index, {})
        nums.append(NumberObject(index))
        nums.append(writer._add_object(ArrayObject(marked[m] for m in sorted(marked))))
    root[NameObject("/K")] = document_ref
    root[NameObject("/ParentTree")] = writer._add_object(DictionaryObject({NameObject("/Nums"): nums}))
    root[NameObject("/ParentTreeNextKey")] = NumberObject(len(writer.pages))
    writer._root_object[NameObject("/StructTreeRoot")] = root_ref
    writer._root_object[NameObject("/MarkInfo")] = DictionaryObject({NameObject("/Marked"): BooleanObject(True)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
