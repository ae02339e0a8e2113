"""The Celery application. With no ``CELERY_BROKER_URL`` its broker is the embedded one (files under
``JOBS_QUEUE_DIR``, see governance/settings.py); ``JOBS_IN_PROCESS=1`` runs tasks in the process that queues them.

Every app's ``tasks`` module (and ``CELERY_IMPORTS``) is imported when the app is finalized, i.e. first asked for its
tasks: a worker or beat starting, or a process queueing its first job (``governance.jobs.enqueue``). A process that
queues none (most management commands) never imports the jobs nor what they run (issue 20)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

from governance.data.keycheck import stop_if_key_changed

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
# Numeric libraries must not oversubscribe the two cores a worker shares (measured 5-300x slowdowns).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

app = Celery("assay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _import_every_task_module(sender: Celery, **kwargs: Any) -> None:
    """Every job is registered before a job is looked up by name: autodiscovery's imports happen now, not only when
    a worker starts (where Celery does them too; importing twice is nothing). Not ``loader.import_default_modules()``:
    its signal also runs Django's system checks (Celery's Django fixup validates a worker's models there)."""
    sender.autodiscover_tasks(force=True)  # every installed app's tasks module
    for module in sender.conf.imports:  # CELERY_IMPORTS
        sender.loader.import_task_module(module)


@worker_init.connect
def _refuse_a_changed_pseudonym_key(**kwargs: Any) -> None:
    """A worker with another PSEUDONYM_KEY would write subjects under new pseudonyms: it does not start."""
    stop_if_key_changed()


# What every audit imports on its first run: reading the data (pyarrow, pandas), the group statistics (scipy),
# performance (scikit-learn's metrics) and scoring an ONNX model (onnx, onnxruntime). Not shap nor ART: only some
# models need them, and they would add seconds and hundreds of megabytes to every worker.
AUDIT_LIBRARIES = (
    "pyarrow.csv",
    "pyarrow.compute",
    "pandas",
    "scipy.special",
    "scipy.stats",
    "sklearn.metrics",
    "onnx",
    "onnx.helper",
    "onnx.numpy_helper",
    "onnxruntime",
)


@worker_init.connect
def _import_audit_libraries(**kwargs: Any) -> None:
    """The worker's pool processes are forked from this one: libraries imported here once are in every one of them,
    so no pool process pays them on its first audit (the demo's high-risk audit took 14 s of its engine time importing
    scikit-learn and onnx on a loaded machine, against 0.6 s for the same audit in a warm process)."""
    for name in AUDIT_LIBRARIES:
        importlib.import_module(name)
