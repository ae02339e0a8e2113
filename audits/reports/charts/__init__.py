"""Charts of an audit run's stored check results (matplotlib, Agg): PNG bytes for the PDF, SVG text for the portal.

Every chart function takes the plain JSON an audit stores (``AuditRun.results`` or one check's entry in
``results["checks"]``) and ``fmt="png"`` (bytes) or ``fmt="svg"`` (text). Output is deterministic: the same results
give the same bytes, so a chart can be cached, compared or hashed. Pure: no Django; matplotlib is imported inside
the functions, so importing this package costs nothing.

One module per family of checks, each with its charts and their plans (the ``report_charts`` a check registers in
``audits/checks/__init__.py``), over a shared core:

- ``core``: the style, the figure, deterministic rendering (:func:`draw_figure`), :class:`Chart` and
  :class:`PlannedChart`.
- ``results``: :func:`charts_for_results`, every chart a run's results support (the group rates, then each
  registered check's ``report_charts``, ``audits.checks.registry``), titled and captioned, in report order, drawn
  once per (results digest, chart, format) with a cache.
- ``groups``: group rates, impact ratios (``disparate_impact``) and group shares (``data_quality``).
- ``explainability``: SHAP importance and proxy associations.
- ``robustness``: the ``adversarial`` check's changed decisions.
- ``performance``: accuracy, balanced accuracy and F1 overall and per group.

This ``__init__`` re-exports the public API on purpose (the chart types, :func:`draw_figure` for a check's own
charts, :func:`charts_for_results` with its digest and cache key, and each chart function), so callers outside the
package need not know its layout. Code inside the project imports from the defining module, and tests patch a name
where it is used (in its module), never here.
"""

from audits.reports.charts.core import Chart, Format, PlannedChart, draw_figure
from audits.reports.charts.explainability import proxy_association_chart, shap_importance_chart
from audits.reports.charts.groups import group_rates_chart, group_shares_chart, impact_ratio_chart
from audits.reports.charts.performance import performance_chart
from audits.reports.charts.results import (
    CHARTS_REVISION,
    ChartCache,
    chart_cache_key,
    charts_for_results,
    results_digest,
)
from audits.reports.charts.robustness import robustness_chart

__all__ = [
    "CHARTS_REVISION",
    "Chart",
    "ChartCache",
    "Format",
    "PlannedChart",
    "chart_cache_key",
    "charts_for_results",
    "draw_figure",
    "group_rates_chart",
    "group_shares_chart",
    "impact_ratio_chart",
    "performance_chart",
    "proxy_association_chart",
    "results_digest",
    "robustness_chart",
    "shap_importance_chart",
]
