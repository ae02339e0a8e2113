"""Top-level routes: the API, its schema and docs, the portal, the admin, health and published keys."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from governance.api.trail import well_known_keys
from governance.api.views import api_not_found, healthz
from governance.nodes import readyz

urlpatterns = [
    path("api/v1/", include("governance.api.urls")),
    path("api/v1/", include("registry.api.urls")),
    path("api/v1/", include("audits.api.urls")),
    path("api/v1/", include("obligations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ is a JSON 404, in development too (DEBUG would otherwise show an HTML page).
    re_path(r"^api/", api_not_found),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path(".well-known/assay-keys", well_known_keys, name="well-known-keys"),
    path("admin/", admin.site.urls),
    path("", include("obligations.portal.urls")),
    path("", include("governance.portal.urls")),
]

handler400 = "governance.web.api.errors.handler400"
handler403 = "governance.web.api.errors.handler403"
handler404 = "governance.web.api.errors.handler404"
handler500 = "governance.web.api.errors.handler500"
