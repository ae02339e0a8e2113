from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Identity and access, the trail, and (later) data governance."""

    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Event types and system checks register themselves on import.
        from django.db.models.signals import post_migrate

        from governance.access import checks as access_checks  # noqa: F401
        from governance.api import schema  # noqa: F401
        from governance.data import events as data_events  # noqa: F401
        from governance.data import keycheck
        from governance.trail import checks, events  # noqa: F401

        post_migrate.connect(keycheck.record_after_migrate, sender=self, dispatch_uid="assay-key-fingerprint")

        from governance import storage
        from governance.access import grants
        from governance.exports import access as export_access
        from governance.exports.actions import do_record_share_access

        # Regulator shares are access grants made by the exports package, a floor above the access layer.
        grants.register(shared_model_ids=export_access.shared_model_ids, record_share_access=do_record_share_access)

        storage.register_stored_files("datasets", storage.dataset_files)
        storage.register_stored_files("exports", storage.export_files)
