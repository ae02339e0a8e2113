"""Every chart of a run's stored results, in report order, drawn once per results with a cache.

:func:`charts_for_results` plans the charts the results support (the group rates, then each registered check's
``report_charts``, ``audits.checks.registry``) and draws them; with a ``cache`` (anything with
``get_many``/``set_many``, e.g. Django's cache) a chart is drawn once per (results digest, chart, format) and its
bytes are reused by every report and page that shows it. Pure: no Django.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache as _memoize
from importlib.metadata import version
from typing import Any, Protocol

from audits.checks import registry
from audits.reports.charts.core import Chart, Format, PlannedChart
from audits.reports.charts.groups import plan_group_rates

# Part of every cache key: bump it whenever a change in this package changes what a chart looks like, so stale bytes
# are never served (the matplotlib version is in the key too: the same results, another matplotlib, other pixels).
CHARTS_REVISION = 2


class ChartCache(Protocol):
    """What :func:`charts_for_results` needs of a cache (Django's cache has both methods)."""

    def get_many(self, keys: list[str]) -> dict[str, Any]: ...

    def set_many(self, data: dict[str, Any]) -> Any: ...


@_memoize
def _matplotlib_version() -> str:
    return version("matplotlib")


def results_digest(results: Mapping[str, Any]) -> str:
    """SHA-256 of ``results`` in the audits' canonical JSON spelling (``audits.actions.canonical_sha256``; the run's
    ``results_sha256`` also covers its verdict, which no chart shows)."""
    text = json.dumps(results, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chart_cache_key(digest: str, key: str, fmt: Format) -> str:
    """The cache key of one chart of the results with ``digest`` in ``fmt``."""
    return f"assay:chart:{CHARTS_REVISION}:{_matplotlib_version()}:{digest}:{fmt}:{key}"


def charts_for_results(
    results: Mapping[str, Any], *, fmt: Format = "png", cache: ChartCache | None = None
) -> list[Chart]:
    """Every chart a run's stored ``results`` support, in the order a report shows them.

    Group rates (selection, true-positive, false-positive rates and precision) come from the run's recorded group
    metrics, so they exist for every completed run; the others exist when the policy ran their check.

    :param results: ``AuditRun.results``.
    :param fmt: ``"png"`` (bytes) or ``"svg"`` (text).
    :param cache: where drawn charts are kept, keyed by :func:`chart_cache_key` (the results' digest, the chart,
        the format): charts found there are not drawn again, charts drawn are stored there. Rendering is
        deterministic, so a cached chart is byte for byte the one a fresh render gives.
    """
    planned = _plan(results)
    if cache is None:
        return [Chart(p.key, p.check, p.title, p.caption, p.draw(fmt=fmt)) for p in planned]
    digest = results_digest(results)
    keys = {p.key: chart_cache_key(digest, p.key, fmt) for p in planned}
    found = cache.get_many(list(keys.values())) if keys else {}
    drawn = {keys[p.key]: p.draw(fmt=fmt) for p in planned if keys[p.key] not in found}
    if drawn:
        cache.set_many(drawn)
    images = {**found, **drawn}
    return [Chart(p.key, p.check, p.title, p.caption, images[keys[p.key]]) for p in planned]


def _plan(results: Mapping[str, Any]) -> list[PlannedChart]:
    """Every chart ``results`` support, not drawn yet: each one's ``draw(fmt)`` renders it. The group rates come
    from the group metrics every run records (``groups.plan_group_rates``); then each registered check's charts
    (its ``report_charts``, in the registry's order), for the checks the run has."""
    charts = plan_group_rates((results.get("group_metrics") or {}).get("groupings") or {})
    checks = results.get("checks") or {}
    for spec in registry.specs():
        plan = spec.get("report_charts")
        if plan is not None and isinstance(checks.get(spec.name), Mapping):
            charts.extend(plan(checks[spec.name]))
    return charts
