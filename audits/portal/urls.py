"""Portal routes of the audits app."""

from django.urls import path

from audits.portal import views

app_name = "audits-portal"
urlpatterns = [
    path("audits/", views.run_list, name="run-list"),
    path("audits/new", views.run_new, name="run-new"),
    path("audits/<int:pk>/", views.run_detail, name="run-detail"),
    path("audits/<int:pk>/body", views.run_body, name="run-body"),
    path("audits/<int:pk>/report", views.run_report, name="run-report"),
]
