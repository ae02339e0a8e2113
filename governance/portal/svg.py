"""Moved to :mod:`governance.web.portal.svg` (shared web plumbing); re-exported for old imports."""

from governance.web.portal.svg import (
    importance_chart,
    lineage_svg,
    rate_chart,
    series_chart,
)

__all__ = [
    "importance_chart",
    "lineage_svg",
    "rate_chart",
    "series_chart",
]
