"""Portal routes of the obligations app."""

from django.urls import path

from obligations.portal import registers, views

app_name = "obligations-portal"

urlpatterns = [
    path(
        "models/<slug:name>/versions/<int:number>/obligations/",
        views.version_obligations,
        name="version-obligations",
    ),
    path("models/<slug:name>/incidents/", registers.model_incidents, name="model-incidents"),
    path("models/<slug:name>/incidents/<int:pk>/report", registers.report_incident, name="incident-report"),
    path("models/<slug:name>/incidents/<int:pk>/steps", registers.incident_step, name="incident-step"),
    path("statement-of-applicability/", registers.statement_of_applicability, name="soa"),
]
