"""Page-number pagination with a bounded, caller-chosen page size."""

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        """``page_size`` as the schema states it (an integer from 1 to ``max_page_size``), else a 422: DRF's own
        would silently fall back to the default page size for ``page_size=abc``."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if raw.isascii() and raw.isdigit() else 0
        if not 1 <= size <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"Use an integer from 1 to {self.max_page_size}."]}
            )
        return size

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        """An empty ``page=`` is an invalid page (404, as DRF answers ``page=abc``), not the first one."""
        if request.query_params.get(self.page_query_param) == "":
            raise NotFound("Invalid page.")
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """The bounds the view enforces, stated in the schema (a page number below 1 is a 404, as DRF answers)."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters
