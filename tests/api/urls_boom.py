"""A URLconf for the server-error tests: the real routes plus views that fail unexpectedly."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.views import APIView

from governance.urls import handler400, handler403, handler404, handler500  # noqa: F401
from governance.urls import urlpatterns as real_urlpatterns

SECRET = "secret-sauce-42"


class BoomView(APIView):
    """A DRF view with a bug in it."""

    required_scopes = {"GET": "meta:read"}

    def get(self, request: Any) -> Any:
        raise RuntimeError(f"boom: {SECRET}")


def boom(request: HttpRequest) -> HttpResponse:
    """A plain Django view with a bug in it."""
    raise RuntimeError(f"boom: {SECRET}")


urlpatterns = [
    path("api/v1/boom", BoomView.as_view()),
    path("api/plain-boom", boom),
    path("boom", boom),
    *real_urlpatterns,
]
