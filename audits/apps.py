"""The audits app's start-up: it registers its trail event types, the deployment gate's hooks and its stored files.

Modules that define no models and load none are imported at the top (importing them registers their trail event
types). Django imports this module before any app's models are loaded, so the modules that load models are
imported in ``ready()``, once the app registry is ready. Its jobs (``audits.tasks``) are imported by the Celery app
when it is first asked for a job (``governance.celery``), not by every process that starts Django.
"""

from collections.abc import Iterator

from django.apps import AppConfig

from audits import events  # noqa: F401  (registers the audits' trail event types)
from audits.monitoring import events as _monitoring_events  # noqa: F401  (monitoring's trail event types)
from governance.storage import register_stored_files


class AuditsConfig(AppConfig):
    """Policies, audit runs, checks, findings, monitoring, reports and exports."""

    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        # hooks: the deployment gate plugs into the registry.
        from audits import hooks  # noqa: F401, PLC0415 - loads models; app registry not ready at module load

        register_stored_files("reports", _report_files)


def _report_files() -> Iterator[tuple[str, str, str]]:
    """The signed PDF reports (for verify_media)."""
    from audits.models import Report  # noqa: PLC0415 - models; the app registry is not ready when this module loads

    for report in Report.objects.order_by("created_at").iterator():
        yield f"report {report.pk}", report.path, report.sha256
