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
- :func:`charts_for_results`: every chart a run's results support (the group rates, then each registered check's
  ``report_charts``, ``audits.checks.registry``), titled and captioned, in report order; with a
  ``cache`` (anything with ``get_many``/``set_many``, e.g. Django's cache), a chart is drawn once per
  (results digest, chart, format) and its bytes are reused by every report and page that shows it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache as _memoize
from functools import partial
from typing import Any, Literal, Protocol

from audits.checks import registry

Format = Literal["png", "svg"]

# Part of every cache key: bump it whenever a change here changes what a chart looks like, so stale bytes are never
# served (the matplotlib version is in the key too: the same results, another matplotlib, other pixels).
CHARTS_REVISION = 2

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

    canvas = FigureCanvasAgg(figure)
    out = io.BytesIO()
    if fmt == "png":
        from PIL import Image

        # One draw, which runs the constrained layout itself: savefig draws twice (a layout pass, then the pixels)
        # for the same picture. Saved as RGB, not RGBA: the background is opaque white anyway, and without an alpha
        # channel the PDF needs no soft mask (half the image work in reportlab). No text chunks: the bytes depend
        # on the data only.
        figure.set_dpi(PNG_DPI)
        canvas.draw()
        width, height = canvas.get_width_height()
        pixels = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        pixels.convert("RGB").save(out, format="png")
        return out.getvalue()
    if fmt == "svg":
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        return out.getvalue().decode("utf-8")
    raise ValueError(f"fmt must be 'png' or 'svg', not {fmt!r}")


def draw_figure(fmt: Format, rows: int, paint: Callable[[Any], None]) -> bytes | str:
    """A chart in the report's style: ``paint(ax)`` draws on the axes of a figure sized for ``rows`` rows; PNG bytes
    or SVG text, deterministic (for a check's own charts, see :class:`PlannedChart`)."""
    return _draw(fmt, rows, paint)


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


class ChartCache(Protocol):
    """What :func:`charts_for_results` needs of a cache (Django's cache has both methods)."""

    def get_many(self, keys: list[str]) -> dict[str, Any]: ...

    def set_many(self, data: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class PlannedChart:
    """A chart a check's results support, not drawn yet: what a check's ``report_charts`` returns
    (``audits.checks.registry``). ``check`` is the check whose section shows it; ``key`` names it among the run's
    charts (and in the cache); ``draw(fmt=...)`` renders it, e.g. ``partial(my_chart, details)`` over
    :func:`draw_figure`."""

    key: str
    check: str
    title: str
    caption: str
    draw: Callable[..., bytes | str]  # draw(fmt=...)


@_memoize
def _matplotlib_version() -> str:
    from importlib.metadata import version

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
    from the group metrics every run records; then each registered check's charts (its ``report_charts``, in the
    registry's order), for the checks the run has."""
    charts: list[PlannedChart] = []
    groupings = (results.get("group_metrics") or {}).get("groupings") or {}
    checks = results.get("checks") or {}
    if groupings:
        for metric in ("selection_rate", "true_positive_rate", "false_positive_rate", "precision"):
            label = RATE_LABELS[metric]
            charts.append(
                PlannedChart(
                    key=f"group_rates:{metric}",
                    check="group_fairness",
                    title=f"{label} by group",
                    caption=f"{label} of each group (dot) with its 95% Wilson confidence interval (bar); groups "
                    "below the policy's minimum size in grey.",
                    draw=partial(group_rates_chart, groupings, metric=metric),
                )
            )
    for spec in registry.specs():
        plan = spec.get("report_charts")
        if plan is not None and isinstance(checks.get(spec.name), Mapping):
            charts.extend(plan(checks[spec.name]))
    return charts


def plan_impact_ratio(disparate_impact: Mapping[str, Any]) -> list[PlannedChart]:
    """The impact-ratio chart of ``results["checks"]["disparate_impact"]``, when it has groupings."""
    if not disparate_impact.get("groupings"):
        return []
    limit = disparate_impact.get("impact_ratio_min")
    return [
        PlannedChart(
            key="impact_ratio",
            check="disparate_impact",
            title="Impact ratios",
            caption="Each group's rate divided by the reference group's; red bars are below the minimum of "
            f"{limit:g} (dashed line)."
            if limit is not None
            else "Each group's rate divided by the reference's.",
            draw=partial(impact_ratio_chart, disparate_impact),
        )
    ]


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


def plan_group_shares(data_quality: Mapping[str, Any]) -> list[PlannedChart]:
    """The group-shares chart of ``results["checks"]["data_quality"]``, when it has group shares."""
    if not data_quality.get("group_shares"):
        return []
    return [
        PlannedChart(
            key="group_shares",
            check="data_quality",
            title="Group shares of the evaluation data",
            caption="Each group's share of the evaluation rows; red below the policy's minimum share.",
            draw=partial(group_shares_chart, data_quality),
        )
    ]


def plan_explainability(explainability: Mapping[str, Any]) -> list[PlannedChart]:
    """The importance and proxy-association charts of ``results["checks"]["explainability"]``, those it supports."""
    charts = []
    if explainability.get("global_importance"):
        charts.append(
            PlannedChart(
                key="shap_importance",
                check="explainability",
                title="Feature importance (mean |SHAP|)",
                caption="Mean absolute SHAP value of each feature; protected attributes in red, their proxies "
                "in orange.",
                draw=partial(shap_importance_chart, explainability),
            )
        )
    if explainability.get("associations"):
        charts.append(
            PlannedChart(
                key="proxy_associations",
                check="explainability",
                title="Association of features with protected attributes",
                caption="Cramér's V between each feature and each protected attribute; orange at or above the proxy "
                "rule's minimum (dashed line).",
                draw=partial(proxy_association_chart, explainability),
            )
        )
    return charts


def plan_robustness(adversarial: Mapping[str, Any]) -> list[PlannedChart]:
    """The robustness chart of ``results["checks"]["adversarial"]``, when an attack ran or noise was measured."""
    if not (
        (adversarial.get("attack") or {}).get("ran") or (adversarial.get("noise") or {}).get("flip_rate") is not None
    ):
        return []
    return [
        PlannedChart(
            key="robustness",
            check="adversarial",
            title="Robustness: decisions changed",
            caption="Share of decisions changed by the evasion attack within epsilon, by random noise of the same "
            "size, and by changing only a protected attribute; dashed lines are the policy's maxima.",
            draw=partial(robustness_chart, adversarial),
        )
    ]
