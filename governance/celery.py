"""The Celery application. With no ``CELERY_BROKER_URL`` its broker is the embedded one (files under
``JOBS_QUEUE_DIR``, see governance/settings.py); ``JOBS_IN_PROCESS=1`` runs tasks in the process that queues them."""

from __future__ import annotations

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


@worker_init.connect
def _refuse_a_changed_pseudonym_key(**kwargs: Any) -> None:
    """A worker with another PSEUDONYM_KEY would write subjects under new pseudonyms: it does not start."""
    stop_if_key_changed()
