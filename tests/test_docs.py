"""README.md is the landing page and docs/ holds the rest: every link from README (and between the docs pages) leads
to a file that exists and, with a ``#fragment``, to a heading on that page; every docs page is linked from README;
every section README once held is a heading of a docs page. No database, no server: plain files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# The sections of the README manual (issue 18), and the page each one moved to.
MOVED = {
    "Configuration": "configuration.md",
    "Roles": "roles.md",
    "API tokens": "api.md",
    "Endpoints and errors": "api.md",  # README's "The API"
    "The model registry": "registry.md",
    "Data governance: datasets, lineage, consent": "data.md",
    "Audits: policies, checks, verdicts": "audits.md",
    "The approval gate: one curl from any pipeline": "gate.md",
    "The portal": "portal.md",
    "Browser tests": "portal.md",
    "Signed PDF compliance reports": "reports.md",
    "Evidence bundles for regulators": "reports.md",
    "Monitoring after deployment": "monitoring.md",
    "The trail: what it promises, and what it does not": "trail.md",
    "Verifying an export offline": "trail.md",
    "Performance (measured, `benchmarks/`)": "performance.md",
    "Layout": "development.md",
}

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans, where links and headings live."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def headings(text: str) -> list[str]:
    outside_code = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", outside_code, re.M)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in headings(path.read_text(encoding="utf-8")):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def local_links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(path.read_text(encoding="utf-8")))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: are not checked here
    ]


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in local_links(path):
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.name}")
    return broken


def test_slug_is_githubs() -> None:
    # Anchors as github.com renders them for these headings.
    assert slug("Performance (measured, `benchmarks/`)") == "performance-measured-benchmarks"
    assert (
        slug("The trail: what it promises, and what it does not") == "the-trail-what-it-promises-and-what-it-does-not"
    )
    assert slug("Small groups: one rule") == "small-groups-one-rule"


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# Page\n\n## Keys\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text("[a](page.md#keys) [b](page.md#locks) [c](gone.md) `[d](gone.md)`\n", encoding="utf-8")
    assert broken_links(readme) == ["page.md#locks: no heading #locks in page.md", "gone.md: no such file"]


def test_readme_links_resolve() -> None:
    assert local_links(README), "README links to no page"
    assert broken_links(README) == []


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_docs_page_links_resolve(page: str) -> None:
    assert broken_links(DOCS / page) == []


def test_every_docs_page_is_linked_from_readme() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in local_links(README)}
    missing = sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked)
    assert missing == []


@pytest.mark.parametrize(("section", "page"), sorted(MOVED.items()))
def test_every_moved_section_is_in_docs(section: str, page: str) -> None:
    assert section in headings((DOCS / page).read_text(encoding="utf-8")), f"{section!r} not a heading of {page}"
    assert section not in headings(README.read_text(encoding="utf-8")), f"{section!r} is still in README"


def test_readme_is_a_landing_page_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    # .ci/run calls `make test` as "the README's test command"; the first command serves the demo.
    assert "make test" in text
    assert "make run" in text
    assert len(text.splitlines()) <= 250, "README grows back into a manual: move the topic into docs/"
