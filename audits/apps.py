from collections.abc import Iterator

from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """Policies, audit runs, checks, findings, monitoring, reports and exports."""

    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        # Trail event types register themselves on import; the deployment gate plugs into the registry.
        from audits import events, hooks, tasks  # noqa: F401  (tasks: its jobs are queued by name)
        from audits.monitoring import events as _monitoring_events  # noqa: F401  (monitoring's trail event types)
        from governance.storage import register_stored_files

        register_stored_files("reports", _report_files)


def _report_files() -> Iterator[tuple[str, str, str]]:
    """The signed PDF reports (for verify_media)."""
    from audits.models import Report

    for report in Report.objects.order_by("created_at").iterator():
        yield f"report {report.pk}", report.path, report.sha256
