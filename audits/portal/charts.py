"""Charts of a check's results for the run page, as SVG text.

The portal draws them with ``governance.portal.svg`` (pure, escaped). The signed PDF report (issue 8) has its own
chart functions; when they exist, this is the one place that would switch to them so the page and the PDF agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from governance.portal.svg import importance_chart, rate_chart


def for_check(name: str, details: Mapping[str, Any]) -> list[str]:
    """The charts for one check's details (an empty list when the check has none)."""
    try:
        if name == "disparate_impact":
            return [_impact_ratios(details, grouping) for grouping in details.get("groupings", [])]
        if name == "group_fairness":
            return [_selection_rates(grouping) for grouping in details.get("groupings", [])]
        if name == "explainability" and details.get("global_importance"):
            rows = [(row["feature"], float(row["share"])) for row in details["global_importance"][:15]]
            return [importance_chart(rows, title="Share of the mean absolute SHAP value per feature")]
    except (KeyError, TypeError, ValueError):
        return []  # results of another shape (an older engine): the tables still show every number
    return []


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
