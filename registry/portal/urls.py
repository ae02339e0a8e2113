"""Portal routes of the registry app."""

from django.urls import URLPattern

app_name = "registry-portal"
urlpatterns: list[URLPattern] = []
