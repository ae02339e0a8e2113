"""API routes of the audits app, under /api/v1/ (kebab-case plurals)."""

from django.urls import URLPattern

app_name = "audits-api"
urlpatterns: list[URLPattern] = []
