"""Pagination for every portal list: a page of the queryset and the links that keep the list's filters."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest


def paginate(request: HttpRequest, items: Any, *, per_page: int | None = None, param: str = "page") -> Page:
    """The requested page of ``items`` (a bad or out-of-range number gives the nearest real page, never an error).

    The page carries ``query`` (the request's other parameters, URL-encoded) so the template's links keep filters.
    """
    paginator = Paginator(items, per_page or settings.PORTAL_PAGE_SIZE)
    page = paginator.get_page(request.GET.get(param))
    others = request.GET.copy()
    others.pop(param, None)
    page.query = others.urlencode()  # type: ignore[attr-defined]
    page.param = param  # type: ignore[attr-defined]
    return page
