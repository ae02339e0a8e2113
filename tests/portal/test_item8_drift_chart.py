"""The drift chart's labels never overlap (issue 19, item 8).

Two places crowded: the right margin, where threshold labels ("alert 0.2") and the names of alerting subjects
("credit_amount") both sit at their values' heights, and the axis under the chart, where thirty batches (the portal
charts the latest 30) printed "batch 9batch 10batch 11..." over each other. Pure: SVG text in, positions read back.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

from governance.web.portal.svg import series_chart, spread

FONT = 11  # the chart's font size: two labels on one side closer than this overlap
THRESHOLDS = [(0.1, "warning 0.1", False), (0.2, "alert 0.2", True)]


def texts(svg: str) -> list[tuple[float, float, str]]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return [
        (float(t.get("x", 0)), float(t.get("y", 0)), "".join(t.itertext()))
        for t in root.iter("{http://www.w3.org/2000/svg}text")
    ]


def plot_box(svg: str) -> tuple[float, float, float]:
    """(right edge, top, bottom) of the plot, from its two axis lines."""
    x_axis = re.search(r'<line x1="52" y1="([\d.]+)" x2="([\d.]+)" y2="\1"', svg)
    y_axis = re.search(r'<line x1="52" y1="([\d.]+)" x2="52" y2="([\d.]+)"', svg)
    assert x_axis
    assert y_axis
    return float(x_axis.group(2)), float(y_axis.group(1)), float(y_axis.group(2))


def test_margin_labels_of_crowded_alerts_keep_apart_and_inside_the_plot() -> None:
    # The demo's shifted batch (credit_amount PSI 3.5, the decisions 0.255) and three more features just over the
    # alert line: five names and two thresholds wanting nearly the same height.
    series = [
        ("credit_amount", [(1, 0.004), (2, 3.516)]),
        ("(prediction)", [(1, 0.002), (2, 0.255)]),
        ("duration_months", [(1, 0.01), (2, 0.21)]),
        ("age", [(1, 0.01), (2, 0.205)]),
        ("purpose", [(1, 0.01), (2, 0.22)]),
        ("installment_rate", [(1, 0.001), (2, 0.001)]),
    ]
    svg = series_chart(series, title="PSI", lines=THRESHOLDS)
    right, top, bottom = plot_box(svg)
    margin = sorted((y, text) for x, y, text in texts(svg) if x > right)
    assert {text for _, text in margin} == {
        "warning 0.1",
        "alert 0.2",
        "credit_amount",
        "(prediction)",
        "duration_months",
        "age",
        "purpose",
    }
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(margin)]
    assert min(gaps) >= FONT, margin
    assert all(top <= y - 4 <= bottom + 8 for y, _ in margin), (top, bottom, margin)  # baselines are 4 below


def test_thirty_batches_are_numbered_without_overlap() -> None:
    series = [("credit_amount", [(n, 0.01 * n) for n in range(1, 31)])]
    svg = series_chart(series, title="PSI", lines=THRESHOLDS)
    _, _, bottom = plot_box(svg)
    under = sorted((x, text) for x, y, text in texts(svg) if y == bottom + 16)
    assert (under[0][1], under[-1][1]) == ("1", "30")  # the first and the last batch are always named
    widths = [len(text) * FONT * 0.6 for _, text in under]
    for (x1, _), (x2, _), w1, w2 in zip(under, under[1:], widths, widths[1:], strict=False):
        assert x2 - x1 >= (w1 + w2) / 2 + 4, under


def test_spread_keeps_order_gap_and_bounds() -> None:
    assert spread([50.0, 10.0, 52.0], gap=13, low=0, high=100) == [50.0, 10.0, 63.0]
    # Too near the bottom edge: pushed up from it, still in the input's order.
    assert spread([99.0, 98.0, 97.0], gap=13, low=0, high=100) == [100.0, 87.0, 74.0]
    assert spread([], gap=13, low=0, high=100) == []
