"""The obligations app's configuration. Importing ``obligations.events`` declares its trail event types."""

from django.apps import AppConfig

from obligations import events  # noqa: F401 - declares the event types (governance.trail.events.register)


class ObligationsConfig(AppConfig):
    """Obligation catalogues and per-version compliance status."""

    name = "obligations"
