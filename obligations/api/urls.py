"""API routes of the obligations app, under /api/v1/ (kebab-case plurals, beside the registry's model routes)."""

from django.urls import path

from obligations.api import views

app_name = "obligations-api"

_V = "models/<slug:name>/versions/<int:number>"

urlpatterns = [
    path("obligation-catalogues/", views.CatalogueList.as_view(), name="catalogue-list"),
    path("obligation-catalogues/<slug:name>/", views.CatalogueDetail.as_view(), name="catalogue-detail"),
    path("obligation-catalogues/<slug:name>/oscal", views.CatalogueOscal.as_view(), name="catalogue-oscal"),
    path("statement-of-applicability/", views.StatementOfApplicability.as_view(), name="soa"),
    path("statement-of-applicability.csv", views.StatementOfApplicabilityCsv.as_view(), name="soa-csv"),
    path("statement-of-applicability.pdf", views.StatementOfApplicabilityPdf.as_view(), name="soa-pdf"),
    path(
        "statement-of-applicability/<str:control>",
        views.StatementOfApplicabilityControl.as_view(),
        name="soa-control",
    ),
    path("models/<slug:name>/obligation-scope", views.ModelScope.as_view(), name="model-scope"),
    path("models/<slug:name>/incidents/", views.IncidentList.as_view(), name="incident-list"),
    path("models/<slug:name>/incidents/<int:pk>/report", views.IncidentReport.as_view(), name="incident-report"),
    path("models/<slug:name>/incidents/<int:pk>/steps", views.IncidentSteps.as_view(), name="incident-steps"),
    path(f"{_V}/obligations/", views.VersionObligations.as_view(), name="version-obligations"),
    path(f"{_V}/obligations/oscal", views.VersionOscal.as_view(), name="version-oscal"),
    path(f"{_V}/annex-iv", views.VersionAnnexIv.as_view(), name="version-annex-iv"),
    path(f"{_V}/annex-iv.pdf", views.VersionAnnexIvPdf.as_view(), name="version-annex-iv-pdf"),
    path(f"{_V}/monitoring-plan", views.VersionMonitoringPlan.as_view(), name="version-monitoring-plan"),
    path(f"{_V}/monitoring-plan.pdf", views.VersionMonitoringPlanPdf.as_view(), name="version-monitoring-plan-pdf"),
    path(
        f"{_V}/obligations/<slug:catalogue>/<str:obligation>/decisions",
        views.ObligationDecisionView.as_view(),
        name="obligation-decision",
    ),
]
