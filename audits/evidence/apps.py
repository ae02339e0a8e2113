"""The evidence-imports app: its trail event type, its routes on the version pages, its stored files."""

from collections.abc import Iterator

from django.apps import AppConfig

from audits.evidence import events  # noqa: F401  (registers the evidence.imported trail event type)
from governance.storage import register_stored_files


class EvidenceConfig(AppConfig):
    """Result files of other evaluation tools imported as evidence for a model version."""

    name = "audits.evidence"
    label = "evidence"
    verbose_name = "Imported evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audits.evidence import hooks  # noqa: PLC0415 - loads models; the app registry is not ready at module load

        hooks.register()
        register_stored_files("evidence", _evidence_files)


def _evidence_files() -> Iterator[tuple[str, str, str]]:
    """The imported result files (for verify_media)."""
    from audits.evidence.models import EvidenceImport  # noqa: PLC0415 - models; see ready()

    for item in EvidenceImport.objects.order_by("id").iterator():
        yield f"evidence import {item.pk}", item.path, item.sha256
