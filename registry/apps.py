from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Registered models, versions, artifacts, model cards and their lifecycle."""

    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from registry import events  # noqa: F401  (registers the registry's trail event types)
