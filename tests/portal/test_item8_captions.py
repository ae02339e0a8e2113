"""A chart's caption names the colours the chart shows (issue 19, item 8: "red bars" under orange ones).

The report's charts use the Okabe-Ito palette; its "vermillion" reads orange-red. Every colour word a caption uses
must be one of ``COLOUR_WORDS`` and that colour must be drawn in the chart (SVG), so a caption cannot send a reader
looking for a colour that is not there. (Some captions state a rule for a case the data may not have, "groups
below the minimum size in grey": the word must still be the charts' word for that colour.)
"""

from __future__ import annotations

import re

import pytest

from audits.reports.charts.core import COLOUR_WORDS
from audits.reports.charts.results import charts_for_results
from tests.portal.conftest import World

pytestmark = pytest.mark.django_db

COLOUR_NAMES = r"\b(?:orange-red|red|orange|amber|blue|grey|gray|green|yellow|purple)\b"


def test_each_caption_names_only_colours_its_chart_draws(world: World) -> None:
    charts = charts_for_results(world.run.results, fmt="svg")
    impact = next(chart for chart in charts if chart.key == "impact_ratio")
    assert "orange-red bars are below the minimum of 0.8" in impact.caption
    words = {word: colour for colour, word in COLOUR_WORDS.items()}
    named = [(chart, word) for chart in charts for word in re.findall(COLOUR_NAMES, chart.caption)]
    assert len(named) >= 3
    assert [word for _, word in named if word not in words] == []
    # The failing world's impact chart has a group below the minimum and reference groups: both colours are drawn.
    drawn = str(impact.image).upper()
    assert [w for w in re.findall(COLOUR_NAMES, impact.caption) if words[w].upper() not in drawn] == []
