"""The single sign-on app: registers its trail event types at start-up."""

from django.apps import AppConfig

from governance.access.oidc import events  # noqa: F401  (registers user.signed_in)


class OidcConfig(AppConfig):
    """Links between a provider's subjects and Assay's users, and the sign-in views."""

    name = "governance.access.oidc"
    label = "oidc"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"
