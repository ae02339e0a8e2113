"""The obligations app's start-up. Importing ``obligations.events`` declares its trail event types; the deployment
gate's check loads models, so it is imported in ``ready()``, once the app registry is ready."""

from django.apps import AppConfig

from obligations import events  # noqa: F401 - declares the event types (governance.trail.events.register)


class ObligationsConfig(AppConfig):
    """Obligation catalogues and per-version compliance status."""

    name = "obligations"

    def ready(self) -> None:
        # hooks: the deployment gate's obligations check plugs into the registry.
        from obligations import hooks  # noqa: F401, PLC0415 - loads models; app registry not ready at module load
