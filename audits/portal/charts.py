"""Charts of a check's results for the run page: the signed PDF report's own charts (``audits.reports.charts``), so
the page and the PDF show the same pictures, with the portal's light SVG charts (``governance.web.portal.svg``) as the
fallback when a report chart cannot be drawn.

The report charts are matplotlib SVG; each is embedded as an ``<img>`` (its ids cannot clash with the page's) with
its caption as alternative text; each chart is drawn once per results and cached (the same results, the same picture).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from audits.checks import registry
from audits.reports.chart_cache import cached_charts
from governance.web.portal.svg import importance_chart, rate_chart

_FIGURE = (
    '<figure><img src="data:image/svg+xml;base64,{}" alt="{}" class="chart">'
    '<figcaption class="small muted">{}</figcaption></figure>'
)


def for_run(run: Any, name: str, details: Mapping[str, Any]) -> list[SafeString]:
    """The charts of check ``name`` of ``run``: the report's when it draws any, else the portal's own."""
    report = [chart for chart in _report_charts(run) if chart["check"] == name]
    if report:
        return [format_html(_FIGURE, c["image"], c["caption"], c["caption"]) for c in report]
    return [mark_safe(svg) for svg in for_check(name, details)]  # noqa: S308 - svg.py escapes every text


def _report_charts(run: Any) -> list[dict[str, str]]:
    if not run.results_sha256 or not run.results:
        return []
    # Each chart is drawn once per results and kept (audits.reports.chart_cache), shared with the reports.
    return [
        {
            "check": chart.check,
            "caption": f"{chart.title}. {chart.caption}",
            "image": base64.b64encode(str(chart.image).encode("utf-8")).decode("ascii"),
        }
        for chart in cached_charts(run.results, fmt="svg")
    ]


def for_check(name: str, details: Mapping[str, Any]) -> list[str]:
    """The portal's own charts for one check's details (its ``portal_charts`` in ``audits.checks.registry``); an
    empty list when the check has none."""
    spec = registry.find(name)
    draw = spec.get("portal_charts") if spec else None
    if draw is None:
        return []
    try:
        return list(draw(details))
    except (KeyError, TypeError, ValueError):
        return []  # results of another shape (an older engine): the tables still show every number


def impact_ratio_svgs(details: Mapping[str, Any]) -> list[str]:
    """disparate_impact: each grouping's impact ratios against the policy's minimum."""
    return [_impact_ratios(details, grouping) for grouping in details.get("groupings", [])]


def selection_rate_svgs(details: Mapping[str, Any]) -> list[str]:
    """group_fairness: each grouping's selection rates with their confidence intervals."""
    return [_selection_rates(grouping) for grouping in details.get("groupings", [])]


def importance_svgs(details: Mapping[str, Any]) -> list[str]:
    """explainability: the share of attribution of the 15 most important features."""
    if not details.get("global_importance"):
        return []
    rows = [(row["feature"], float(row["share"])) for row in details["global_importance"][:15]]
    return [importance_chart(rows, title="Share of the mean absolute SHAP value per feature")]


def _impact_ratios(details: Mapping[str, Any], grouping: Mapping[str, Any]) -> str:
    limit = details.get("impact_ratio_min")
    rows = [(g["group"], g.get("impact_ratio"), None) for g in grouping["groups"]]
    return rate_chart(
        rows,
        title=f"Impact ratio by {grouping['grouping']} (against {grouping.get('reference_group', 'the reference')})",
        limit=float(limit) if limit is not None else None,
        limit_label=f"minimum {limit:g}" if limit is not None else "",
        maximum=1.2,
    )


def _selection_rates(grouping: Mapping[str, Any]) -> str:
    rows = [(g["group"], g.get("selection_rate"), g.get("selection_rate_interval")) for g in grouping["groups"]]
    return rate_chart(rows, title=f"Selection rate by {grouping['grouping']}, with confidence intervals")
