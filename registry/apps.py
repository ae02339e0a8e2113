"""The registry app's start-up: its trail event types, the artifact limits, its stored files and data hooks.

Modules that define no models and load none are imported at the top (importing ``events`` registers the
registry's trail event types). Django imports this module before any app's models are loaded, so the modules that
load models (``data_hooks``, ``models``) are imported in ``ready()`` or when used, once the app registry is ready.
Its jobs (``registry.tasks``) are imported by the Celery app when it is first asked for a job (``governance.celery``).
"""

from collections.abc import Iterator

from django.apps import AppConfig
from django.conf import settings

from governance.storage import register_stored_files
from registry import (
    artifacts,
    events,  # noqa: F401  (registers the registry's trail event types)
    hooks,
    signature_rules,
)


class RegistryConfig(AppConfig):
    """Registered models, versions, artifacts, model cards and their lifecycle."""

    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        # It loads models, and the app registry is not ready when Django imports this module.
        from registry import data_hooks  # noqa: PLC0415 - loads models; app registry not ready at module load

        register_stored_files("artifacts", _artifact_files)
        register_stored_files("signatures", _signature_files)
        artifacts.use_settings(settings)  # the upload limits (ARTIFACT_MAX_*, ONNX_MAX_*) come from the settings
        data_hooks.register()  # data governance (a floor below) asks about model versions through its hooks
        hooks.DEPLOYMENT_CHECKS.append(signature_rules.signature_refusal)  # a signer the tier requires


def _artifact_files() -> Iterator[tuple[str, str, str]]:
    """The model artifacts the registry's versions reference (for verify_media)."""
    from registry.models import ModelVersion  # noqa: PLC0415 - the app registry is not ready when this module loads

    for version in ModelVersion.objects.exclude(artifact="").select_related("model").order_by("pk").iterator():
        yield f"model {version.model.name} v{version.number}", str(version.artifact.name), version.artifact_sha256


def _signature_files() -> Iterator[tuple[str, str, str]]:
    """The model signature bundles the registry's versions reference (for verify_media)."""
    from registry.models import VersionSignature  # noqa: PLC0415 - the app registry is not ready when this module loads

    for record in VersionSignature.objects.select_related("version__model").order_by("pk").iterator():
        version = record.version
        yield f"signature of {version.model.name} v{version.number}", record.file, record.signature_sha256
