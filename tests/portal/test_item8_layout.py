"""Words and numbers stay whole in the portal (issue 19, item 8), in a real Chromium.

The Check column of an audit once read "disparate_imp" above "act": the page asked the browser to break any word
anywhere, so a table squeezed its columns below their words. At 390 px, dates broke after a hyphen ("2026-12-"
above "06"). Each test measures the laid-out text with a DOM Range: a word or number on one line has all its boxes
at one height.
"""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Cast
from tests.portal.conftest import World
from tests.portal.test_browser import (  # noqa: F401 - browser, live and new_page are fixtures
    NARROW,
    WIDE,
    browser,
    live,
    new_page,
    pytestmark,
    sign_in,
)

# The (text, line count) of each match of a pattern in <main>'s text, as laid out.
LINES_OF = """(pattern) => {
  const re = new RegExp(pattern, "g"), found = [];
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    if (node.parentElement.closest("code, pre, svg")) continue;
    for (const match of node.data.matchAll(re)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      found.push([match[0], tops.size]);
    }
  }
  return found;
}"""

# Dates with their time, decimals, p-values in e-notation, intervals "0.328 – 0.466".
NUMBERS = r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?(?: UTC)?|\d+\.\d+(?:e-\d+)?(?: – \d+\.\d+)?"


def broken(page: Any, pattern: str) -> list[str]:
    return [text for text, lines in page.evaluate(LINES_OF, pattern) if lines > 1]


def test_the_check_column_keeps_each_check_name_whole(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, world = live
    page = new_page(WIDE)
    sign_in(page, base, cast.officer)
    page.goto(f"{base}/audits/{world.run.pk}/")
    names = [tuple(found) for found in page.evaluate(LINES_OF, r"\b(?:disparate_impact|group_fairness|data_quality)\b")]
    assert ("disparate_impact", 1) in names
    assert [text for text, lines in names if lines > 1] == []


def test_numbers_and_dates_never_wrap_mid_number_at_390_px(
    new_page: Any,  # noqa: F811
    live: tuple[str, World],  # noqa: F811
    cast: Cast,
) -> None:
    base, world = live
    page = new_page(NARROW)
    sign_in(page, base, cast.officer)
    seen, split = 0, {}
    pages = ("/audits/", f"/audits/{world.run.pk}/", "/approvals/", "/models/credit-scoring/versions/1/", "/trail/")
    for path in pages:
        page.goto(base + path)
        found = page.evaluate(LINES_OF, NUMBERS)
        seen += len(found)
        if bad := [text for text, lines in found if lines > 1]:
            split[path] = bad
    assert seen > 20  # the pages do show dates and numbers
    assert split == {}
    assert re.fullmatch(NUMBERS, "0.328 – 0.466")
