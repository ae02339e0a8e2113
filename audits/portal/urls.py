"""Portal routes of the audits app."""

from django.urls import URLPattern

app_name = "audits-portal"
urlpatterns: list[URLPattern] = []
