from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """Policies, audit runs, checks, findings, monitoring, reports and exports."""

    name = "audits"
    verbose_name = "Audits"
