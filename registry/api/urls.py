"""API routes of the registry app, under /api/v1/ (kebab-case plurals)."""

from django.urls import URLPattern

app_name = "registry-api"
urlpatterns: list[URLPattern] = []
