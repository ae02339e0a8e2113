"""The portal's server-side SVG (pure): hostile text is escaped, undefined values are said, lineage nodes never
overlap."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from governance.web.portal.svg import lineage_svg, rate_chart, series_chart


def test_rate_chart_escapes_labels_and_says_undefined() -> None:
    svg = rate_chart(
        [("<script>x</script>", 0.5, (0.4, 0.6)), ("group & co", None, None)], title='a "title"', limit=0.8
    )
    ET.fromstring(svg)  # noqa: S314 - our own output, checked to be well-formed XML
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "undefined" in svg


def test_lineage_nodes_do_not_overlap_and_hidden_nodes_stay_anonymous() -> None:
    graph = {
        "root": "model:m/v1",
        "direction": "upstream",
        "nodes": [
            {"id": "model:m/v1", "kind": "model_version"},
            {"id": "dataset:a/v1", "kind": "dataset_version"},
            {"id": "hidden:1", "kind": "dataset_version", "hidden": True},
            {"id": "dataset:raw/v2", "kind": "dataset_version"},
        ],
        "runs": [
            {"job": "assay/train", "inputs": ["dataset:a/v1", "hidden:1"], "outputs": ["model:m/v1"]},
            {"job": "etl/<clean>", "inputs": ["dataset:raw/v2"], "outputs": ["dataset:a/v1"]},
        ],
    }
    svg = lineage_svg(graph)
    ET.fromstring(svg)  # noqa: S314 - our own output
    assert "not visible to you" in svg
    assert "&lt;clean&gt;" in svg
    boxes = [tuple(map(float, m)) for m in re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', svg)]
    for i, (x1, y1, w1) in enumerate(boxes):
        for x2, y2, w2 in boxes[i + 1 :]:
            same_row = abs(y1 - y2) < 30
            assert not (same_row and x1 < x2 + w2 and x2 < x1 + w1), (x1, y1, x2, y2)


def test_series_chart_escapes_subjects_caps_huge_values_and_leaves_gaps() -> None:
    svg = series_chart(
        [("<b>credit</b>", [(1, 0.01), (2, 3.5)]), ("age", [(1, 0.02), (2, None)])],
        title="PSI & more",
        lines=[(0.1, "warning 0.1", False), (0.2, "alert 0.2", True)],
    )
    ET.fromstring(svg)  # noqa: S314 - our own output, checked to be well-formed XML
    assert "<b>" not in svg
    assert "&lt;b&gt;credit&lt;/b&gt;" in svg  # beyond the alert line: named at its last point
    assert "▲ 3.5" in svg  # above the capped axis (five times the highest threshold), with its number
    assert svg.count("<polyline") == 1  # age has one defined point: no line drawn through the gap
