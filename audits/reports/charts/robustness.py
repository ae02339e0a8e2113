"""The chart of the ``adversarial`` check and its plan: evasion-attack success within epsilon, random-noise and
counterfactual flip rates, each against the policy's maximum."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from audits.reports.charts.core import BLUE, GREY, RED, Format, PlannedChart, draw_figure, paint_empty


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
            paint_empty(ax, "no robustness test could run")
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

    return draw_figure(fmt, len(rows) + 1, paint)


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
