"""Routes of a sign-in at the provider (included by the portal under ``sso/``)."""

from django.urls import path

from governance.access.oidc import views

app_name = "oidc"
urlpatterns = [
    path("start/", views.StartView.as_view(), name="start"),
    path("callback/", views.CallbackView.as_view(), name="callback"),
]
