from collections.abc import Iterator

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Identity and access, the trail, and (later) data governance."""

    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Event types and system checks register themselves on import.
        from django.db.models.signals import post_migrate

        from governance import celery, tasks  # noqa: F401  (the Celery app first; tasks: jobs are queued by name)
        from governance.access import checks as access_checks  # noqa: F401
        from governance.api import schema  # noqa: F401
        from governance.data import events as data_events  # noqa: F401
        from governance.data import keycheck
        from governance.trail import checkpoints, checks, events  # noqa: F401  (checkpoints follow every append)

        post_migrate.connect(keycheck.record_after_migrate, sender=self, dispatch_uid="assay-key-fingerprint")

        from governance import storage
        from governance.access import grants
        from governance.exports import access as export_access
        from governance.exports.actions import do_record_share_access

        # Regulator shares are access grants made by the exports package, a floor above the access layer.
        grants.register(shared_model_ids=export_access.shared_model_ids, record_share_access=do_record_share_access)

        storage.register_stored_files("datasets", _dataset_files)
        storage.register_stored_files("exports", _export_files)

        from django.conf import settings

        from governance.data import ingest

        ingest.use_settings(settings)  # the limits on uploaded tables (DATASET_MAX_*) come from the settings


def _dataset_files() -> Iterator[tuple[str, str, str]]:
    """The uploaded files of dataset versions (for verify_media)."""
    from governance.data.models import DatasetVersion

    for version in DatasetVersion.objects.exclude(file="").select_related("dataset").order_by("pk").iterator():
        yield f"dataset {version.dataset.name} v{version.number}", str(version.file.name), version.sha256


def _export_files() -> Iterator[tuple[str, str, str]]:
    """The evidence bundles built for exports (for verify_media)."""
    from governance.exports.models import Export

    for export in Export.objects.exclude(file="").order_by("pk").iterator():
        yield f"export {export.pk}", export.file, export.sha256
