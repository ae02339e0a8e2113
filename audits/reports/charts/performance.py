"""The chart of the ``performance`` check and its plan: accuracy, balanced accuracy and F1 overall and per group."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from audits.reports.charts.core import BLUE, GREEN, ORANGE, RED, Format, PlannedChart, draw_figure, paint_empty


def performance_chart(performance: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Accuracy, balanced accuracy and F1, overall and for each group, as grouped bars; the policy's accuracy minimum
    (when it has one) as a dashed line.

    :param performance: ``results["checks"]["performance"]``.
    :param fmt: ``"png"`` or ``"svg"``.
    """
    metrics = ("accuracy", "balanced_accuracy", "f1")
    names = ["overall", *(performance.get("per_group") or {})]
    tables = {"overall": performance.get("overall") or {}, **(performance.get("per_group") or {})}
    limit = next((t.get("limit") for t in performance.get("thresholds") or [] if t.get("metric") == "accuracy"), None)

    def paint(ax: Any) -> None:
        if not tables["overall"]:
            paint_empty(ax, "no performance figures")
            return
        positions = list(range(len(names)))[::-1]
        height = 0.8 / len(metrics)
        for index, (metric, colour) in enumerate(zip(metrics, (BLUE, ORANGE, GREEN), strict=True)):
            values = [tables[name].get(metric) for name in names]
            ys = [y + 0.4 - height * (index + 0.5) for y in positions]
            ax.barh(ys, [v or 0.0 for v in values], height=height, color=colour, label=metric.replace("_", " "))
        if limit is not None:
            ax.axvline(limit, color=RED, linestyle="--", linewidth=1, label=f"accuracy minimum {limit:g}")
        ax.set_yticks(positions, [f"{n} (n={tables[n].get('count', '')})" if n != "overall" else n for n in names])
        ax.set_xlim(0, 1)
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        ax.set_xlabel("Score (1 is perfect)")

    return draw_figure(fmt, len(names) * 2, paint)


def plan_performance(performance: Mapping[str, Any]) -> list[PlannedChart]:
    """The performance chart of ``results["checks"]["performance"]``, when it has overall figures."""
    if not performance.get("overall"):
        return []
    return [
        PlannedChart(
            key="performance",
            check="performance",
            title="Performance overall and by group",
            caption="Accuracy, balanced accuracy and F1 overall and for each group.",
            draw=partial(performance_chart, performance),
        )
    ]
