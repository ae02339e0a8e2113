"""Charts of an audit run's results, drawn once and kept in Django's cache.

A chart depends only on the run's stored results (and on the chart code and matplotlib), so its bytes are kept by
(results digest, chart, format): a run report, a version report that shows the same run, an evidence bundle that
builds both, and the portal's run page (the SVG variants) draw each chart once. The cache is whatever ``CACHES``
configures (per process by default, shared with Redis when ``CACHE_URL`` is set); a miss only costs a render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.cache import cache

from audits.reports.charts.core import Chart, Format
from audits.reports.charts.results import charts_for_results

# The same results always give the same chart, so an entry is never wrong, only possibly unused: a week is long
# enough for every report and page of a run to share it, short enough not to keep charts nobody asks for.
CHART_TIMEOUT_SECONDS = 7 * 24 * 3600


class _DjangoCharts:
    """The two calls ``charts_for_results`` makes, on the default cache with the charts' timeout."""

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return cache.get_many(keys)

    def set_many(self, data: dict[str, Any]) -> Any:
        return cache.set_many(data, timeout=CHART_TIMEOUT_SECONDS)


def cached_charts(results: Mapping[str, Any], *, fmt: Format) -> list[Chart]:
    """Every chart of ``results`` in ``fmt`` (``charts.results.charts_for_results``), drawn only where not cached."""
    return charts_for_results(results, fmt=fmt, cache=_DjangoCharts())
