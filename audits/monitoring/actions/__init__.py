"""Monitoring actions: configure a version's monitoring (profiling its reference once), receive batches and late
labels, check batches, and turn alerts into findings, webhook notifications and e-mails.

One module per aggregate: ``configuration`` (the reference, features and roles), ``batches`` (production batches and
their labels), ``checks`` (checking them, and the sweep), ``findings`` (what alerts become, retraining links);
``common`` holds the refusal type and the helpers they share. This package re-exports the public API (the names in
``__all__``), so callers may write ``from audits.monitoring import actions``; a test that replaces a name patches the
submodule that uses it (``monkeypatch.setattr(audits.monitoring.actions.batches, "_queue", ...)``), never this package.

Each action owns its transaction and appends its trail events inside it (STYLE.md). Reading and validating a file
happens before the transaction; the dataset version, the lineage run, the batch row and the events are written
together or not at all. A check runs after the upload commits (a Celery task; in process without a broker), and
``run_due_checks`` (``manage.py monitor``, the beat schedule) runs every check still due, so none is lost.
"""

from __future__ import annotations

from audits.monitoring.actions.batches import do_add_labels, do_upload_batch
from audits.monitoring.actions.checks import due_batches, execute_check, monitoring_rules, run_due_checks
from audits.monitoring.actions.common import ERROR_KIND, UNDEPLOYED_KIND, WRITERS, MonitoringError
from audits.monitoring.actions.configuration import do_configure_monitoring
from audits.monitoring.actions.findings import link_retrained
from audits.monitoring.actions.sources import do_configure_batch_source, pull_due_partitions

__all__ = [
    "ERROR_KIND",
    "UNDEPLOYED_KIND",
    "WRITERS",
    "MonitoringError",
    "do_add_labels",
    "do_configure_batch_source",
    "do_configure_monitoring",
    "do_upload_batch",
    "due_batches",
    "execute_check",
    "link_retrained",
    "monitoring_rules",
    "pull_due_partitions",
    "run_due_checks",
]
