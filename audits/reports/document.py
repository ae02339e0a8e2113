"""The PDF layout of a compliance report (reportlab platypus). Pure: a plain dict in, PDF bytes out; no Django.

``render_report(context, charts)`` lays out what :mod:`audits.reports.service` gathered: a cover page, a table of
contents, the executive summary in plain words, the model card, data and lineage, one section per check with its
tables and charts, the NYC Local Law 144 bias-audit table when that policy applies, approvals and sign-offs, the
regulation map, and the trail events with the checkpoint that includes them.

Everything is real text in an embedded Unicode font (DejaVu, shipped with matplotlib), so it can be searched, copied
and read aloud; every page says "Page N of M"; headings are PDF bookmarks (the outline) and entries of the table of
contents; the document carries its title, subject, author and language. Text that people typed (purposes, reasons,
model card fields) is escaped, never interpreted as markup.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from audits.checks.facts import group_facts
from audits.ll144 import LL144Error
from audits.ll144 import build_summary as ll144_summary
from audits.reports.charts import Chart
from governance.citations import Citation, cite

# Binary Flate streams, not ASCII85 text over them: ASCII85 only matters for 7-bit channels (PDFs are binary anyway),
# makes every image and page stream 25% larger, and without reportlab's optional C accelerator it is pure Python, the
# costliest step of the layout. (reportlab's setting is process-wide; only this module uses reportlab.)
ASCII85_STREAMS = False
# One-line text cells of tables as plain strings (see ``_Builder.table``); the benchmark turns it off to compare.
PLAIN_TEXT_CELLS = True

OUTCOME_WORDS = {"pass": "PASS", "fail": "FAIL", "insufficient_evidence": "INSUFFICIENT EVIDENCE"}
OUTCOME_COLOURS = {"pass": "#00704A", "fail": "#B23A00", "insufficient_evidence": "#8A6100"}

CHECK_TITLES = {
    "performance": "Performance",
    "group_fairness": "Group fairness",
    "disparate_impact": "Disparate impact",
    "data_quality": "Data quality",
    "explainability": "Explainability (SHAP)",
    "adversarial": "Adversarial robustness",
}

# Why each check matters, in plain words, for the executive summary.
WHY_IT_MATTERS = {
    "performance": "A model less accurate than its declared level does not do what its instructions for use claim "
    "(EU AI Act Art. 15(1) and (3)); every decision it makes is less reliable.",
    "group_fairness": "Gaps between groups in selection or error rates are possible discrimination, which data "
    "governance must examine, prevent and mitigate (EU AI Act Art. 10(2)(f)-(g)).",
    "disparate_impact": "A group selected at less than four fifths of the most selected group's rate is generally "
    "regarded as evidence of adverse impact (29 CFR 1607.4(D)); NYC Local Law 144 requires impact ratios to be "
    "published.",
    "data_quality": "Missing values and under-represented groups make every other figure less reliable "
    "(EU AI Act Art. 10(2)-(4)).",
    "explainability": "Deployers must be able to interpret the system's outputs (EU AI Act Art. 13); weight on a "
    "protected attribute, or on a proxy for one, is a bias to examine.",
    "adversarial": "Decisions that change under small, deliberate or random changes of the input are a robustness "
    "and security weakness (EU AI Act Art. 15(4)-(5)).",
}


# Which obligation each piece of evidence in this report SUPPORTS, and what it does NOT cover. Assay's evidence is
# documentation about a model version (measurements, governance decisions, its own trail); it is never the AI
# system's own features (its logs, its oversight tools) nor the provider's management systems. Each row says so.
# EU AI Act items are the citations catalogue's records (governance/citations, which names the text version); NIST
# items are functions and categories of NIST AI 100-1 (AI RMF 1.0, January 2023), a voluntary framework.
# ``checks`` names check results; "adversarial:counterfactual" is the adversarial check's counterfactual flip test
# alone (a bias examination, not a robustness test).
@dataclass(frozen=True)
class MapRow:
    """One row of the regulation map: what the text asks, what this report's evidence supports, what it does not."""

    framework: str
    item: str
    binding: bool  # False for a voluntary framework (NIST AI RMF): never shown as a "requirement"
    asks: str
    supports: str
    not_covered: str
    checks: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()  # the catalogue's records behind ``item`` (governance/citations)


EU_AI_ACT = "EU AI Act"
NIST_AI_RMF = "NIST AI RMF 1.0"


def _eu_row(  # noqa: PLR0917 (a table of rows reads best positionally)
    citations: tuple[Citation, ...],
    asks: str,
    supports: str,
    not_covered: str,
    checks: tuple[str, ...],
    sections: tuple[str, ...],
) -> MapRow:
    """A row of the EU AI Act (binding): its item is the pin cites of the catalogue's ``citations``."""
    item = ", ".join(c.pin for c in citations)
    return MapRow(EU_AI_ACT, item, True, asks, supports, not_covered, checks, sections, citations)


REGULATION_MAP: tuple[MapRow, ...] = (
    _eu_row(
        (cite("eu-ai-act/art-9"),),
        "A risk management system established, implemented, documented and maintained over the system's lifecycle, "
        "including testing against prior defined metrics and probabilistic thresholds (Art. 9(1)-(2), 9(6), 9(8)).",
        "Documentation of testing: the checks run against the policy's declared thresholds, the risk tier with its "
        "answers, and the findings opened and resolved.",
        "The risk management system itself: identifying, estimating and evaluating the risks, the risk management "
        "measures adopted and the judgement of residual risk (Art. 9(2)(a)-(d), 9(5)) are the provider's.",
        (),
        ("Cover (risk tier)", "Model card (risk rationale)", "Findings", "Executive summary"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-10"),),
        "Training, validation and testing data sets subject to data governance and management practices, including "
        "examination of possible biases and measures to detect, prevent and mitigate them (Art. 10(2)-(4)).",
        "Examination of the evaluation data set named in this report: its quality and group representation, and "
        "possible biases in the model's decisions on it (Art. 10(2)(f), 10(3)); the data's lineage and consent "
        "coverage.",
        "Data sets Assay was not given (training and validation data unless registered and audited); the data "
        "governance practices themselves (design choices, collection, preparation, Art. 10(2)(a)-(e), (h)); the "
        "measures that prevent and mitigate the biases found (Art. 10(2)(g)).",
        ("data_quality", "group_fairness", "disparate_impact", "adversarial:counterfactual"),
        ("Data and lineage", "Consent coverage"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-11"), cite("eu-ai-act/annex-iv")),
        "Technical documentation drawn up before the system is placed on the market or put into service and kept up "
        "to date, with at least the content of Annex IV (Art. 11(1)).",
        "Part of that documentation: validation and testing procedures, data, metrics and dated, signed test reports "
        "(Annex IV point 2(g)); the model card.",
        "The rest of Annex IV (general description, design specifications, architecture, the assessment of human "
        "oversight measures, the risk management system, the post-market monitoring plan, the EU declaration of "
        "conformity), which the provider writes.",
        (),
        ("This report", "Model card", "Audit inputs and reproduction"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-12/1"),),
        "Record-keeping: the high-risk AI system itself technically allows the automatic recording of events (logs) "
        "over its lifetime, for traceability of its functioning (Art. 12(1)-(2)).",
        "The provider's documentation of how this model version was registered, audited, approved and deployed: "
        "Assay's tamper-evident trail of those governance events, with a signed checkpoint.",
        "Art. 12 logging: Assay's trail is not generated by the AI system and does not record the system's operation "
        "in use. The system's own logging capability, and keeping its logs (Art. 19, Art. 26(6)), are not evidenced "
        "here.",
        (),
        ("Audit trail events", "Checkpoint"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-13"),),
        "Transparency: the system designed so that deployers can interpret its output and use it appropriately, with "
        "instructions for use (Art. 13(1)-(3)).",
        "Content for the instructions for use: measured accuracy and its metrics (Art. 13(3)(b)(ii)), performance on "
        "groups of persons (13(3)(b)(v)), and explanation results relevant to explaining the output (13(3)(b)(iv)); "
        "intended and out-of-scope uses from the model card.",
        "The system's design for transparency (Art. 13(1)) and the instructions for use themselves (13(2)-(3)), "
        "which the provider writes and supplies.",
        ("performance", "group_fairness", "explainability"),
        ("Model card (intended use, out-of-scope uses)",),
    ),
    _eu_row(
        (cite("eu-ai-act/art-14"),),
        "Human oversight: the system designed and developed, with appropriate human-machine interface tools, so that "
        "natural persons can oversee it while it is in use: understand its capacities and limitations, interpret its "
        "output, decide not to use it or disregard, override or reverse its output, and interrupt it through a "
        "'stop' button or a similar procedure (Art. 14(1), 14(4)).",
        "Documentation of the provider's pre-deployment governance: who approved this version and when, with "
        "separation of duties, and the risk answers about human review. It can support the provider's description "
        "of oversight arrangements.",
        "The oversight measures themselves: approvals before deployment are not measures built into or accompanying "
        "the system that let a person understand, override or stop it in use (Art. 14(3)-(4)), nor the deployer's "
        "assignment of oversight to competent persons (Art. 26(2)).",
        (),
        ("Approvals and sign-offs", "Risk answers"),
    ),
    _eu_row(
        (cite("eu-ai-act/art-15"),),
        "An appropriate level of accuracy, robustness and cybersecurity, consistent throughout the lifecycle, with "
        "accuracy levels declared in the instructions for use (Art. 15(1), 15(3)); resilience to errors, faults and "
        "inconsistencies (15(4)) and to attempts to exploit vulnerabilities, including adversarial examples or model "
        "evasion (15(5)).",
        "Accuracy measured on the evaluation data set against the policy's levels (Art. 15(1), 15(3)); the evasion "
        "attack's success rate within a perturbation budget, a lower bound on what an attacker could do (15(5)); "
        "the random-noise flip rate, reported and not judged (15(4)).",
        "Performance throughout the lifecycle beyond the audited data set; technical redundancy, fail-safe plans and "
        "feedback loops (Art. 15(4)); data or model poisoning, confidentiality attacks and the system's "
        "cybersecurity (15(5)). The counterfactual flip test is bias evidence (Art. 10), not robustness evidence.",
        ("performance", "adversarial"),
        (),
    ),
    _eu_row(
        (cite("eu-ai-act/art-72"),),
        "Post-market monitoring (Chapter IX, Section 1): providers establish and document a system that actively "
        "and systematically collects, documents and analyses data on the system's performance throughout its "
        "lifetime, based on a plan that is part of the Annex IV documentation (Art. 72(1)-(3)).",
        "Inputs to such a system: the policy's monitoring thresholds, the deployments on record and the findings "
        "opened after deployment.",
        "The post-market monitoring system and plan themselves (Art. 72(1), 72(3)) and the reporting of serious "
        "incidents (Art. 73).",
        (),
        ("Deployments", "Findings", "Policy and its version"),
    ),
    MapRow(
        NIST_AI_RMF,
        "GOVERN",
        False,
        "Policies, processes and accountability structures for AI risk management (GOVERN 1, GOVERN 2).",
        "The versioned policy applied, roles and approvals with separation of duties, and the trail of decisions.",
        "Organisational culture, workforce and stakeholder engagement, and third-party risk policies (GOVERN 3-6).",
        (),
        ("Policy and its version", "Approvals and sign-offs", "Audit trail events"),
    ),
    MapRow(
        NIST_AI_RMF,
        "MAP",
        False,
        "Context established and the AI system categorised; risks and impacts identified (MAP 1-5).",
        "Intended use and limits from the model card, the risk tier and its answers, and data lineage.",
        "Impacts on individuals, groups and communities beyond the measured groups, and benefits and costs (MAP 3, "
        "MAP 5), which the organisation assesses.",
        (),
        ("Model card", "Risk tier", "Data and lineage"),
    ),
    MapRow(
        NIST_AI_RMF,
        "MEASURE",
        False,
        "Appropriate methods and metrics applied; the system evaluated for trustworthy characteristics; risks "
        "tracked over time (MEASURE 1-4).",
        "Quantitative measurements of validity, fairness, explainability and robustness on the evaluation data set, "
        "with confidence intervals and the reasons for any insufficient evidence.",
        "Characteristics not measured here (privacy, safety, environmental impact), feedback from affected people "
        "(MEASURE 4), and measurement in use.",
        ("performance", "group_fairness", "disparate_impact", "data_quality", "explainability", "adversarial"),
        (),
    ),
    MapRow(
        NIST_AI_RMF,
        "MANAGE",
        False,
        "Risks prioritised, responded to and monitored; responses and recovery documented (MANAGE 1-4).",
        "The verdict, the findings with their resolutions, and the deployments on record.",
        "The organisation's risk treatment decisions, incident response and recovery, and third-party risk "
        "management (MANAGE 3-4).",
        (),
        ("Findings", "Deployments", "Verdict"),
    ),
)


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
    from pathlib import Path

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
            self.saveState()
            self.setFont(fonts["normal"], 7.5)
            self.setFillGray(0.35)
            self.drawRightString(width - 18 * mm, 10 * mm, f"Page {self._pageNumber} of {total}")
            self.drawString(18 * mm, 10 * mm, self.footer_left)
            self.restoreState()

    class ReportTemplate(BaseDocTemplate):
        """A4 portrait, one frame; headings become bookmarks, outline entries and table-of-contents entries."""

        def __init__(self, buffer: Any, *, footer: str, **kwargs: Any) -> None:
            super().__init__(buffer, **kwargs)
            self.footer = footer
            frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
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
    """Table cell text that is already markup (built with ``esc`` by this module)."""

    def __init__(self, text: str) -> None:
        self.text = text


# --- sections -------------------------------------------------------------------------------------------------


def _cover(b: _Builder, ctx: Mapping[str, Any]) -> None:
    from reportlab.platypus import PageBreak, Spacer

    model, version = ctx["model"], ctx["version"]
    b.story.append(Spacer(1, 30 * b.mm))
    b.para("Assay compliance report", "small")
    b.para(esc(ctx["title"]), "title")
    b.para(f"Verdict: {b.outcome(ctx['verdict'])}", "verdict")
    rows: list[tuple[str, Any]] = [
        ("Model", model["name"]),
        ("Version", f"v{version['number']} ({version['state']})"),
        ("Risk tier (EU AI Act)", model["risk_tier_label"]),
        ("Team", model["team"]),
    ]
    for run in ctx["runs"]:
        rows.append(("Audit run", f"#{run['id']}: {OUTCOME_WORDS.get(run['verdict'], run['verdict'])}"))
        rows.append(
            ("Policy and version", f"{run['policy']['name']} v{run['policy']['version']}: {run['policy']['title']}")
        )
    if not ctx["runs"]:
        rows.append(("Audit runs", "none completed"))
    rows += [
        ("Date", ctx["generated_at"]),
        ("Report id", ctx["report_id"]),
        ("Requested by", ctx["generated_by"]),
        ("Signed by", f"{ctx['signer']['name']} (PAdES; certificate SHA-256 below)"),
    ]
    b.pairs(rows)
    b.para("Signing certificate SHA-256:", "small")
    b.para(esc(ctx["signer"]["certificate_sha256"]), "mono")
    b.story.append(Spacer(1, 8))
    b.para(
        "This document is signed. Validate it offline with the signing certificate, e.g. "
        "<i>pyhanko sign validate --trust cert.pem --no-revocation-check report.pdf</i>. Any change to the signed "
        "bytes makes the validation fail.",
        "small",
    )
    b.story.append(PageBreak())


def _contents(b: _Builder) -> None:
    from reportlab.platypus import PageBreak, Paragraph
    from reportlab.platypus.tableofcontents import TableOfContents

    b.story.append(Paragraph("Contents", b.styles["title"]))
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [b.styles["toc1"], b.styles["toc2"]]
    b.story.append(toc)
    b.story.append(PageBreak())


def _checks_by_outcome(ctx: Mapping[str, Any]) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    found: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
        "pass": [],
        "fail": [],
        "insufficient_evidence": [],
    }
    for run in ctx["runs"]:
        for check in run["checks"]:
            found.setdefault(check["outcome"], []).append((run, check))
    return found


def _summary(b: _Builder, ctx: Mapping[str, Any]) -> None:
    b.h1("Executive summary")
    model, version = ctx["model"], ctx["version"]
    runs = ctx["runs"]
    if not runs:
        b.para(
            f"{esc(model['name'])} v{version['number']} has no completed audit run, so there is no evidence for or "
            "against it yet. The verdict is <b>insufficient evidence</b>."
        )
    for run in runs:
        b.para(
            f"Audit run #{run['id']} applied the policy <b>{esc(run['policy']['name'])} "
            f"v{run['policy']['version']}</b> to <b>{esc(model['name'])} v{version['number']}</b> on the dataset "
            f"{esc(run['dataset'])} ({fmt_number(run['rows'])} rows), finished {esc(run['finished_at'])}. "
            f"Verdict: {b.outcome(run['verdict'])}."
        )
    grouped = _checks_by_outcome(ctx)
    many = len(runs) > 1
    labels = {
        "pass": "What passed",
        "fail": "What failed, and why it matters",
        "insufficient_evidence": "What lacked evidence, and why it matters",
    }
    for outcome in ("fail", "insufficient_evidence", "pass"):
        b.h2(labels[outcome])
        entries = grouped.get(outcome) or []
        if not entries:
            b.text("Nothing.")
            continue
        for run, check in entries:
            title = CHECK_TITLES.get(check["name"], check["name"])
            where = f" (run #{run['id']}, {esc(run['policy']['name'])})" if many else ""
            required = "" if check["required"] else " (optional check)"
            b.para(f"<b>{esc(title)}</b>{where}{required}: {esc(check['reason'])}")
            if outcome != "pass" and check["name"] in WHY_IT_MATTERS:
                b.para(f"<i>Why it matters:</i> {esc(WHY_IT_MATTERS[check['name']])}", "small")
        if outcome == "insufficient_evidence":
            b.para(
                "Insufficient evidence is never a pass: the audit could not judge these (a group too small, an "
                "interval too wide, a check that cannot run for this model). More data, or a model artifact the "
                "check can score, gives an answer.",
                "small",
            )
    open_findings = [f for f in ctx.get("findings", []) if f["status"] == "open"]
    if open_findings:
        b.h2("Open findings")
        b.table(
            ["Opened", "Kind", "Finding"],
            [(f["opened_at"], f["kind"], f["title"]) for f in open_findings],
            widths=(0.22, 0.18, 0.6),
        )


def _model_card(b: _Builder, ctx: Mapping[str, Any]) -> None:
    model, version = ctx["model"], ctx["version"]
    b.h1("Model card")
    b.h2("Purpose and use")
    b.pairs(
        [
            ("Model", model["name"]),
            ("Team", model["team"]),
            ("Purpose", model["purpose"]),
            ("Intended use", model["intended_use"] or "(not stated)"),
            ("Out-of-scope uses", model["out_of_scope_uses"] or "(not stated)"),
            ("Business KPIs", ", ".join(map(str, model["business_kpis"])) or "(none)"),
        ]
    )
    b.h2("Risk classification")
    b.pairs([("Risk tier", model["risk_tier_label"]), ("Rationale", model["risk_rationale"])])
    if model.get("risk_answers"):
        b.table(
            ["Question", "Answer"],
            [
                (k.replace("_", " "), json.dumps(v) if not isinstance(v, str) else v)
                for k, v in model["risk_answers"].items()
            ],
            widths=(0.5, 0.5),
        )
    b.h2(f"Version {version['number']}")
    b.pairs(
        [
            ("State", version["state"]),
            ("Framework", version["framework"]),
            ("Artifact", version["artifact_name"] or "(none: predictions only)"),
            ("Artifact SHA-256", version["artifact_sha256"] or "n/a"),
            ("Artifact size", fmt_number(version["artifact_size"]) + " bytes" if version["artifact_size"] else "n/a"),
            ("Code", f"{version['code_repository']} {version['code_commit']}".strip() or "(not recorded)"),
            ("Registered", f"{version['created_at']} by {version['created_by']}"),
            (
                "Hyperparameters",
                json.dumps(version["hyperparameters"], sort_keys=True) if version["hyperparameters"] else "(none)",
            ),
            ("Declared metrics", json.dumps(version["metrics"], sort_keys=True) if version["metrics"] else "(none)"),
        ]
    )
    card = version.get("model_card") or {}
    b.h3("Model card sections (Mitchell et al., 2019)")
    rows = []
    for section in version.get("model_card_sections") or card.keys():
        value = card.get(section)
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True, ensure_ascii=False)
        rows.append((section.replace("_", " "), value or "(empty)"))
    b.table(["Section", "Content"], rows, widths=(0.28, 0.72))


def _data(b: _Builder, ctx: Mapping[str, Any]) -> None:
    data = ctx["data"]
    b.h1("Data and lineage")
    b.h2("Datasets")
    b.table(
        ["Role", "Dataset version", "Rows", "SHA-256", "Source, licence"],
        [
            (
                d["role"],
                d["id"],
                fmt_number(d["rows"]),
                d["sha256"] or d.get("location") or "n/a",
                ", ".join(x for x in (d.get("source"), d.get("licence")) if x) or "(not recorded)",
            )
            for d in data["datasets"]
        ],
        widths=(0.11, 0.22, 0.08, 0.37, 0.22),
        mono_columns=(3,),
    )
    b.h2("Lineage runs")
    b.table(
        ["Job", "Source", "Ended", "Inputs", "Outputs"],
        [
            (r["job"], r["source"], r["ended_at"] or "", ", ".join(r["inputs"]) or "-", ", ".join(r["outputs"]) or "-")
            for r in data["lineage_runs"]
        ],
        widths=(0.22, 0.1, 0.2, 0.24, 0.24),
    )
    b.h2("Consent coverage")
    b.para(
        "Counts of data subjects only, never who. Coverage over fewer than "
        f"{data['coverage_floor']} subjects is withheld here, because counts that small could identify a person "
        "(COVERAGE_MIN_SUBJECTS).",
        "small",
    )
    rows = []
    for d in data["datasets"]:
        for c in d.get("coverage") or []:
            if c.get("withheld"):
                rows.append((d["id"], c["purpose"], f"fewer than {data['coverage_floor']}", "withheld", "", "", ""))
            else:
                rows.append(
                    (
                        d["id"],
                        c["purpose"],
                        fmt_number(c["subjects"]),
                        fmt_number(c["consenting"]),
                        fmt_number(c["withdrawn"]),
                        fmt_number(c["expired"]),
                        fmt_number(c["never_asked"]),
                    )
                )
        if not d.get("coverage"):
            rows.append(
                (d["id"], "-", d.get("coverage_note") or "no subject-id column: subjects not known", "", "", "", "")
            )
    b.table(
        ["Dataset version", "Purpose", "Subjects", "Consenting", "Withdrawn", "Expired", "Never asked"],
        rows,
        widths=(0.22, 0.16, 0.16, 0.12, 0.11, 0.1, 0.13),
    )


def _rates_table(b: _Builder, groups: Sequence[Mapping[str, Any]]) -> None:
    rows = []
    for g in groups:
        rows.append(
            (
                g["group"] + (" (small)" if g.get("below_min_group_size") else ""),
                fmt_number(g.get("count")),
                _Markup(f"{fmt_number(g.get('selection_rate'))}<br/>{fmt_interval(g.get('selection_rate_interval'))}"),
                _Markup(
                    f"{fmt_number(g.get('true_positive_rate'))}<br/>{fmt_interval(g.get('true_positive_rate_interval'))}"
                ),
                _Markup(
                    f"{fmt_number(g.get('false_positive_rate'))}<br/>{fmt_interval(g.get('false_positive_rate_interval'))}"
                ),
                _Markup(f"{fmt_number(g.get('precision'))}<br/>{fmt_interval(g.get('precision_interval'))}"),
            )
        )
    b.table(
        ["Group", "Count", "Selection rate [95% CI]", "True-positive rate", "False-positive rate", "Precision"],
        rows,
        widths=(0.26, 0.08, 0.17, 0.17, 0.16, 0.16),
    )


def _thresholds(b: _Builder, details: Mapping[str, Any]) -> None:
    """The thresholds a check applied and their basis, from whichever shape the check stored them in."""
    rows: list[tuple[Any, ...]] = []
    thresholds = details.get("thresholds")
    if isinstance(thresholds, dict):
        for name, spec in thresholds.items():
            basis = spec.get("basis") or {}
            rows.append((name.replace("_", " "), fmt_number(spec.get("value")), basis.get("citation", "")))
    elif isinstance(thresholds, list):
        for spec in thresholds:
            basis = spec.get("basis") or {}
            rows.append(
                (
                    f"{spec.get('metric')} (measured {fmt_number(spec.get('value'))})",
                    fmt_number(spec.get("limit")),
                    basis.get("citation", ""),
                )
            )
    for key, value in details.items():
        if key.endswith("_basis") and isinstance(value, dict):
            name = key[: -len("_basis")]
            rows.append((name.replace("_", " "), fmt_number(details.get(name)), value.get("citation", "")))
    basis = details.get("basis")
    if isinstance(basis, dict):
        limit_key = next(
            (k for k in details if k.endswith(("_min", "_max")) and not isinstance(details[k], dict)), None
        )
        rows.append(
            (
                (limit_key or "threshold").replace("_", " "),
                fmt_number(details.get(limit_key)) if limit_key else "",
                basis.get("citation", ""),
            )
        )
    if rows:
        b.h3("Thresholds and their basis")
        b.table(["Threshold", "Value", "Basis (citation)"], rows, widths=(0.3, 0.1, 0.6))


def _check_performance(b: _Builder, d: Mapping[str, Any]) -> None:
    overall = d.get("overall") or {}
    b.h3("Overall")
    b.table(["Metric", "Value"], [(k.replace("_", " "), fmt_number(v)) for k, v in overall.items()], widths=(0.4, 0.6))
    per_group = d.get("per_group") or {}
    if per_group:
        metrics = [k for k in next(iter(per_group.values())) if k not in ("count", "below_min_group_size")]
        b.h3("By group")
        b.table(
            ["Group", "Count", *[m.replace("_", " ") for m in metrics]],
            [(g, fmt_number(v.get("count")), *[fmt_number(v.get(m)) for m in metrics]) for g, v in per_group.items()],
        )


def _check_group_fairness(b: _Builder, d: Mapping[str, Any]) -> None:
    for grouping in d.get("groupings") or []:
        b.h3(f"Grouping: {grouping['grouping']}")
        summary = grouping.get("summary") or {}
        rows = [(k.replace("_", " "), fmt_number(v)) for k, v in summary.items() if not isinstance(v, dict)]
        for k, v in summary.items():
            if isinstance(v, dict):
                rows += [(f"{k.replace('_', ' ')}: {g}", fmt_number(x)) for g, x in v.items()]
        b.table(["Measure", "Value"], rows, widths=(0.6, 0.4))
        _rates_table(b, grouping.get("groups") or [])


def _check_disparate_impact(b: _Builder, d: Mapping[str, Any]) -> None:
    b.para(
        f"Rate compared: {esc(d.get('rate'))}; minimum impact ratio {fmt_number(d.get('impact_ratio_min'))}.", "small"
    )
    for grouping in d.get("groupings") or []:
        b.h3(f"Grouping: {grouping['grouping']} (reference {grouping.get('reference_group')})")
        b.table(
            ["Group", "Count", "Selected", "Rate [95% CI]", "Impact ratio", "Test, p", "Significant", "Four-fifths"],
            [
                (
                    g["group"]
                    + (" (reference)" if g.get("reference") else "")
                    + (" (left out: small share)" if g.get("excluded_below_share") else ""),
                    fmt_number(g.get("count")),
                    fmt_number(g.get("selected")),
                    _Markup(
                        f"{fmt_number(g.get('selection_rate'))}<br/>{fmt_interval(g.get('selection_rate_interval'))}"
                    ),
                    fmt_number(g.get("impact_ratio")),
                    f"{(g.get('test') or '').replace('_', ' ')} {fmt_number(g.get('p_value'))}"
                    if g.get("test")
                    else "",
                    fmt_number(g.get("significant")) if "significant" in g else "",
                    ("passes" if g["passes_four_fifths"] else "fails") if "passes_four_fifths" in g else "",
                )
                for g in grouping.get("groups") or []
            ],
            widths=(0.2, 0.08, 0.1, 0.15, 0.1, 0.15, 0.12, 0.1),
        )


def _check_data_quality(b: _Builder, d: Mapping[str, Any]) -> None:
    missing = d.get("missing_fraction") or {}
    with_missing = [(c, fmt_number(v)) for c, v in missing.items() if v]
    b.h3("Missing values")
    if with_missing:
        b.table(["Column", "Missing fraction"], with_missing, widths=(0.5, 0.5))
    else:
        b.text(f"No missing values in any of the {len(missing)} columns.")
    balance = d.get("label_balance") or {}
    rows = [("Duplicate rows", fmt_number(d.get("duplicate_rows")))]
    if balance:
        rows.append((f"Label balance ({balance.get('column')})", json.dumps(balance.get("counts"), sort_keys=True)))
        rows.append(("Minority class fraction", fmt_number(balance.get("minority_fraction"))))
    b.table(["Measure", "Value"], rows, widths=(0.5, 0.5))
    shares = d.get("group_shares") or {}
    if shares:
        b.h3("Group shares")
        b.table(
            ["Attribute", "Group", "Share"],
            [(a, g, fmt_number(s)) for a, groups in shares.items() for g, s in groups.items()],
            widths=(0.35, 0.35, 0.3),
        )
    comparison = d.get("population_comparison") or []
    if comparison:
        b.h3("Against the declared population")
        keys = list(comparison[0])
        b.table(keys, [[fmt_number(row.get(k)) for k in keys] for row in comparison])


def _check_explainability(b: _Builder, d: Mapping[str, Any]) -> None:
    coverage = d.get("coverage") or {}
    b.pairs(
        [
            ("Explainer", f"{d.get('explainer')} ({d.get('library')})"),
            ("Explained output", d.get("explained_output")),
            (
                "Rows explained",
                f"{fmt_number(coverage.get('rows_explained'))} of {fmt_number(coverage.get('rows_sampled'))} "
                f"sampled; background {fmt_number(coverage.get('background_rows'))} rows",
            ),
            (
                "Share of attribution on protected attributes (and the features counted for them)",
                fmt_number(d.get("protected_share")),
            ),
            ("Note", d.get("explainer_note")),
        ]
    )
    importance = d.get("global_importance") or []
    if importance:
        b.h3("Global importance")
        b.table(
            ["Rank", "Feature", "Mean |SHAP|", "Share"],
            [
                (e.get("rank"), e["feature"], fmt_number(e.get("mean_abs_shap"), 4), fmt_number(e.get("share")))
                for e in importance
            ],
            widths=(0.1, 0.4, 0.25, 0.25),
        )
    proxies = d.get("proxies") or []
    b.h3("Possible proxies for protected attributes")
    b.table(
        ["Feature", "Attribute", "Cramér's V", "Rank", "Share"],
        [
            (p["feature"], p["attribute"], fmt_number(p.get("cramers_v")), p.get("rank"), fmt_number(p.get("share")))
            for p in proxies
        ],
        widths=(0.3, 0.25, 0.15, 0.1, 0.2),
    )
    counted = d.get("counted_features")
    if counted is not None:
        b.h3("Features counted in the protected share")
        b.table(
            ["Feature", "Counted because", "Rank", "Share"],
            [
                (e["feature"], "; ".join(map(_counted_because, e["because"])), e["rank"], fmt_number(e["share"]))
                for e in counted
            ],
            widths=(0.25, 0.5, 0.1, 0.15),
        )


def _counted_because(reason: Mapping[str, Any]) -> str:
    """Why explainability counted a feature as a protected attribute's (its ``counted_features`` entries)."""
    if reason.get("why") == "model_input":
        return f"is the protected attribute {reason.get('attribute')}"
    if reason.get("why") == "declared":
        return f"{reason.get('attribute')} is derived from it (declared in the column roles)"
    measure = {"cramers_v": "Cramér's V"}.get(str(reason.get("measure")), str(reason.get("measure")))
    return f"{measure} {fmt_number(reason.get('value'), 2)} with {reason.get('attribute')}"


def _check_adversarial(b: _Builder, d: Mapping[str, Any]) -> None:
    attack = d.get("attack") or {}
    b.h3("Evasion attack")
    b.pairs(
        [
            ("Attack", f"{attack.get('name')} ({attack.get('library', '')})"),
            ("Ran", fmt_number(attack.get("ran"))),
            (
                "Rows attacked",
                f"{fmt_number(attack.get('rows_attacked'))} of {fmt_number(attack.get('rows_sampled'))} sampled",
            ),
            ("Epsilon", f"{fmt_number(d.get('epsilon'))} ({d.get('perturbation_unit', '')})"),
            (
                "Succeeded within epsilon",
                f"{fmt_number(attack.get('succeeded_within_epsilon'))} "
                f"({fmt_number(attack.get('success_rate_within_epsilon'))}; "
                f"maximum {fmt_number(d.get('max_success_rate'))})",
            ),
            ("Flipped at any distance", fmt_number(attack.get("flipped_at_any_distance"))),
            ("Median perturbation when flipped", fmt_number(attack.get("median_perturbation"))),
            ("Stopped by the time budget", fmt_number(attack.get("stopped_by_time_budget"))),
        ]
    )
    noise = d.get("noise") or {}
    if noise:
        b.h3("Random noise")
        b.pairs([(k.replace("_", " "), fmt_number(v)) for k, v in noise.items()])
    attributes = (d.get("counterfactual") or {}).get("attributes") or []
    if attributes:
        b.h3("Counterfactual: only a protected attribute changes")
        b.table(
            ["Attribute", "Model input", "Flipped", "Flip rate", "Note"],
            [
                (
                    a["attribute"],
                    fmt_number(a.get("model_input")),
                    fmt_number(a.get("flipped")),
                    fmt_number(a.get("flip_rate")),
                    a.get("note", ""),
                )
                for a in attributes
            ],
            widths=(0.18, 0.12, 0.1, 0.1, 0.5),
        )


def _check_generic(b: _Builder, d: Mapping[str, Any]) -> None:
    rows = [
        (k, fmt_number(v)) for k, v in d.items() if not isinstance(v, dict | list) and k not in ("outcome", "reason")
    ]
    b.table(["Field", "Value"], rows, widths=(0.4, 0.6))


CHECK_SECTIONS = {
    "performance": _check_performance,
    "group_fairness": _check_group_fairness,
    "disparate_impact": _check_disparate_impact,
    "data_quality": _check_data_quality,
    "explainability": _check_explainability,
    "adversarial": _check_adversarial,
}


def _run_sections(b: _Builder, ctx: Mapping[str, Any], charts: Mapping[int, Sequence[Chart]]) -> None:
    for run in ctx["runs"]:
        policy = run["policy"]
        b.h1(f"Audit run #{run['id']}: {policy['name']} v{policy['version']}")
        b.para(f"Verdict: {b.outcome(run['verdict'])}")
        for reason in run["verdict_reasons"]:
            b.para(f"• {esc(reason)}", "small")
        b.h2(f"Audit inputs and reproduction (run #{run['id']})")
        b.pairs(
            [
                ("Policy", f"{policy['name']} v{policy['version']}: {policy['title']}"),
                ("Policy SHA-256", policy["sha256"]),
                ("Evaluation dataset", run["dataset"]),
                ("Column roles", json.dumps(run["column_roles"], sort_keys=True)),
                ("Started by", f"{run['created_by']} at {run['created_at']}"),
                ("Finished", f"{run['finished_at']} ({fmt_number(run['duration_seconds'], 1)} s)"),
                ("Results SHA-256", run["results_sha256"]),
                ("Seeds", json.dumps(run["seeds"], sort_keys=True)),
            ]
        )
        b.table(
            ["Input", "SHA-256 or reference"],
            [(k.replace("_", " "), v if v is not None else "n/a") for k, v in sorted(run["input_hashes"].items())],
            widths=(0.3, 0.7),
            mono_columns=(1,),
        )
        b.table(
            ["Library", "Version"],
            sorted(run["library_versions"].items()),
            widths=(0.5, 0.5),
        )
        run_charts = list(charts.get(run["id"], ()))
        check_names = {c["name"] for c in run["checks"]}
        for check in run["checks"]:
            name = check["name"]
            b.h2(
                f"{CHECK_TITLES.get(name, name)}: {OUTCOME_WORDS.get(check['outcome'], check['outcome'])} "
                f"(run #{run['id']})"
            )
            b.para(f"{b.outcome(check['outcome'])}{'' if check['required'] else ' (optional)'}: {esc(check['reason'])}")
            _thresholds(b, check["details"])
            CHECK_SECTIONS.get(name, _check_generic)(b, check["details"])
            for chart in run_charts:
                if chart.check == name:
                    b.chart(chart)
        _groups_not_judged(b, run)
        leftover = [c for c in run_charts if c.check not in check_names]
        if leftover or run.get("group_metrics"):
            b.h2(f"Group metrics (recorded with every run; run #{run['id']})")
            for grouping, groups in (run.get("group_metrics") or {}).items():
                b.h3(f"Grouping: {grouping}")
                _rates_table(b, [{"group": g, **v} for g, v in groups.items()])
            for chart in leftover:
                b.chart(chart)
        if run.get("ll144"):
            _ll144(b, run)


def _groups_not_judged(b: _Builder, run: Mapping[str, Any]) -> None:
    """The groups the run's checks did not judge as such (unknown category, excluded, too small, undefined rate),
    from :func:`audits.checks.facts.group_facts`, the function the gate's reasons and monitoring read too."""
    facts = group_facts({"checks": {check["name"]: check["details"] for check in run["checks"]}})
    if not facts:
        return
    b.h2(f"Groups not judged (run #{run['id']})")
    b.table(
        ["Check", "Grouping", "Group", "Fact", "Rows", "Share", "Rate"],
        [
            (
                f["check"],
                f["grouping"],
                f["group"] or "(unknown category)",
                f["kind"],
                fmt_number(f["count"]),
                fmt_number(f["share"]),
                fmt_number(f["rate"]),
            )
            for f in facts
        ],
        widths=(0.17, 0.16, 0.25, 0.12, 0.08, 0.1, 0.12),
    )
    b.text("Share: of all rows for the unknown category, of the known rows for a group.", "small")
    for fact in facts:
        b.para(f"• {esc(fact['reason'].rstrip('.'))}.", "small")


def _ll144(b: _Builder, run: Mapping[str, Any]) -> None:
    """The summary of results a NYC Local Law 144 bias audit publishes, laid out as the rule's own example tables
    (6 RCNY § 5-301): built by :func:`audits.ll144.build_summary` from the run's disparate-impact results, so the
    report, the API's ``ll144-summary`` and ``run_audit --ll144-summary`` say the same. The auditor's fields (dates,
    data, independence) are not stored with a run: the report names them as not given here."""
    b.h2(f"Bias audit summary (NYC Local Law 144; run #{run['id']})")
    roles = run.get("column_roles") or {}
    facts = {
        "id": run["id"],
        "date": str(run.get("finished_at") or "")[:10] or None,
        "dataset": run.get("dataset"),
        "policy": f"{run['policy']['name']} v{run['policy']['version']}" if run.get("policy") else None,
        "reference_groups": dict.fromkeys(roles.get("reference_groups") or {}, True),
    }
    try:
        summary = ll144_summary({"checks": {"disparate_impact": run["ll144"]}}, audit=facts)
    except LL144Error as exc:
        b.text(str(exc))
        return
    unknown = summary["unknown_category"]
    unknown_text = (
        f"{unknown['individuals']:,} (unknown sex or race/ethnicity; in no calculation)"
        if unknown["individuals"] is not None
        else "; ".join(f"{k}: {fmt_number(v)}" for k, v in unknown["by_table"].items())
    )
    b.pairs(
        [
            ("Date of the audit", f"{summary['audit']['date_of_audit']} ({summary['audit']['date_of_audit_basis']})"),
            ("Data audited", run["dataset"]),
            (summary["rate_label"], summary["rate_definition"]),
            ("Individuals in an unknown category", unknown_text),
            ("Figures", summary["rounding"]),
        ]
    )
    for table in summary["tables"]:
        b.h3(f"{table['title']} (run #{run['id']})")
        b.para(esc(table["impact_ratio_basis"]), "small")
        b.table(
            [
                "Category",
                "Number of applicants",
                summary["selected_label"],
                summary["rate_label"],
                "Impact ratio",
                "Note",
            ],
            [
                (
                    row["category"],
                    fmt_number(row["applicants"]),
                    fmt_number(row["selected"]),
                    _Markup(f"{esc(row['rate_percent'] or 'n/a')}<br/>({esc(row['rate_exact'] or 'n/a')})"),
                    _Markup(
                        f"{esc(row['impact_ratio_shown'])}<br/>({esc(row['impact_ratio_exact'])})"
                        if row["impact_ratio_exact"]
                        else "n/a"
                    ),
                    row["note"]
                    + (
                        f" Justification: {row['exclusion_justification']}"
                        if row.get("exclusion_justification")
                        else ""
                    ),
                )
                for row in table["categories"]
            ],
            widths=(0.24, 0.11, 0.12, 0.13, 0.12, 0.28),
        )
        if table["unknown"] is not None:
            b.para(
                f"Unknown category: {fmt_number(table['unknown'].get('count'))} individuals; not included in the "
                "calculations above.",
                "small",
            )
        if table.get("higher_rate_not_reference"):
            b.para(esc(table["higher_rate_not_reference"]["note"]), "small")
    missing = summary["missing"]
    if missing:
        b.para(
            "Not given in this report (6 RCNY §§ 5-302, 5-303; the auditor gives them with the summary: "
            f"GET /api/v1/audits/{run['id']}/ll144-summary/ or run_audit --ll144-summary): "
            + esc("; ".join(f"{m['what']} ({m['required_by']})" if m["required_by"] else m["what"] for m in missing))
            + ".",
            "small",
        )
    b.para(esc(summary["independent_auditor"]["note"]), "small")


def _approvals(b: _Builder, ctx: Mapping[str, Any]) -> None:
    approvals = ctx["approvals"]
    b.h1("Approvals and sign-offs")
    b.table(
        ["What", "Who", "Role", "When", "Detail"],
        [(a["what"], a["name"], a["role"], a["at"], a.get("detail", "")) for a in approvals["events"]],
        widths=(0.18, 0.16, 0.12, 0.24, 0.3),
    )
    b.para(
        f"Approvals required for this risk tier: {approvals['required']}. Separation of duties: the submitter "
        "never approves their own version.",
        "small",
    )
    b.h2("Deployments")
    b.table(
        ["Environment", "Deployed", "By", "Retired"],
        [(d["environment"], d["deployed_at"], d["by"], d["retired_at"] or "live") for d in approvals["deployments"]],
        widths=(0.2, 0.3, 0.2, 0.3),
    )
    b.h2("Findings")
    b.table(
        ["Opened", "Kind", "Finding", "Status"],
        [
            (
                f["opened_at"],
                f["kind"],
                f["title"],
                f["status"] + (f" ({f['resolution']})" if f.get("resolution") else ""),
            )
            for f in ctx.get("findings", [])
        ],
        widths=(0.22, 0.16, 0.44, 0.18),
    )


def _evidence_words(checks: Sequence[str], outcomes: Mapping[str, list[str]]) -> list[str]:
    words = []
    for entry in checks:
        name, _, part = entry.partition(":")
        title = CHECK_TITLES.get(name, name) + (", counterfactual flip test" if part == "counterfactual" else "")
        if name in outcomes:
            seen = ", ".join(sorted({OUTCOME_WORDS.get(o, o).lower() for o in outcomes[name]}))
            words.append(f"{title} ({seen})")
        else:
            words.append(f"{title} (not run)")
    return words


MAP_COLUMNS = ("What the evidence supports", "What it does not cover", "Evidence in this report")


def regulation_map_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The regulation map as plain rows for ``runs`` (the report context's runs): for each item, what it asks, what
    this report's evidence supports, what it does not cover, and the evidence with each check's outcomes."""
    outcomes: dict[str, list[str]] = {}
    for run in runs:
        for check in run["checks"]:
            outcomes.setdefault(check["name"], []).append(check["outcome"])
    return [
        {
            "framework": row.framework,
            "item": row.item,
            "binding": row.binding,
            "asks": row.asks,
            "supports": row.supports,
            "not_covered": row.not_covered,
            "evidence": [*_evidence_words(row.checks, outcomes), *row.sections],
            "citations": [c.label for c in row.citations],
            "text_versions": sorted({c.version for c in row.citations}),
        }
        for row in REGULATION_MAP
    ]


def _regulation_map(b: _Builder, ctx: Mapping[str, Any]) -> None:
    b.h1("Regulation map")
    b.para(
        "Which obligation the evidence in this report supports, and what it does not cover. This is a map of "
        "evidence, not a conformity assessment: the evidence documents a model version; it is not the AI system's "
        "own logging or oversight measures, and the provider decides whether it is enough.",
        "small",
    )
    rows = regulation_map_rows(ctx["runs"])
    b.h2("EU AI Act, Regulation (EU) 2024/1689 (binding requirements)")
    versions = sorted({v for r in rows for v in r["text_versions"]})
    b.para(esc(f"Cited from Assay's citations catalogue; text: {'; '.join(versions)}."), "small")
    b.table(
        ["Requirement", *MAP_COLUMNS],
        [
            (f"{r['item']}: {r['asks']}", r["supports"], r["not_covered"], "; ".join(r["evidence"]))
            for r in rows
            if r["binding"]
        ],
        widths=(0.28, 0.25, 0.27, 0.2),
    )
    b.h2("NIST AI RMF 1.0 (voluntary framework)")
    b.para("The AI RMF is voluntary guidance: its items are outcomes an organisation may aim for, not requirements.")
    b.table(
        ["Framework item (voluntary)", *MAP_COLUMNS],
        [
            (f"{r['item']}: {r['asks']}", r["supports"], r["not_covered"], "; ".join(r["evidence"]))
            for r in rows
            if not r["binding"]
        ],
        widths=(0.28, 0.25, 0.27, 0.2),
    )


def _trail(b: _Builder, ctx: Mapping[str, Any]) -> None:
    trail = ctx["trail"]
    b.h1("Audit trail events")
    b.para(
        "Each event is a leaf of Assay's append-only Merkle log (RFC 9162 hashing). The leaf hash is "
        "SHA-256(0x00 || leaf bytes); the checkpoint below is signed and covers every event listed, so an inclusion "
        "proof (GET /api/v1/trail/proofs/inclusion?seq=N&amp;tree_size=SIZE) proves each one against its root.",
        "small",
    )
    b.table(
        ["Seq", "Time (UTC)", "Action", "Object", "Leaf hash (SHA-256)"],
        [(e["seq"], e["time"], e["action"], e["object"], e["leaf_hash"]) for e in trail["events"]],
        widths=(0.06, 0.17, 0.15, 0.14, 0.48),
        mono_columns=(4,),
    )
    checkpoint = trail.get("checkpoint")
    b.h2("Checkpoint")
    if checkpoint is None:
        b.text("No checkpoint covers these events yet.")
        return
    b.pairs(
        [
            ("Tree size", fmt_number(checkpoint["tree_size"])),
            ("Root hash (hex)", checkpoint["root_hash"]),
            ("Issued", checkpoint["issued_at"]),
        ],
        mono_values=True,
    )
    from reportlab.platypus import Preformatted

    b.para("The signed checkpoint (C2SP signed note), verbatim:", "small")
    b.story.append(Preformatted(checkpoint["note"], b.styles["mono"]))


def render_report(context: Mapping[str, Any], charts: Mapping[int, Sequence[Chart]]) -> tuple[bytes, int]:
    """The report as PDF bytes and its page count.

    :param context: what ``audits.reports.service`` gathered (plain JSON-like values).
    :param charts: PNG charts per audit run id (``charts.charts_for_results``).
    """
    from reportlab import rl_config

    rl_config.useA85 = int(ASCII85_STREAMS)
    NumberedCanvas, ReportTemplate = _make_classes()
    b = _Builder()
    _cover(b, context)
    _contents(b)
    _summary(b, context)
    _model_card(b, context)
    _data(b, context)
    _run_sections(b, context, charts)
    _approvals(b, context)
    _regulation_map(b, context)
    _trail(b, context)

    buffer = io.BytesIO()
    model, version = context["model"], context["version"]
    doc = ReportTemplate(
        buffer,
        footer=f"Assay compliance report {context['report_id']} · {model['name']} v{version['number']}",
        pagesize=(210 * b.mm, 297 * b.mm),
        leftMargin=18 * b.mm,
        rightMargin=18 * b.mm,
        topMargin=16 * b.mm,
        bottomMargin=18 * b.mm,
        title=context["title"],
        author="Assay",
        subject=f"Compliance report {context['report_id']}: {model['name']} v{version['number']}, verdict "
        f"{context['verdict']}",
        keywords=["compliance", "audit", "EU AI Act", "NIST AI RMF", model["name"]],
        creator="Assay",
        lang="en",
        displayDocTitle=True,
    )
    pages = {"count": 0}

    class Counting(NumberedCanvas):  # type: ignore[misc, valid-type]
        def save(self) -> None:
            pages["count"] = len(self._saved)
            super().save()

    doc.multiBuild(b.story, canvasmaker=Counting)
    return buffer.getvalue(), pages["count"]
