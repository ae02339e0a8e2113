"""Portal routes of the registry app."""

from django.urls import path

from registry import hooks
from registry.portal import registration, views

app_name = "registry-portal"

_V = "models/<slug:name>/versions/<int:number>"

urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    # Before models/<slug:name>/ in spirit; no clash either way: "models/new" has no trailing slash.
    path("models/new", registration.model_new, name="model-new"),
    path("models/<slug:name>/versions/new", registration.version_new, name="version-new"),
    path("models/<slug:name>/", views.model_detail, name="model-detail"),
    path("models/<slug:name>/risk", views.model_risk, name="model-risk"),
    path(f"{_V}/", views.version_detail, name="version-detail"),
    path(f"{_V}/card", views.version_card, name="version-card"),
    path(f"{_V}/submit", views.version_submit, name="version-submit"),
    path(f"{_V}/approve", views.version_approve, name="version-approve"),
    path(f"{_V}/reject", views.version_reject, name="version-reject"),
    path(f"{_V}/deploy", views.version_deploy, name="version-deploy"),
    path(f"{_V}/retire", views.version_retire, name="version-retire"),
    path(f"{_V}/findings/<int:pk>/resolve", views.finding_resolve, name="finding-resolve"),
    path("approvals/", views.approvals, name="approvals"),
    # Routes other apps add under this namespace (monitoring's batch upload: audits/portal/monitoring.py).
    *hooks.PORTAL_ROUTES,
]
