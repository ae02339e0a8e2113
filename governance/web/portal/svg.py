"""Server-side SVG for portal pages: rate charts with intervals, importance bars, the lineage graph.

Pure: plain values in, SVG text out (no Django, no JavaScript, no external assets). Every text is escaped; every
chart has a <title> and a text alternative is always on the page next to it (the tables), so nothing is conveyed by
the picture alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

INK, MUTED, LINE, ACCENT, BAD, GOOD = "#1b1f24", "#5b6470", "#d8dde3", "#1f5f8b", "#a4262c", "#1e7b34"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rate_chart(
    rows: Sequence[tuple[str, float | None, Sequence[float] | None]],
    *,
    title: str,
    limit: float | None = None,
    limit_label: str = "",
    maximum: float = 1.0,
) -> str:
    """Horizontal bars of rates in [0, ``maximum``], each with its interval as a whisker, and an optional limit line.

    ``rows``: (label, value or None when undefined, (low, high) or None).
    """
    label_w, plot_w, row_h, top = 170, 360, 26, 22
    width, height = label_w + plot_w + 60, top + row_h * len(rows) + 24
    values = [v for _, v, _ in rows if v is not None]
    maximum = max([maximum, *values])

    def x(value: float) -> float:
        return label_w + plot_w * min(max(value, 0.0), maximum) / maximum

    body = [f'<line x1="{label_w}" y1="{top - 6}" x2="{label_w}" y2="{height - 18}" stroke="{LINE}"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        at = tick * maximum
        body.append(
            f'<text x="{x(at):.1f}" y="{height - 4}" font-size="11" fill="{MUTED}" text-anchor="middle">{at:.2g}</text>'
        )
    for i, (label, value, interval) in enumerate(rows):
        y = top + i * row_h
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" fill="{INK}" text-anchor="end">'
            f"{escape(_short(label, 26))}</text>"
        )
        if value is None:
            body.append(f'<text x="{label_w + 6}" y="{y + 15}" font-size="12" fill="{MUTED}">undefined</text>')
            continue
        colour = BAD if limit is not None and value < limit else ACCENT
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{x(value) - label_w:.1f}" height="14" fill="{colour}" '
            f'opacity="0.85"/>'
        )
        if interval:
            lo, hi = x(interval[0]), x(interval[1])
            body.append(
                f'<line x1="{lo:.1f}" y1="{y + 11}" x2="{hi:.1f}" y2="{y + 11}" stroke="{INK}" stroke-width="1.5"/>'
                f'<line x1="{lo:.1f}" y1="{y + 6}" x2="{lo:.1f}" y2="{y + 16}" stroke="{INK}"/>'
                f'<line x1="{hi:.1f}" y1="{y + 6}" x2="{hi:.1f}" y2="{y + 16}" stroke="{INK}"/>'
            )
        body.append(
            f'<text x="{min(x(value), label_w + plot_w) + 6:.1f}" y="{y + 15}" font-size="11" fill="{INK}">'
            f"{value:.3f}</text>"
        )
    if limit is not None:
        body.append(
            f'<line x1="{x(limit):.1f}" y1="{top - 8}" x2="{x(limit):.1f}" y2="{height - 18}" stroke="{BAD}" '
            f'stroke-dasharray="4 3"/><text x="{x(limit):.1f}" y="{top - 10}" font-size="11" fill="{BAD}" '
            f'text-anchor="middle">{escape(limit_label or f"limit {limit:g}")}</text>'
        )
    return _svg(width, height, title, body)


def importance_chart(rows: Sequence[tuple[str, float]], *, title: str) -> str:
    """Horizontal bars of each feature's share of the total attribution (0 to 1), largest first."""
    return rate_chart([(name, share, None) for name, share in rows], title=title)


def series_chart(
    series: Sequence[tuple[str, Sequence[tuple[int, float | None]]]],
    *,
    title: str,
    lines: Sequence[tuple[float, str, bool]] = (),
    above_is_bad: bool = True,
) -> str:
    """One statistic over batches, a line per subject (a feature, a group), with the policy's threshold lines.

    ``series``: (subject, [(batch number, value or None)]); ``lines``: (value, label, True when crossing it is an
    alert, False for a warning). Subjects beyond an alert line are drawn in red and named in the right margin at
    the height of their last value, spread with the thresholds' labels so that no two overlap; the others are thin
    and grey (the table beside the chart names every one), so nothing depends on telling colours apart. Undefined
    values leave a gap. The axis stops at five times the highest threshold; values beyond it are said with their
    numbers on the top edge, one label per batch. Batch numbers under the axis are thinned to fit.
    """
    batches = sorted({number for _, points in series for number, _ in points})
    values = [v for _, points in series for _, v in points if v is not None]
    left, right, top, bottom, plot_h = 52, 160, 22, 34, 200
    plot_w = max(420, min(640, 90 * max(len(batches) - 1, 1)))
    width, height = left + plot_w + right, top + plot_h + bottom
    maximum = max([*values, *(value for value, _, _ in lines), 0.0]) * 1.1 or 1.0
    # A huge value (a PSI of 3.5) would crush the thresholds into one line: the axis stops at five times the highest
    # threshold and a value beyond it sits on the top edge with its number (the table has every number anyway).
    cap = 5 * max((value for value, _, _ in lines), default=0.0)
    capped = cap > 0 and maximum > cap
    if capped:
        maximum = cap

    def x(number: int) -> float:
        if len(batches) < 2:
            return left + plot_w / 2
        return left + plot_w * batches.index(number) / (len(batches) - 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - max(value, 0.0) / maximum)

    body = [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{LINE}"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{LINE}"/>',
    ]
    for i in range(5):
        at = maximum * i / 4
        tick = f"{at:.2g}" + ("+" if capped and i == 4 else "")
        body.append(
            f'<text x="{left - 6}" y="{y(at) + 4:.1f}" font-size="11" fill="{MUTED}" text-anchor="end">{tick}</text>'
        )
    body += _batch_axis(batches, x, baseline=top + plot_h, middle=left + plot_w / 2, plot_w=plot_w)
    # The labels in the right margin (threshold lines, and the subjects that cross an alert line, named at their last
    # point) are placed together so that none overlaps another: each as near its line or point as the others allow.
    margin: list[tuple[float, str, str, bool]] = []  # (wanted y, text, colour, bold)
    for value, label, alert in lines:
        colour = BAD if alert else "#8a5a00"
        body.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="{colour}" '
            f'stroke-dasharray="{"5 3" if alert else "2 3"}"/>'
        )
        margin.append((y(value), _short(label, 22), colour, False))
    alert_lines = [value for value, _, alert in lines if alert]
    above: dict[int, list[float]] = {}  # batch number -> values off the top of the axis
    ordered = sorted(series, key=lambda item: _crosses(item[1], alert_lines, above_is_bad))
    for subject, points in ordered:
        bad = _crosses(points, alert_lines, above_is_bad)
        colour, stroke = (BAD, 2.5) if bad else (MUTED, 1.2)
        segment: list[str] = []
        for number, point in [*points, (0, None)]:
            if point is None:
                if len(segment) > 1:
                    body.append(
                        f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" '
                        f'stroke-width="{stroke}"/>'
                    )
                segment = []
                continue
            segment.append(f"{x(number):.1f},{y(min(point, maximum)):.1f}")
            body.append(
                f'<circle cx="{x(number):.1f}" cy="{y(min(point, maximum)):.1f}" r="{3 if bad else 2}" '
                f'fill="{colour}"/>'
            )
            if point > maximum:  # off the axis: said with its number above the point (one label per batch)
                above.setdefault(number, []).append(point)
        last = next(((n, v) for n, v in reversed(points) if v is not None), None)
        if bad and last is not None:
            margin.append((y(min(last[1], maximum)), _short(subject, 20), BAD, True))
    for number, off in sorted(above.items()):
        said = ", ".join(f"{v:.3g}" for v in sorted(off, reverse=True)[:2]) + (" …" if len(off) > 2 else "")
        body.append(
            f'<text x="{x(number):.1f}" y="{top - 8}" font-size="11" fill="{BAD}" text-anchor="middle">▲ {said}</text>'
        )
    body += _margin_labels(margin, at_x=left + plot_w, low=top, high=top + plot_h + 8)
    return _svg(width, height, title, body)


TICK_GAP, LABEL_GAP = 48, 13  # pixels between batch numbers under the axis, and between labels in the margin


def _batch_axis(batches: Sequence[int], x: Any, *, baseline: float, middle: float, plot_w: float) -> list[str]:
    """Batch numbers under the axis, thinned to one every TICK_GAP pixels or more (thirty batches on 640 pixels
    would print "batch 9batch 10..." over each other), the last batch always named; "batch" under them."""
    step = max(1, -(-TICK_GAP * max(len(batches) - 1, 1) // int(plot_w)))
    shown = list(range(0, len(batches), step))
    if shown and shown[-1] != len(batches) - 1:
        if (len(batches) - 1 - shown[-1]) * plot_w / (len(batches) - 1) < TICK_GAP:
            shown.pop()
        shown.append(len(batches) - 1)
    texts = [
        f'<text x="{x(batches[i]):.1f}" y="{baseline + 16}" font-size="11" fill="{MUTED}" '
        f'text-anchor="middle">{batches[i]}</text>'
        for i in shown
    ]
    texts.append(
        f'<text x="{middle:.1f}" y="{baseline + 30}" font-size="11" fill="{MUTED}" text-anchor="middle">batch</text>'
    )
    return texts


def _margin_labels(
    margin: Sequence[tuple[float, str, str, bool]], *, at_x: float, low: float, high: float
) -> list[str]:
    """The labels of the right margin, (wanted y, text, colour, bold) each, spread so that none overlaps another; a
    label moved away from its line or point gets a thin leader to it."""
    texts = []
    placed = spread([wanted for wanted, _, _, _ in margin], gap=LABEL_GAP, low=low, high=high)
    for (wanted, text, colour, bold), at in zip(margin, placed, strict=True):
        if abs(at - wanted) > 3:
            texts.append(
                f'<line x1="{at_x + 2}" y1="{wanted:.1f}" x2="{at_x + 8}" y2="{at:.1f}" stroke="{colour}" '
                'stroke-width="0.8"/>'
            )
        weight = ' font-weight="bold"' if bold else ""
        texts.append(
            f'<text x="{at_x + 10}" y="{at + 4:.1f}" font-size="11" fill="{colour}"{weight}>{escape(text)}</text>'
        )
    return texts


def spread(wanted: Sequence[float], *, gap: float, low: float, high: float) -> list[float]:
    """Positions for labels that want to sit at ``wanted`` (in any order): each at least ``gap`` from the others,
    within [``low``, ``high``] when they fit, each as near its wanted place as that allows; in the input's order."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [max(wanted[i], low) for i in order]
    for k in range(1, len(placed)):  # downwards: push each below the one above it
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed and placed[-1] > high:  # then upwards from the bottom edge, as far as the top edge allows
        placed[-1] = high
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def _crosses(points: Sequence[tuple[int, float | None]], alerts: Sequence[float], above_is_bad: bool) -> bool:
    values = [v for _, v in points if v is not None]
    if above_is_bad:
        return any(v > line for v in values for line in alerts)
    return any(v < line for v in values for line in alerts)


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    segments: Sequence[tuple[str, str]],
    title: str,
    number_format: str = "{:g}",
) -> str:
    """Horizontal bars, one per row, each split into ``segments`` ((name, colour), a legend above names them) and
    ending with its total; a row of zeros draws no bar and says 0. Each part carries a <title> with its number; the
    page puts the same numbers in a table beside the chart.

    ``rows``: (label, one value per segment).
    """
    label_w, plot_w, row_h = 230, 330, 24
    width = label_w + plot_w + 60
    legend, x, line = [], 10.0, 0
    for name, colour in segments:  # the legend wraps onto as many lines as it needs
        item_w = 22 + 6.5 * len(name)
        if x + item_w > width and x > 10:
            x, line = 10.0, line + 1
        y = 6 + line * 18
        legend.append(
            f'<rect x="{x:.1f}" y="{y}" width="11" height="11" fill="{colour}" stroke="{MUTED}" stroke-width="0.5"/>'
            f'<text x="{x + 15:.1f}" y="{y + 10}" font-size="11" fill="{INK}">{escape(name)}</text>'
        )
        x += item_w
    top = 12 + (line + 1) * 18
    height = top + row_h * len(rows) + 6
    biggest = max((sum(values) for _, values in rows), default=0) or 1
    body = [*legend, f'<line x1="{label_w}" y1="{top - 2}" x2="{label_w}" y2="{height - 4}" stroke="{LINE}"/>']
    for i, (label, values) in enumerate(rows):
        y = top + i * row_h
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" fill="{INK}" text-anchor="end">'
            f"{escape(_short(label, 34))}</text>"
        )
        x = float(label_w)
        for (name, colour), value in zip(segments, values, strict=True):
            if value <= 0:
                continue
            part = plot_w * value / biggest
            body.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{part:.1f}" height="15" fill="{colour}">'
                f"<title>{escape(label)}, {escape(name)}: {number_format.format(value)}</title></rect>"
            )
            x += part
        body.append(
            f'<text x="{x + 6:.1f}" y="{y + 16}" font-size="11" fill="{INK}">{number_format.format(sum(values))}</text>'
        )
    return _svg(width, height, title, body)


# --- lineage ---------------------------------------------------------------------------------------------------

_NODE_W, _NODE_H, _RUN_W, _COL_GAP, _ROW_GAP = 210, 40, 150, 46, 18


def _layers(graph: dict[str, Any]) -> tuple[dict[str, int], dict[int, int]]:
    """Each node's distance from the root in runs, and each run's column (odd: between two node columns)."""
    root, runs = graph["root"], graph["runs"]
    upstream = graph.get("direction", "upstream") == "upstream"
    layer: dict[str, int] = {root: 0}
    run_layer: dict[int, int] = {}
    frontier = [root]
    while frontier:  # breadth-first: a run one step from its near side, its far side one step further
        following = []
        for node_id in frontier:
            for index, run in enumerate(runs):
                near, far = (run["outputs"], run["inputs"]) if upstream else (run["inputs"], run["outputs"])
                if node_id in near and index not in run_layer:
                    run_layer[index] = 2 * layer[node_id] + 1
                    for other in far:
                        if other not in layer:
                            layer[other] = layer[node_id] + 1
                            following.append(other)
        frontier = following
    for node in graph["nodes"]:  # siblings reached only as a run's other outputs sit beside the root
        layer.setdefault(node["id"], 0)
    return layer, run_layer


def _node_svg(node: dict[str, Any], x: float, y: float, w: float, *, is_root: bool) -> str:
    hidden = node.get("hidden", False)
    label = "not visible to you" if hidden else node["id"].split(":", 1)[-1]
    what = "dataset" if node.get("kind") == "dataset_version" else "model"
    fill = "#f1f3f5" if hidden else ("#e8f1f8" if what == "dataset" else "#eef6ee")
    return (
        f'<g><rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{_NODE_H}" rx="5" fill="{fill}" '
        f'stroke="{ACCENT if is_root else LINE}" stroke-width="{2 if is_root else 1}"/>'
        f'<text x="{x + 8:.1f}" y="{y + 15:.1f}" font-size="10" fill="{MUTED}">{what}</text>'
        f'<text x="{x + 8:.1f}" y="{y + 31:.1f}" font-size="12" fill="{INK}">{escape(_short(label, 30))}</text></g>'
    )


def _run_svg(run: dict[str, Any], x: float, y: float, w: float) -> str:
    job = "hidden run" if run.get("hidden") else str(run.get("job", "run")).split("/", 1)[-1]
    return (
        f'<g><rect x="{x:.1f}" y="{y + 6:.1f}" width="{w}" height="{_NODE_H - 12}" rx="14" fill="#fff" '
        f'stroke="{MUTED}" stroke-dasharray="3 2"/><text x="{x + w / 2:.1f}" y="{y + 24:.1f}" font-size="11" '
        f'fill="{INK}" text-anchor="middle">{escape(_short(job, 22))}</text></g>'
    )


def lineage_svg(graph: dict[str, Any]) -> str:
    """The lineage graph (``governance.data.lineage.graph_as_json``) drawn in columns, the root at one end.

    Upstream graphs read left to right (sources first, the root last); downstream graphs start at the root. Nodes
    hidden from the viewer stay in the picture as "not visible to you", so the shape is honest.
    """
    root, runs = graph["root"], graph["runs"]
    upstream = graph.get("direction", "upstream") == "upstream"
    nodes = {n["id"]: n for n in graph["nodes"]}
    layer, run_layer = _layers(graph)
    columns: dict[int, list[tuple[str, Any]]] = {}
    for node_id, depth in sorted(layer.items()):
        columns.setdefault(2 * depth, []).append(("node", node_id))
    for index, column in sorted(run_layer.items()):
        columns.setdefault(column, []).append(("run", index))
    deepest = max(columns) if columns else 0
    pair = _NODE_W + _RUN_W + 2 * _COL_GAP  # a node column and the run column beside it

    def column_x(position: int) -> float:
        return 20 + (position // 2) * pair + (_NODE_W + _COL_GAP if position % 2 else 0)

    places: dict[tuple[str, Any], tuple[float, float, float]] = {}
    for column, items in columns.items():
        x = column_x(deepest - column if upstream else column)
        for row, item in enumerate(items):
            places[item] = (x, 20 + row * (_NODE_H + _ROW_GAP), _NODE_W if item[0] == "node" else _RUN_W)
    tallest = max((len(items) for items in columns.values()), default=1)
    width = int(column_x(deepest) + _NODE_W + 20)
    height = int(40 + tallest * (_NODE_H + _ROW_GAP))
    body = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/></marker></defs>'
    ]
    edges = [(("node", s), ("run", i)) for i, run in enumerate(runs) for s in run["inputs"]]
    edges += [(("run", i), ("node", o)) for i, run in enumerate(runs) for o in run["outputs"]]
    for a, b in edges:
        if a in places and b in places:
            (ax, ay, aw), (bx, by, _) = places[a], places[b]
            x1, y1, x2, y2 = ax + aw, ay + _NODE_H / 2, bx, by + _NODE_H / 2
            body.append(
                f'<path d="M{x1:.1f},{y1:.1f} C{x1 + 20:.1f},{y1:.1f} {x2 - 20:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
                f'fill="none" stroke="{MUTED}" stroke-width="1.3" marker-end="url(#arrow)"/>'
            )
    for (kind, key), (x, y, w) in places.items():
        if kind == "node":
            body.append(_node_svg(nodes.get(key, {"id": key}), x, y, w, is_root=key == root))
        else:
            body.append(_run_svg(runs[key], x, y, w))
    return _svg(width, height, f"Lineage of {root}", body)
