"""Portal routes of the obligations app."""

from django.urls import path

from obligations.portal import views

app_name = "obligations-portal"

urlpatterns = [
    path(
        "models/<slug:name>/versions/<int:number>/obligations/",
        views.version_obligations,
        name="version-obligations",
    ),
]
