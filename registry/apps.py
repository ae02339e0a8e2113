from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Registered models, versions, artifacts, model cards and their lifecycle."""

    name = "registry"
    verbose_name = "Model registry"
