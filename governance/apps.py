"""The governance app's start-up: it registers its event types, checks, jobs, stored files and access grants.

Modules that define no models and load none are imported at the top (importing them registers their trail event
types, system checks and schema extensions). Django imports this module before any app's models are loaded, so the
modules that load models are imported in ``ready()``, once the app registry is ready.
"""

from collections.abc import Iterator

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

from governance import (
    celery,  # noqa: F401  (the Celery app exists before any task is defined)
    nodes,  # noqa: F401  (registers the several-nodes deploy check)
    storage,
)
from governance.access import checks as access_checks  # noqa: F401  (registers the rate-limit cache check)
from governance.access import grants
from governance.api import schema  # noqa: F401  (registers the API's OpenAPI extensions)
from governance.data import events as data_events  # noqa: F401  (registers the data trail event types)
from governance.data import ingest, keycheck
from governance.trail import events  # noqa: F401  (registers the trail's own event types)


class GovernanceConfig(AppConfig):
    """Identity and access, the trail, and (later) data governance."""

    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Each of these loads models (directly or through what it imports), and the app registry is not ready when
        # Django imports this module: a top-level import would raise AppRegistryNotReady.
        # tasks: jobs are queued by name; checkpoints follow every append; checks: the trail's system checks.
        from governance import tasks  # noqa: F401, PLC0415 - loads models; app registry not ready at module load
        from governance.exports import access as export_access  # noqa: PLC0415 - loads models; app registry not ready at module load
        from governance.exports.actions import do_record_share_access  # noqa: PLC0415 - loads models; app registry not ready at module load
        from governance.trail import checkpoints, checks  # noqa: F401, PLC0415 - loads models; app registry not ready at module load

        post_migrate.connect(keycheck.record_after_migrate, sender=self, dispatch_uid="assay-key-fingerprint")

        # Regulator shares are access grants made by the exports package, a floor above the access layer.
        grants.register(shared_model_ids=export_access.shared_model_ids, record_share_access=do_record_share_access)

        storage.register_stored_files("datasets", _dataset_files)
        storage.register_stored_files("exports", _export_files)

        ingest.use_settings(settings)  # the limits on uploaded tables (DATASET_MAX_*) come from the settings


def _dataset_files() -> Iterator[tuple[str, str, str]]:
    """The uploaded files of dataset versions (for verify_media)."""
    from governance.data.models import DatasetVersion  # noqa: PLC0415 - a model; app registry not ready at module load

    for version in DatasetVersion.objects.exclude(file="").select_related("dataset").order_by("pk").iterator():
        yield f"dataset {version.dataset.name} v{version.number}", str(version.file.name), version.sha256


def _export_files() -> Iterator[tuple[str, str, str]]:
    """The evidence bundles built for exports (for verify_media)."""
    from governance.exports.models import Export  # noqa: PLC0415 - a model; app registry not ready at module load

    for export in Export.objects.exclude(file="").order_by("pk").iterator():
        yield f"export {export.pk}", export.file, export.sha256
