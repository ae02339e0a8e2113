"""API routes of the registry, under /api/v1/."""

from django.urls import path

from registry import hooks
from registry.api import supply_chain, views

app_name = "registry-api"

_V = "models/<slug:name>/versions/<int:number>"

urlpatterns = [
    path("models/", views.ModelList.as_view(), name="model-list"),
    path("models/<slug:name>/", views.ModelDetail.as_view(), name="model-detail"),
    path("models/<slug:name>/risk", views.ModelRisk.as_view(), name="model-risk"),
    path("risk-questionnaire", views.RiskQuestionnaire.as_view(), name="risk-questionnaire"),
    path("models/<slug:name>/history", views.ModelHistory.as_view(), name="model-history"),
    path("models/<slug:name>/versions/", views.VersionList.as_view(), name="version-list"),
    path("models/<slug:name>/webhooks/", views.WebhookList.as_view(), name="webhook-list"),
    path("models/<slug:name>/webhooks/<int:pk>/", views.WebhookDetail.as_view(), name="webhook-detail"),
    path("models/<slug:name>/webhooks/<int:pk>/deliveries/", views.DeliveryList.as_view(), name="webhook-deliveries"),
    path(f"{_V}/", views.VersionDetail.as_view(), name="version-detail"),
    path(f"{_V}/model-card", views.ModelCard.as_view(), name="version-model-card"),
    path(f"{_V}/submit", views.SubmitVersion.as_view(), name="version-submit"),
    path(f"{_V}/approve", views.ApproveVersion.as_view(), name="version-approve"),
    path(f"{_V}/reject", views.RejectVersion.as_view(), name="version-reject"),
    path(f"{_V}/deploy", views.DeployVersion.as_view(), name="version-deploy"),
    path(f"{_V}/retire", views.RetireVersion.as_view(), name="version-retire"),
    path(f"{_V}/lineage", views.VersionLineage.as_view(), name="version-lineage"),
    path(f"{_V}/lineage/prov", views.VersionProv.as_view(), name="version-prov"),
    path(f"{_V}/mlbom", supply_chain.VersionMLBOM.as_view(), name="version-mlbom"),
    path(f"{_V}/findings/", views.FindingList.as_view(), name="version-findings"),
    path(f"{_V}/findings/<int:pk>/resolve", views.ResolveFinding.as_view(), name="version-finding-resolve"),
    # Routes other apps add under this namespace (monitoring's: audits/api/monitoring.py).
    *hooks.API_ROUTES,
]
