"""A URLconf for the deny-by-default tests: the real routes plus two test-only views that forget their scopes."""

from django.urls import path

from governance.urls import handler400, handler403, handler404, handler500  # noqa: F401
from governance.urls import urlpatterns as real_urlpatterns
from tests.access.test_permission_defaults import NoScopesView, UnmappedView

urlpatterns = [
    path("api/v1/unmapped", UnmappedView.as_view()),
    path("api/v1/no-scopes", NoScopesView.as_view()),
    *real_urlpatterns,
]
