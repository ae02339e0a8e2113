"""Charts of the ``explainability`` check: which features the model leans on, and which stand in for a protected
attribute, each with its plan (the charts the check's results support).

- :func:`shap_importance_chart`: mean |SHAP| per feature, protected attributes and their proxies highlighted.
- :func:`proxy_association_chart`: Cramér's V of each feature with each protected attribute (proxy detection).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from audits.reports.charts.core import BLUE, COLOUR_WORDS, ORANGE, RED, Format, PlannedChart, draw_figure, paint_empty


def shap_importance_chart(explainability: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Mean absolute SHAP value per feature (global importance), largest first; protected attributes that are model
    inputs in orange-red, features flagged as their proxies in amber, the others blue.

    :param explainability: ``results["checks"]["explainability"]``.
    :param fmt: ``"png"`` or ``"svg"``.
    """
    importance = list(explainability.get("global_importance") or [])
    protected = {
        entry["attribute"] for entry in explainability.get("protected_attributes") or [] if entry.get("model_input")
    }
    proxies = {entry["feature"] for entry in explainability.get("proxies") or []}

    def colour(feature: str) -> str:
        return RED if feature in protected else ORANGE if feature in proxies else BLUE

    def paint(ax: Any) -> None:
        if not importance:
            paint_empty(ax, "no attributions")
            return
        positions = list(range(len(importance)))[::-1]
        values = [float(entry.get("mean_abs_shap") or 0.0) for entry in importance]
        labels = [
            entry["feature"]
            + (" (protected)" if entry["feature"] in protected else " (proxy)" if entry["feature"] in proxies else "")
            for entry in importance
        ]
        ax.barh(positions, values, color=[colour(entry["feature"]) for entry in importance], height=0.6)
        for y, value, entry in zip(positions, values, importance, strict=True):
            share = entry.get("share")
            ax.text(value, y, f" {value:.3f}" + (f" ({share:.0%})" if share is not None else ""), va="center")
        ax.set_yticks(positions, labels)
        ax.set_xlim(0, max(values) * 1.3 if max(values) > 0 else 1)
        ax.set_xlabel("Mean |SHAP value| (share of all attribution)")

    return draw_figure(fmt, len(importance), paint)


def proxy_association_chart(explainability: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Cramér's V between each feature and each protected attribute, with the proxy rule's minimum as a dashed line:
    a feature strongly associated with a protected attribute can carry it into decisions even when the attribute
    itself is not a model input.

    :param explainability: ``results["checks"]["explainability"]`` (its ``associations`` and ``proxy_rule``).
    :param fmt: ``"png"`` or ``"svg"``.
    """
    rows = [
        (f"{entry['feature']} ~ {entry['attribute']}", float(entry.get("cramers_v") or 0.0))
        for entry in explainability.get("associations") or []
    ]
    limit = (explainability.get("proxy_rule") or {}).get("min_cramers_v")

    def paint(ax: Any) -> None:
        if not rows:
            paint_empty(ax, "no associations measured")
            return
        positions = list(range(len(rows)))[::-1]
        colours = [ORANGE if limit is not None and v >= limit else BLUE for _, v in rows]
        ax.barh(positions, [v for _, v in rows], color=colours, height=0.6)
        for y, (_, value) in zip(positions, rows, strict=True):
            ax.text(value, y, f" {value:.2f}", va="center", fontsize=7)
        if limit is not None:
            ax.axvline(limit, color=RED, linestyle="--", linewidth=1)
        ax.set_yticks(positions, [label for label, _ in rows])
        ax.set_xlim(0, 1.12)
        ax.set_xlabel("Cramér's V (0: no association, 1: the feature determines the attribute)")

    return draw_figure(fmt, len(rows), paint)


def plan_explainability(explainability: Mapping[str, Any]) -> list[PlannedChart]:
    """The importance and proxy-association charts of ``results["checks"]["explainability"]``, those it supports."""
    charts = []
    if explainability.get("global_importance"):
        charts.append(
            PlannedChart(
                key="shap_importance",
                check="explainability",
                title="Feature importance (mean |SHAP|)",
                caption=f"Mean absolute SHAP value of each feature; protected attributes in {COLOUR_WORDS[RED]}, "
                f"their proxies in {COLOUR_WORDS[ORANGE]}, the others {COLOUR_WORDS[BLUE]}.",
                draw=partial(shap_importance_chart, explainability),
            )
        )
    if explainability.get("associations"):
        charts.append(
            PlannedChart(
                key="proxy_associations",
                check="explainability",
                title="Association of features with protected attributes",
                caption=f"Cramér's V between each feature and each protected attribute; {COLOUR_WORDS[ORANGE]} at or "
                "above the proxy rule's minimum (dashed line).",
                draw=partial(proxy_association_chart, explainability),
            )
        )
    return charts
