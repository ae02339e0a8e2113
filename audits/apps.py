from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """Policies, audit runs, checks, findings, monitoring, reports and exports."""

    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        # Trail event types register themselves on import; the deployment gate plugs into the registry.
        from audits import events, hooks  # noqa: F401
