"""The report's building blocks: fonts, paragraph styles, the page template ("Page N of M", outline, table of
contents), the ``_Builder`` that sections append to, and the text helpers every section uses (``esc``,
``fmt_number``, ``fmt_interval``). Pure: no Django.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from audits.reports.charts.core import Chart
from audits.reports.document.tagging import begin_artifact, end_artifact, make_tagged_frame

# Binary Flate streams, not ASCII85 text over them: ASCII85 only matters for 7-bit channels (PDFs are binary anyway),
# makes every image and page stream 25% larger, and without reportlab's optional C accelerator it is pure Python, the
# costliest step of the layout. (reportlab's setting is process-wide; only this package uses reportlab.)
ASCII85_STREAMS = False
# One-line text cells of tables as plain strings (see ``_Builder.table``); the benchmark turns it off to compare.
PLAIN_TEXT_CELLS = True


OUTCOME_WORDS = {"pass": "PASS", "fail": "FAIL", "insufficient_evidence": "INSUFFICIENT EVIDENCE"}
OUTCOME_COLOURS = {"pass": "#00704A", "fail": "#B23A00", "insufficient_evidence": "#8A6100"}


def esc(value: Any) -> str:
    """Any value as text safe inside a reportlab paragraph (people's text is never markup)."""
    return escape("" if value is None else str(value))


def fmt_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def fmt_interval(interval: Any) -> str:
    if not interval or interval[0] is None or interval[1] is None:
        return ""
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


# --- fonts and styles -----------------------------------------------------------------------------------------

_FONTS: dict[str, str] = {}


def _fonts() -> dict[str, str]:
    """Register DejaVu (matplotlib ships it) once; fall back to the PDF base fonts when it is missing."""
    if _FONTS:
        return _FONTS
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    try:
        import matplotlib

        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        for name, file in (
            ("DejaVu", "DejaVuSans.ttf"),
            ("DejaVu-Bold", "DejaVuSans-Bold.ttf"),
            ("DejaVu-Oblique", "DejaVuSans-Oblique.ttf"),
            ("DejaVuMono", "DejaVuSansMono.ttf"),
        ):
            pdfmetrics.registerFont(TTFont(name, str(folder / file)))
        pdfmetrics.registerFontFamily(
            "DejaVu", normal="DejaVu", bold="DejaVu-Bold", italic="DejaVu-Oblique", boldItalic="DejaVu-Bold"
        )
        _FONTS.update(normal="DejaVu", bold="DejaVu-Bold", italic="DejaVu-Oblique", mono="DejaVuMono")
    except Exception:  # no TrueType font: the base fonts still give real text (Latin-1 only)
        _FONTS.update(normal="Helvetica", bold="Helvetica-Bold", italic="Helvetica-Oblique", mono="Courier")
    return _FONTS


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    fonts = _fonts()
    base = ParagraphStyle("body", fontName=fonts["normal"], fontSize=9, leading=12, spaceAfter=4)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9, spaceAfter=0),
        "cellbold": ParagraphStyle(
            "cellbold", parent=base, fontName=fonts["bold"], fontSize=7.5, leading=9, spaceAfter=0
        ),
        "mono": ParagraphStyle("mono", parent=base, fontName=fonts["mono"], fontSize=6.5, leading=8, spaceAfter=0),
        "H1": ParagraphStyle(
            "H1",
            parent=base,
            fontName=fonts["bold"],
            fontSize=15,
            leading=19,
            spaceBefore=4,
            spaceAfter=8,
            textColor=colors.HexColor("#1F3A5F"),
        ),
        "H2": ParagraphStyle(
            "H2",
            parent=base,
            fontName=fonts["bold"],
            fontSize=11.5,
            leading=15,
            spaceBefore=8,
            spaceAfter=5,
            textColor=colors.HexColor("#1F3A5F"),
        ),
        "H3": ParagraphStyle(
            "H3", parent=base, fontName=fonts["bold"], fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=3
        ),
        "title": ParagraphStyle("title", parent=base, fontName=fonts["bold"], fontSize=24, leading=30, spaceAfter=14),
        "verdict": ParagraphStyle(
            "verdict", parent=base, fontName=fonts["bold"], fontSize=20, leading=26, spaceBefore=10, spaceAfter=10
        ),
        "caption": ParagraphStyle(
            "caption",
            parent=base,
            fontName=fonts["italic"],
            fontSize=7.5,
            leading=9.5,
            textColor=colors.HexColor("#444444"),
        ),
        "toc1": ParagraphStyle("toc1", parent=base, fontSize=9.5, leading=13, leftIndent=10, firstLineIndent=-10),
        "toc2": ParagraphStyle("toc2", parent=base, fontSize=8.5, leading=11, leftIndent=28, firstLineIndent=-10),
    }


# --- the document template: page numbers, outline, table of contents ------------------------------------------


def _make_classes() -> tuple[Any, Any]:
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    TaggedFrame = make_tagged_frame(Frame)

    class NumberedCanvas(Canvas):
        """Holds every page until the end, so each can say "Page N of M"."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []
            self.footer_left = ""

        def showPage(self) -> None:
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            fonts = _fonts()
            width, _ = self._pagesize
            begin_artifact(self)  # the footer is page furniture, not content (tagged PDF)
            self.saveState()
            self.setFont(fonts["normal"], 7.5)
            self.setFillGray(0.35)
            self.drawRightString(width - 18 * mm, 10 * mm, f"Page {self._pageNumber} of {total}")
            self.drawString(18 * mm, 10 * mm, self.footer_left)
            self.restoreState()
            end_artifact(self)

    class ReportTemplate(BaseDocTemplate):
        """A4 portrait, one frame; headings become bookmarks, outline entries and table-of-contents entries."""

        def __init__(self, buffer: Any, *, footer: str, **kwargs: Any) -> None:
            super().__init__(buffer, **kwargs)
            self.footer = footer
            frame = TaggedFrame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
            frame.tags = []
            self.tagged = frame  # what it marked: the structure tree's content (audits.reports.document.tagging)
            self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._on_page)])
            self._headings = 0

        def _on_page(self, canvas: Any, doc: Any) -> None:
            canvas.footer_left = self.footer

        def afterFlowable(self, flowable: Any) -> None:
            style = getattr(getattr(flowable, "style", None), "name", "")
            if style not in ("H1", "H2"):
                return
            level = 0 if style == "H1" else 1
            text = flowable.getPlainText()
            self._headings += 1
            key = f"h{self._headings}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
            self.notify("TOCEntry", (level, text, self.page, key))

        def handle_documentBegin(self) -> None:
            self._headings = 0
            self.tagged.tags = []  # each pass of multiBuild lays the report out again
            super().handle_documentBegin()

    return NumberedCanvas, ReportTemplate


# --- building blocks ------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        from reportlab.lib import colors
        from reportlab.lib.units import mm

        self.styles = _styles()
        self.colors = colors
        self.mm = mm
        self.story: list[Any] = []
        self.width = 210 * mm - 36 * mm

    def h1(self, text: str) -> None:
        from reportlab.platypus import CondPageBreak, Paragraph

        self.story.append(CondPageBreak(60 * self.mm))
        self.story.append(Paragraph(esc(text), self.styles["H1"]))

    def h2(self, text: str) -> None:
        from reportlab.platypus import CondPageBreak, Paragraph

        self.story.append(CondPageBreak(35 * self.mm))
        self.story.append(Paragraph(esc(text), self.styles["H2"]))

    def h3(self, text: str) -> None:
        from reportlab.platypus import CondPageBreak, Paragraph

        self.story.append(CondPageBreak(25 * self.mm))
        self.story.append(Paragraph(esc(text), self.styles["H3"]))

    def para(self, markup: str, style: str = "body") -> None:
        """A paragraph of markup the caller built (escape people's text with ``esc``)."""
        from reportlab.platypus import Paragraph

        self.story.append(Paragraph(markup, self.styles[style]))

    def text(self, value: Any, style: str = "body") -> None:
        self.para(esc(value), style)

    def outcome(self, outcome: str | None) -> str:
        word = OUTCOME_WORDS.get(outcome or "", esc(outcome or "none"))
        colour = OUTCOME_COLOURS.get(outcome or "", "#333333")
        return f'<font color="{colour}"><b>{word}</b></font>'

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        widths: Sequence[float] | None = None,
        mono_columns: Sequence[int] = (),
    ) -> None:
        """A table with a repeated header row; cells are text (escaped) or prepared markup (``_Markup``).

        Text that fits on one line of a column of known width is a plain string cell, drawn by the table in the
        same font, size and place as a paragraph would draw it (same baseline, same row height), at a fraction of
        the cost: large tables (trail events, group rates) are most of a report's layout time. Anything else
        (markup, text that wraps, whitespace a paragraph would fold) stays a paragraph.
        """
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

        if not rows:
            self.text("(none)", "small")
            return
        styles = self.styles
        total = self.width
        col_widths = [total * w for w in widths] if widths else None
        padding = 3 + 3  # LEFTPADDING + RIGHTPADDING below

        def cell(value: Any, column: int, bold: bool = False) -> Any:
            if isinstance(value, _Markup):
                return Paragraph(value.text, styles["cell"])
            style = styles["mono"] if column in mono_columns and not bold else styles["cellbold" if bold else "cell"]
            text = "" if value is None else str(value)
            if (
                PLAIN_TEXT_CELLS
                and col_widths is not None
                and text
                and text == " ".join(text.split())
                and stringWidth(text, style.fontName, style.fontSize) < col_widths[column] - padding
            ):
                return text
            return Paragraph(esc(text), style)

        data = [[cell(h, i, bold=True) for i, h in enumerate(header)]]
        data += [[cell(v, i) for i, v in enumerate(row)] for row in rows]
        fonts = [
            ("FONT", (0, 1), (-1, -1), styles["cell"].fontName, styles["cell"].fontSize, styles["cell"].leading),
            *(
                ("FONT", (c, 1), (c, -1), styles["mono"].fontName, styles["mono"].fontSize, styles["mono"].leading)
                for c in mono_columns
            ),
            (
                "FONT",
                (0, 0),
                (-1, 0),
                styles["cellbold"].fontName,
                styles["cellbold"].fontSize,
                styles["cellbold"].leading,
            ),
        ]
        table = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    *fonts,
                    ("BACKGROUND", (0, 0), (-1, 0), self.colors.HexColor("#E8EEF5")),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, self.colors.HexColor("#1F3A5F")),
                    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [self.colors.white, self.colors.HexColor("#F7F7F7")]),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        self.story.append(table)
        self.story.append(Spacer(1, 5))

    def pairs(self, rows: Sequence[tuple[str, Any]], *, mono_values: bool = False) -> None:
        self.table(["", ""], [(k, v) for k, v in rows], widths=(0.3, 0.7), mono_columns=(1,) if mono_values else ())

    def chart(self, chart: Chart) -> None:
        from reportlab.lib.utils import ImageReader
        from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

        image = chart.image if isinstance(chart.image, bytes) else chart.image.encode()
        reader = ImageReader(io.BytesIO(image))
        width, height = reader.getSize()
        scale = min(self.width / width, 150 * self.mm / height)
        flowable = Image(io.BytesIO(image), width=width * scale, height=height * scale)
        flowable.alt_text = f"{chart.title}. {chart.caption}"  # the figure's /Alt in the tagged PDF
        self.story.append(
            KeepTogether(
                [
                    Paragraph(f"<b>Figure: {esc(chart.title)}.</b> {esc(chart.caption)}", self.styles["caption"]),
                    flowable,
                    Spacer(1, 6),
                ]
            )
        )


class _Markup:
    """Table cell text that is already markup (built with ``esc`` by this package)."""

    def __init__(self, text: str) -> None:
        self.text = text
