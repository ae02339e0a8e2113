"""Every portal page a person can reach, found by following the portal's own links (used by
test_every_portal_page.py and benchmarks/bench_portal_pages.py).

From the dashboard, each ``<a href>`` inside the site is followed with GET, breadth first. Links to the API, the
admin, downloads and signing out are left alone; a page of a view already seen ``PER_VIEW`` times is not visited
again (the trail lists hundreds of events, each with the same page), so every view is visited and the walk stays
small. Each visit records the status, the number of SQL queries and the view's name.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from html import unescape
from urllib.parse import urldefrag, urlsplit

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

PER_VIEW = 3
SKIPPED = ("/api/", "/admin/", "/static/", "/media/", "/logout/", "/sso/", "/login/")
HREF = re.compile(r'<a\s[^>]*href="([^"]+)"')


@dataclass(frozen=True)
class Visit:
    path: str
    view: str
    status: int
    queries: int


def _followable(href: str) -> str | None:
    """The site-relative path and query of a link, or None for what the walk leaves alone."""
    target = urldefrag(unescape(href)).url
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith(SKIPPED):
        return None
    if any(word in parts.path for word in ("/download", ".pdf", ".zip", ".json", ".csv")):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(client: Client, *, start: str = "/", limit: int = 400) -> list[Visit]:
    """Every page reachable from ``start`` by ``client``'s links (see the module's docstring), in the order
    visited."""
    seen_paths: set[str] = {start}
    per_view: dict[str, int] = {}
    queue = deque([start])
    visits: list[Visit] = []
    while queue and len(visits) < limit:
        path = queue.popleft()
        try:
            view = resolve(urlsplit(path).path).view_name
        except Resolver404:
            view = "?"
        if per_view.get(view, 0) >= PER_VIEW:
            continue
        per_view[view] = per_view.get(view, 0) + 1
        reset_queries()  # a full query log (9000) would count nothing; each request starts from an empty one anyway
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        visits.append(Visit(path=path, view=view, status=response.status_code, queries=len(queries)))
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for href in HREF.findall(response.content.decode()):
            target = _followable(href)
            if target is not None and target not in seen_paths:
                seen_paths.add(target)
                queue.append(target)
    return visits
