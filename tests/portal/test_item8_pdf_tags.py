"""The signed PDF report is a tagged PDF (issue 19, item 8: "the PDF is untagged").

Read back with pypdf, as an assistive tool reads it: the catalog says the document is marked, a structure tree holds
headings, paragraphs, tables and figures (each figure with its alternative text) in reading order, every page maps its
marked content to those elements, and every piece of text on every page is inside marked content (an element's, or
the footer's /Artifact), so none is left out of the reading order. Limits (no cell tags) are in
audits/reports/document/tagging.py.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from audits.reports.service import report_for_run
from governance.trail.log import Actor
from tests.conftest import Cast
from tests.reports.conftest import Arranged, small_run  # noqa: F401 - the fixture

TEXT_SHOWING = {b"Tj", b"TJ", b"'", b'"'}


@pytest.mark.django_db
def test_the_report_is_tagged_with_headings_paragraphs_tables_and_figures(
    cast: Cast,
    small_run: Arranged,  # noqa: F811 - the fixture
) -> None:
    pdf = report_for_run(small_run.run, actor=Actor.for_user(cast.owner.user)).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    catalog: Any = reader.trailer["/Root"]

    assert bool(catalog["/MarkInfo"]["/Marked"])
    tree = catalog["/StructTreeRoot"].get_object()
    document = tree["/K"].get_object()
    assert document["/S"] == "/Document"
    elements = [element.get_object() for element in document["/K"]]
    kinds = Counter(str(element["/S"]) for element in elements)
    assert kinds["/H1"] >= 5
    assert kinds["/H2"] >= 3
    assert kinds["/P"] >= 10
    assert kinds["/Table"] >= 3
    assert kinds["/Figure"] >= 1
    assert all(len(str(e["/Alt"])) > 20 for e in elements if e["/S"] == "/Figure")  # the chart's caption

    # Every page's marked content maps back to its elements through the parent tree, MCID by MCID.
    parents = tree["/ParentTree"].get_object()["/Nums"]
    by_page = {int(parents[i]): parents[i + 1].get_object() for i in range(0, len(parents), 2)}
    for index, page in enumerate(reader.pages):
        assert page["/StructParents"] == index
        mapped = by_page[index]
        for mcid, element in enumerate(mapped):
            assert element.get_object()["/K"] == mcid
            assert element.get_object()["/Pg"].get_object() == page.get_object()

        # No text outside marked content: each text-showing operator sits inside BDC/BMC ... EMC.
        depth, outside = 0, 0
        for _operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator in (b"BDC", b"BMC"):
                depth += 1
            elif operator == b"EMC":
                depth -= 1
            elif operator in TEXT_SHOWING and depth == 0:
                outside += 1
        assert (depth, outside) == (0, 0), f"page {index + 1}"
