"""Monitoring actions: configure a version's monitoring (profiling its reference once), receive batches and late
labels, check batches, and turn alerts into findings, webhook notifications and e-mails.

One module per aggregate: ``configuration`` (the reference, features and roles), ``batches`` (production batches and
their labels), ``checks`` (checking them, and the sweep), ``findings`` (what alerts become, retraining links);
``common`` holds the refusal type and the helpers they share. This package re-exports every name its importers use,
so ``from audits.monitoring import actions`` keeps working.

Each action owns its transaction and appends its trail events inside it (STYLE.md). Reading and validating a file
happens before the transaction; the dataset version, the lineage run, the batch row and the events are written
together or not at all. A check runs after the upload commits (a Celery task; in process without a broker), and
``run_due_checks`` (``manage.py monitor``, the beat schedule) runs every check still due, so none is lost.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from audits.monitoring.actions import batches, checks, common, configuration, findings
from audits.monitoring.actions.batches import _queue, do_add_labels, do_upload_batch
from audits.monitoring.actions.checks import due_batches, execute_check, monitoring_rules, run_due_checks
from audits.monitoring.actions.common import ERROR_KIND, UNDEPLOYED_KIND, WRITERS, MonitoringError
from audits.monitoring.actions.configuration import do_configure_monitoring
from audits.monitoring.actions.findings import link_retrained

__all__ = [
    "ERROR_KIND",
    "UNDEPLOYED_KIND",
    "WRITERS",
    "MonitoringError",
    "_queue",
    "do_add_labels",
    "do_configure_monitoring",
    "do_upload_batch",
    "due_batches",
    "execute_check",
    "link_retrained",
    "monitoring_rules",
    "run_due_checks",
]

_SUBMODULES = (common, configuration, batches, checks, findings)


class _Package(types.ModuleType):
    """Setting a name on the package sets it in each submodule that holds it too, as it did when the actions were one
    module: a test's ``monkeypatch.setattr(audits.monitoring.actions, "_queue", ...)`` reaches the uploads that
    queue (and its undo restores them). Drop this once callers patch the submodule they mean."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        for module in _SUBMODULES:
            if name in vars(module):
                setattr(module, name, value)


sys.modules[__name__].__class__ = _Package
