"""The governance app's start-up: it registers its event types, checks, trail listeners, stored files and access
grants.

Modules that define no models and load none are imported at the top (importing them registers their trail event
types and system checks). Django imports this module before any app's models are loaded, so the modules that load
models are imported in ``ready()``, once the app registry is ready.

What only some processes use is not imported here, so a management command starts with what it needs (issue 20):
the background jobs (every app's ``tasks``) are imported when the Celery app is first asked for its tasks
(``governance.celery``: queueing a job, a worker, beat), and the API's OpenAPI extensions when a schema is built
(``register_schema_extensions``, a drf-spectacular preprocessing hook named in the settings).
"""

from collections.abc import Iterator
from typing import Any

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
        # checkpoints follow every append and the sequencer every queued event (in every process that appends);
        # checks: the trail's system checks.
        from governance.exports import access as export_access  # noqa: PLC0415 - loads models; app registry not ready at module load
        from governance.trail import checkpoints, checks, sequencer  # noqa: F401, PLC0415 - loads models; app registry not ready at module load

        post_migrate.connect(keycheck.record_after_migrate, sender=self, dispatch_uid="assay-key-fingerprint")

        # Regulator shares are access grants made by the exports package, a floor above the access layer.
        grants.register(shared_model_ids=export_access.shared_model_ids, record_share_access=_record_share_access)

        storage.register_stored_files("datasets", _dataset_files)
        storage.register_stored_files("exports", _export_files)

        ingest.use_settings(settings)  # the limits on uploaded tables (DATASET_MAX_*) come from the settings


def register_schema_extensions(endpoints: list[Any]) -> list[Any]:
    """drf-spectacular's preprocessing hook (SPECTACULAR_SETTINGS): registers the API's OpenAPI extensions (Bearer
    tokens) before the schema's operations are built, and leaves the endpoints as they are. Only a process that
    builds the schema (the web app, ``manage.py spectacular``) imports drf-spectacular's machinery."""
    from governance.api import schema  # noqa: F401, PLC0415 - registering is importing; only schema builds need it

    return endpoints


def _record_share_access(*, user: Any, obj: Any, request: Any = None, kind: str = "view") -> None:
    """``governance.exports.actions.do_record_share_access``, imported when a regulator first opens shared evidence
    (the exports' actions import the report builder: no command that never serves a regulator loads it)."""
    from governance.exports.actions import do_record_share_access  # noqa: PLC0415 - the report builder, when used

    do_record_share_access(user=user, obj=obj, request=request, kind=kind)


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
