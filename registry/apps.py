from collections.abc import Iterator

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Registered models, versions, artifacts, model cards and their lifecycle."""

    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from django.conf import settings

        from governance.storage import register_stored_files
        from registry import (
            artifacts,
            data_hooks,
            events,  # noqa: F401  (registers the registry's trail event types)
            tasks,  # noqa: F401  (its jobs are queued by name: governance.jobs)
        )

        register_stored_files("artifacts", _artifact_files)
        artifacts.use_settings(settings)  # the upload limits (ARTIFACT_MAX_*, ONNX_MAX_*) come from the settings
        data_hooks.register()  # data governance (a floor below) asks about model versions through its hooks


def _artifact_files() -> Iterator[tuple[str, str, str]]:
    """The model artifacts the registry's versions reference (for verify_media)."""
    from registry.models import ModelVersion

    for version in ModelVersion.objects.exclude(artifact="").select_related("model").order_by("pk").iterator():
        yield f"model {version.model.name} v{version.number}", str(version.artifact.name), version.artifact_sha256
