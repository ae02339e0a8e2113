"""What every chart shares: the report's style, the figure, deterministic rendering, and the chart types.

A chart is drawn by :func:`draw_figure`: ``paint(ax)`` draws on the axes of a figure in the report's style, and the
figure is rendered to PNG bytes (``fmt="png"``, for the PDF) or SVG text (``fmt="svg"``, for the portal).
Rendering is deterministic: the same picture gives the same bytes (no dates or software versions in the file
metadata, a fixed SVG hash salt, fixed sizes and fonts), so a chart can be cached, compared or hashed
(``audits.reports.charts.results``). matplotlib and Pillow are imported inside the functions, so importing this
module costs nothing. Pure: no Django.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["png", "svg"]

# Colours that stay distinguishable in grey-scale print and for the common colour-vision deficiencies.
BLUE, ORANGE, RED, GREY, GREEN = "#0072B2", "#E69F00", "#D55E00", "#7F7F7F", "#009E73"
# How a caption names each colour, as a reader sees it: Okabe-Ito's "vermillion" (RED) looks orange-red on screen and
# paper, and its "orange" (ORANGE) amber; a caption that said "red bars" sent readers looking for a colour not there.
COLOUR_WORDS = {BLUE: "blue", ORANGE: "amber", RED: "orange-red", GREY: "grey", GREEN: "green"}
WIDTH_INCHES = 6.4
PNG_DPI = 110


@dataclass(frozen=True)
class Chart:
    """One rendered chart: which check it belongs to, its title, a caption that says in words what it shows (the
    alternative text), and the image (PNG bytes or SVG text)."""

    key: str
    check: str
    title: str
    caption: str
    image: bytes | str


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
    import matplotlib

    with matplotlib.rc_context(_style()):  # type: ignore[arg-type]  # rc keys are checked at run time
        figure = _figure(rows)
        paint(figure.add_subplot())
        return _render(figure, fmt)


def paint_empty(ax: Any, text: str) -> None:
    """What a chart shows when its results have nothing to draw: ``text``, centred, and no axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_axis_off()
