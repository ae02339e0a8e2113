"""Content negotiation that keeps the schema's promise about ``?format=``."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class StrictFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` with an empty value is an unknown format (404, as DRF answers ``?format=xml``), not the default:
    the schema lists the formats a view renders, and the empty string is not one of them."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        if format_suffix is None and request.query_params.get(self.settings.URL_FORMAT_OVERRIDE) == "":
            self.filter_renderers(renderers, "")  # raises Http404: no renderer has the empty format
        return super().select_renderer(request, renderers, format_suffix)  # type: ignore[no-any-return]
