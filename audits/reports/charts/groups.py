"""Charts of groups: each group's rates (every run's group metrics), its impact ratio (``disparate_impact``) and its
share of the evaluation data (``data_quality``), each with its plan (the charts a check's results support).

- :func:`group_rates_chart`: one rate per group (selection rate, true-positive rate, ...) with its Wilson interval.
- :func:`impact_ratio_chart`: each group's impact ratio with the policy's line (0.8 under the four-fifths rule).
- :func:`group_shares_chart`: each group's share of the evaluation data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from audits.reports.charts.core import BLUE, COLOUR_WORDS, GREY, RED, Format, PlannedChart, draw_figure, paint_empty

RATE_LABELS = {
    "selection_rate": "Selection rate",
    "true_positive_rate": "True-positive rate",
    "false_positive_rate": "False-positive rate",
    "false_negative_rate": "False-negative rate",
    "true_negative_rate": "True-negative rate",
    "precision": "Precision",
}


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
            paint_empty(ax, "no groups")
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

    return draw_figure(fmt, len(rows), paint)


def impact_ratio_chart(disparate_impact: Mapping[str, Any], *, fmt: Format = "png") -> bytes | str:
    """Each group's impact ratio (its rate over the reference group's) as a bar, with the policy's minimum as a
    dashed line (``impact_ratio_min``, 0.8 under the four-fifths rule).

    :param disparate_impact: ``results["checks"]["disparate_impact"]``.
    :param fmt: ``"png"`` or ``"svg"``.

    Bars below the line are orange-red, at or above it blue; reference groups (ratio 1 by definition) and groups left
    out (below the policy's share) are grey.
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
            paint_empty(ax, "no impact ratios")
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

    return draw_figure(fmt, len(rows) + 1, paint)


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
            paint_empty(ax, "no group shares")
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

    return draw_figure(fmt, len(rows), paint)


def plan_group_rates(groupings: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[PlannedChart]:
    """The group-rate charts (selection, true-positive, false-positive rates and precision) of
    ``results["group_metrics"]["groupings"]``, which every completed run records; none when it has no groupings."""
    charts: list[PlannedChart] = []
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
            caption=f"Each group's rate divided by the reference group's; {COLOUR_WORDS[RED]} bars are below the "
            f"minimum of {limit:g} (dashed line), reference groups grey."
            if limit is not None
            else "Each group's rate divided by the reference's.",
            draw=partial(impact_ratio_chart, disparate_impact),
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
            caption=f"Each group's share of the evaluation rows; {COLOUR_WORDS[RED]} below the policy's minimum share.",
            draw=partial(group_shares_chart, data_quality),
        )
    ]
