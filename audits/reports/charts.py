"""Charts of an audit run's stored check results (matplotlib, Agg): PNG bytes for the PDF, SVG text for the portal.

Every function takes the plain JSON an audit stores (``AuditRun.results`` or one check's entry in
``results["checks"]``) and ``fmt="png"`` (bytes) or ``fmt="svg"`` (text). Output is deterministic: the same results
give the same bytes (no dates or software versions in the file metadata, a fixed SVG hash salt, fixed sizes and
fonts), so a chart can be cached, compared or hashed. Pure: no Django. matplotlib is imported inside the functions,
so importing this module costs nothing.

- :func:`group_rates_chart`: one rate per group (selection rate, true-positive rate, ...) with its Wilson interval.
- :func:`impact_ratio_chart`: each group's impact ratio with the policy's line (0.8 under the four-fifths rule).
- :func:`shap_importance_chart`: mean |SHAP| per feature, protected attributes and their proxies highlighted.
- :func:`proxy_association_chart`: Cramér's V of each feature with each protected attribute (proxy detection).
- :func:`robustness_chart`: evasion-attack success within epsilon, random-noise and counterfactual flip rates.
- :func:`performance_chart`: accuracy, balanced accuracy and F1 overall and per group.
- :func:`group_shares_chart`: each group's share of the evaluation data.
- :func:`charts_for_results`: every chart a run's results support, titled and captioned, in report order.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["png", "svg"]

# Colours that stay distinguishable in grey-scale print and for the common colour-vision deficiencies.
BLUE, ORANGE, RED, GREY, GREEN = "#0072B2", "#E69F00", "#D55E00", "#7F7F7F", "#009E73"
WIDTH_INCHES = 6.4
PNG_DPI = 110

RATE_LABELS = {
    "selection_rate": "Selection rate",
    "true_positive_rate": "True-positive rate",
    "false_positive_rate": "False-positive rate",
    "false_negative_rate": "False-negative rate",
    "true_negative_rate": "True-negative rate",
    "precision": "Precision",
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: which check it belongs to, its title, a caption that says in words what it shows (the
    alternative text), and the image (PNG bytes or SVG text)."""

    key: str
    check: str
    title: str
    caption: str
    image: bytes | str


def _style() -> dict[str, Any]:
    return {
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "assay-report",
        "svg.fonttype": "none",  # text stays text in SVG (searchable, accessible)
        "path.simplify": True,
    }


def _figure(rows: int) -> Any:
    from matplotlib.figure import Figure

    height = min(max(1.2 + 0.26 * rows, 2.0), 7.5)
    return Figure(figsize=(WIDTH_INCHES, height), layout="constrained")


def _render(figure: Any, fmt: Format) -> bytes | str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    if fmt == "png":
        # No "Software" text chunk: the bytes depend on the data only.
        figure.savefig(out, format="png", dpi=PNG_DPI, metadata={"Software": None})
        return out.getvalue()
    if fmt == "svg":
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        return out.getvalue().decode("utf-8")
    raise ValueError(f"fmt must be 'png' or 'svg', not {fmt!r}")


def _draw(fmt: Format, rows: int, paint: Any) -> bytes | str:
    import matplotlib

    with matplotlib.rc_context(_style()):  # type: ignore[arg-type]  # rc keys are checked at run time
        figure = _figure(rows)
        paint(figure.add_subplot())
        return _render(figure, fmt)


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_axis_off()


def group_rates_chart(
    groupings: Mapping[str, Mapping[str, Mapping[str, Any]]], *, metric: str = "selection_rate", fmt: Format = "png"
) -> bytes | str:
    """Per-group ``metric`` with its confidence interval, one row per group, grouped by attribute.

    :param groupings: ``results["group_metrics"]["groupings"]``: grouping name -> group name -> that group's counts,
        rates and ``<rate>_interval`` pairs.
    :param metric: one of the rate names (``selection_rate``, ``true_positive_rate``, ``false_positive_rate``,
        ``false_negative_rate``, ``true_negative_rate``, ``precision``).
    :param fmt: ``"png"`` (bytes) or ``"svg"`` (text).

    Groups below the policy's minimum size are drawn in grey; a rate that is undefined (no one in the denominator)
    is left out, and the label says so.
    """
    rows: list[tuple[str, float | None, Sequence[Any] | None, bool]] = []
    for grouping in groupings:
        for group, values in groupings[grouping].items():
            value = values.get(metric)
            rows.append(
                (
                    f"{group} (n={values.get('count', '?')})" + ("" if value is not None else ": undefined"),
                    value,
                    values.get(f"{metric}_interval"),
                    bool(values.get("below_min_group_size")),
                )
            )

    def paint(ax: Any) -> None:
        if not rows:
            _empty(ax, "no groups")
            return
        positions = list(range(len(rows)))[::-1]
        for y, (_label, value, interval, small) in zip(positions, rows, strict=True):
            if value is None:
                continue
            colour = GREY if small else BLUE
            if interval and interval[0] is not None and interval[1] is not None:
                ax.plot([interval[0], interval[1]], [y, y], color=colour, linewidth=2.2, solid_capstyle="butt")
            ax.plot([value], [y], marker="o", color=colour, markersize=5)
        ax.set_yticks(positions, [label for label, *_ in rows])
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{RATE_LABELS.get(metric, metric)} (dot) with its 95% Wilson interval (bar)")
        ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
        ax.set_axisbelow(True)

    return _draw(fmt, len(rows), paint)


def impact_ratio_chart(disparate_impact: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Each group's impact ratio (its rate over the reference group's) as a bar, with the policy's minimum as a
    dashed line (``impact_ratio_min``, 0.8 under the four-fifths rule).

    :param disparate_impact: ``results["checks"]["disparate_impact"]``.
    :param fmt: ``"png"`` or ``"svg"``.

    Bars below the line are red, at or above it blue; reference groups (ratio 1 by definition) and groups left out
    (below the policy's share) are grey.
    """
    limit = disparate_impact.get("impact_ratio_min")
    rows: list[tuple[str, float | None, str]] = []
    for grouping in disparate_impact.get("groupings") or []:
        for group in grouping.get("groups") or []:
            ratio = group.get("impact_ratio")
            if group.get("reference"):
                colour, suffix = GREY, " (reference)"
            elif group.get("excluded_below_share") or ratio is None:
                colour, suffix = GREY, " (left out)"
            elif limit is not None and ratio < limit:
                colour, suffix = RED, ""
            else:
                colour, suffix = BLUE, ""
            rows.append((f"{group['group']}{suffix}", ratio, colour))

    def paint(ax: Any) -> None:
        if not rows:
            _empty(ax, "no impact ratios")
            return
        positions = list(range(len(rows)))[::-1]
        ax.barh(positions, [r or 0.0 for _, r, _ in rows], color=[c for *_, c in rows], height=0.6)
        for y, (_, ratio, _) in zip(positions, rows, strict=True):
            if ratio is not None:
                ax.text(ratio + 0.01, y, f"{ratio:.3f}", va="center", fontsize=7)
        if limit is not None:
            ax.axvline(limit, color=RED, linestyle="--", linewidth=1)
            ax.text(limit, len(rows) - 0.45, f" minimum {limit:g}", color=RED, fontsize=7, va="bottom")
        ax.set_yticks(positions, [label for label, *_ in rows])
        ax.set_xlim(0, max(1.15, max((r or 0.0) for _, r, _ in rows) + 0.1))
        ax.set_ylim(-0.6, len(rows) - 0.1)
        ax.set_xlabel("Impact ratio: the group's rate divided by the reference group's rate")

    return _draw(fmt, len(rows) + 1, paint)


def shap_importance_chart(explainability: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Mean absolute SHAP value per feature (global importance), largest first; protected attributes that are model
    inputs in red, features flagged as their proxies in orange, the others blue.

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
            _empty(ax, "no attributions")
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

    return _draw(fmt, len(importance), paint)


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
            _empty(ax, "no associations measured")
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

    return _draw(fmt, len(rows), paint)


def robustness_chart(adversarial: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Rates of changed decisions: the evasion attack's success within epsilon (against the policy's maximum),
    random noise of the same size, and each protected attribute's counterfactual flip rate (against its maximum).

    :param adversarial: ``results["checks"]["adversarial"]``.
    :param fmt: ``"png"`` or ``"svg"``.
    """
    rows: list[tuple[str, float, float | None]] = []
    attack = adversarial.get("attack") or {}
    if attack.get("ran") and attack.get("success_rate_within_epsilon") is not None:
        name = str(attack.get("name", "attack")).replace("_", " ")
        rows.append(
            (
                f"{name}: success within epsilon",
                attack["success_rate_within_epsilon"],
                adversarial.get("max_success_rate"),
            )
        )
    noise = adversarial.get("noise") or {}
    if noise.get("flip_rate") is not None:
        rows.append(("random noise within epsilon (not judged)", noise["flip_rate"], None))
    for entry in (adversarial.get("counterfactual") or {}).get("attributes") or []:
        if entry.get("applies") and entry.get("flip_rate") is not None:
            rows.append(
                (
                    f"counterfactual: only {entry['attribute']} changes",
                    entry["flip_rate"],
                    adversarial.get("counterfactual_flip_rate_max"),
                )
            )

    def paint(ax: Any) -> None:
        if not rows:
            _empty(ax, "no robustness test could run")
            return
        positions = list(range(len(rows)))[::-1]
        colours = [
            RED if limit is not None and value > limit else BLUE if limit is not None else GREY
            for _, value, limit in rows
        ]
        ax.barh(positions, [value for _, value, _ in rows], color=colours, height=0.5)
        for y, (_, value, limit) in zip(positions, rows, strict=True):
            ax.text(value, y, f" {value:.1%}", va="center")
            if limit is not None:
                ax.plot([limit, limit], [y - 0.35, y + 0.35], color=RED, linestyle="--", linewidth=1)
                ax.text(limit, y + 0.36, f"max {limit:.0%}", color=RED, fontsize=6.5, ha="center")
        ax.set_yticks(positions, [label for label, *_ in rows])
        top = max([value for _, value, _ in rows] + [limit or 0.0 for *_, limit in rows])
        ax.set_xlim(0, max(0.1, top * 1.35))
        ax.set_ylim(-0.6, len(rows) - 0.2)
        ax.set_xlabel("Share of decisions that changed")

    return _draw(fmt, len(rows) + 1, paint)


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
            _empty(ax, "no performance figures")
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

    return _draw(fmt, len(names) * 2, paint)


def group_shares_chart(data_quality: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Each group's share of the evaluation data, with the policy's minimum share as a dashed line.

    :param data_quality: ``results["checks"]["data_quality"]``.
    :param fmt: ``"png"`` or ``"svg"``.
    """
    rows = [
        (f"{attribute}={group}", float(share))
        for attribute, shares in (data_quality.get("group_shares") or {}).items()
        for group, share in shares.items()
        if share is not None
    ]
    limit = ((data_quality.get("thresholds") or {}).get("min_group_share") or {}).get("value")

    def paint(ax: Any) -> None:
        if not rows:
            _empty(ax, "no group shares")
            return
        positions = list(range(len(rows)))[::-1]
        ax.barh(
            positions, [s for _, s in rows], color=[RED if limit and s < limit else BLUE for _, s in rows], height=0.6
        )
        for y, (_, share) in zip(positions, rows, strict=True):
            ax.text(share, y, f" {share:.1%}", va="center")
        if limit:
            ax.axvline(limit, color=RED, linestyle="--", linewidth=1)
        ax.set_yticks(positions, [label for label, _ in rows])
        ax.set_xlim(0, 1.1)
        ax.set_xlabel("Share of the evaluation rows" + (f" (minimum {limit:.0%})" if limit else ""))

    return _draw(fmt, len(rows), paint)


def charts_for_results(results: Mapping[str, Any], *, fmt: Format = "png") -> list[Chart]:
    """Every chart a run's stored ``results`` support, in the order a report shows them.

    Group rates (selection, true-positive, false-positive rates and precision) come from the run's recorded group
    metrics, so they exist for every completed run; the others exist when the policy ran their check.
    """
    charts: list[Chart] = []
    groupings = (results.get("group_metrics") or {}).get("groupings") or {}
    checks = results.get("checks") or {}
    if groupings:
        for metric in ("selection_rate", "true_positive_rate", "false_positive_rate", "precision"):
            label = RATE_LABELS[metric]
            charts.append(
                Chart(
                    key=f"group_rates:{metric}",
                    check="group_fairness",
                    title=f"{label} by group",
                    caption=f"{label} of each group (dot) with its 95% Wilson confidence interval (bar); groups "
                    "below the policy's minimum size in grey.",
                    image=group_rates_chart(groupings, metric=metric, fmt=fmt),
                )
            )
    if "disparate_impact" in checks and checks["disparate_impact"].get("groupings"):
        limit = checks["disparate_impact"].get("impact_ratio_min")
        charts.append(
            Chart(
                key="impact_ratio",
                check="disparate_impact",
                title="Impact ratios",
                caption="Each group's rate divided by the reference group's; red bars are below the minimum of "
                f"{limit:g} (dashed line)."
                if limit is not None
                else "Each group's rate divided by the reference's.",
                image=impact_ratio_chart(checks["disparate_impact"], fmt=fmt),
            )
        )
    if checks.get("performance", {}).get("overall"):
        charts.append(
            Chart(
                key="performance",
                check="performance",
                title="Performance overall and by group",
                caption="Accuracy, balanced accuracy and F1 overall and for each group.",
                image=performance_chart(checks["performance"], fmt=fmt),
            )
        )
    if checks.get("data_quality", {}).get("group_shares"):
        charts.append(
            Chart(
                key="group_shares",
                check="data_quality",
                title="Group shares of the evaluation data",
                caption="Each group's share of the evaluation rows; red below the policy's minimum share.",
                image=group_shares_chart(checks["data_quality"], fmt=fmt),
            )
        )
    if checks.get("explainability", {}).get("global_importance"):
        charts.append(
            Chart(
                key="shap_importance",
                check="explainability",
                title="Feature importance (mean |SHAP|)",
                caption="Mean absolute SHAP value of each feature; protected attributes in red, their proxies "
                "in orange.",
                image=shap_importance_chart(checks["explainability"], fmt=fmt),
            )
        )
    if checks.get("explainability", {}).get("associations"):
        charts.append(
            Chart(
                key="proxy_associations",
                check="explainability",
                title="Association of features with protected attributes",
                caption="Cramér's V between each feature and each protected attribute; orange at or above the proxy "
                "rule's minimum (dashed line).",
                image=proxy_association_chart(checks["explainability"], fmt=fmt),
            )
        )
    adversarial = checks.get("adversarial") or {}
    if (adversarial.get("attack") or {}).get("ran") or (adversarial.get("noise") or {}).get("flip_rate") is not None:
        charts.append(
            Chart(
                key="robustness",
                check="adversarial",
                title="Robustness: decisions changed",
                caption="Share of decisions changed by the evasion attack within epsilon, by random noise of the same "
                "size, and by changing only a protected attribute; dashed lines are the policy's maxima.",
                image=robustness_chart(adversarial, fmt=fmt),
            )
        )
    return charts
