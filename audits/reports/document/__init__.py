"""The PDF layout of a compliance report (reportlab platypus). Pure: a plain dict in, PDF bytes out; no Django.

``render_report(context, charts)`` lays out what :mod:`audits.reports.service` gathered: a cover page, a table of
contents, the executive summary in plain words, the model card, data and lineage, one section per check with its
tables and charts, the NYC Local Law 144 bias-audit table when that policy applies, approvals and sign-offs, the
regulation map, and the trail events with the checkpoint that includes them.

Everything is real text in an embedded Unicode font (DejaVu, shipped with matplotlib), so it can be searched, copied
and read aloud; every page says "Page N of M"; headings are PDF bookmarks (the outline) and entries of the table of
contents; the document carries its title, subject, author and language, and it is a tagged PDF (a structure tree
of headings, paragraphs, tables and figures with their alternative text: ``tagging``). Text that people typed
(purposes, reasons, model card fields) is escaped, never interpreted as markup.

The layout is a package, one module per group of sections: ``builder`` (fonts, styles, the page template, the
``_Builder`` and the text helpers), ``summary`` (cover, contents, executive summary), ``evidence`` (model card, data
and lineage, approvals, trail), ``checks`` (each audit run and each check's section), ``ll144`` (the LL144
bias-audit summary) and ``regulation_map``. Every name the module had is importable from here. The benchmark's
switches ``ASCII85_STREAMS`` and ``PLAIN_TEXT_CELLS`` are read where they are used: set them on ``builder``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from audits.reports.charts.core import Chart
from audits.reports.document import builder
from audits.reports.document.builder import (
    OUTCOME_COLOURS,
    OUTCOME_WORDS,
    _Builder,
    _make_classes,
    _Markup,
    esc,
    fmt_interval,
    fmt_number,
)
from audits.reports.document.checks import _run_sections, check_section, check_title
from audits.reports.document.evidence import _approvals, _data, _model_card, _trail
from audits.reports.document.regulation_map import (
    EU_AI_ACT,
    MAP_COLUMNS,
    NIST_AI_RMF,
    REGULATION_MAP,
    MapRow,
    _regulation_map,
    regulation_map_rows,
)
from audits.reports.document.summary import _contents, _cover, _summary, why_it_matters
from audits.reports.document.tagging import add_structure

__all__ = [
    "EU_AI_ACT",
    "MAP_COLUMNS",
    "NIST_AI_RMF",
    "OUTCOME_COLOURS",
    "OUTCOME_WORDS",
    "REGULATION_MAP",
    "MapRow",
    "_Builder",
    "_Markup",
    "_regulation_map",
    "check_section",
    "check_title",
    "esc",
    "fmt_interval",
    "fmt_number",
    "regulation_map_rows",
    "render_report",
    "why_it_matters",
]


def render_report(context: Mapping[str, Any], charts: Mapping[int, Sequence[Chart]]) -> tuple[bytes, int]:
    """The report as PDF bytes and its page count.

    :param context: what ``audits.reports.service`` gathered (plain JSON-like values).
    :param charts: PNG charts per audit run id (``charts.charts_for_results``).
    """
    from reportlab import rl_config

    rl_config.useA85 = int(builder.ASCII85_STREAMS)
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
    return add_structure(buffer.getvalue(), doc.tagged.tags, lang="en"), pages["count"]
