from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Identity and access, the trail, and (later) data governance."""

    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Event types and system checks register themselves on import.
        from governance.access import checks as access_checks  # noqa: F401
        from governance.api import schema  # noqa: F401
        from governance.data import events as data_events  # noqa: F401
        from governance.trail import checks, events  # noqa: F401
