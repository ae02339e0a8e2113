"""API routes of the audits app, under /api/v1/ (kebab-case plurals)."""

from django.urls import path

from audits.api import gate, ll144, reports, views

app_name = "audits-api"
urlpatterns = [
    path("policies/", views.PolicyList.as_view(), name="policy-list"),
    path("policies/<slug:name>/", views.PolicyDetail.as_view(), name="policy-detail"),
    path("policies/<slug:name>/versions/<int:number>/", views.PolicyVersionDetail.as_view(), name="policy-version"),
    path("policies/<slug:name>/diff", views.PolicyDiff.as_view(), name="policy-diff"),
    path("audits/", views.AuditList.as_view(), name="audit-list"),
    path("audits/<int:pk>/", views.AuditDetail.as_view(), name="audit-detail"),
    path("audits/<int:pk>/ll144-summary/", ll144.AuditLL144Summary.as_view(), name="audit-ll144-summary"),
    path("audits/<int:pk>/reports/", reports.RunReports.as_view(), name="audit-reports"),
    path("models/<slug:name>/versions/<int:number>/reports/", reports.VersionReports.as_view(), name="version-reports"),
    path("reports/<uuid:pk>/", reports.ReportDetail.as_view(), name="report-detail"),
    path("reports/<uuid:pk>/pdf", reports.ReportPdf.as_view(), name="report-pdf"),
    path("gates/check", gate.GateCheck.as_view(), name="gate-check"),
    path("gates/client.py", gate.GateClient.as_view(), name="gate-client"),
    path(
        "gates/decision_proof.py", gate.GateClient.as_view(), {"name": "decision_proof.py"}, name="gate-proof-program"
    ),
    path("gates/verifier.py", gate.GateClient.as_view(), {"name": "verifier.py"}, name="gate-verifier-program"),
    path("gates/decisions/<int:seq>/proof", gate.GateDecisionProof.as_view(), name="gate-decision-proof"),
]
