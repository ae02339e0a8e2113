"""Several nodes (docs/operations.md): what must not stay on one node, and whether a node is ready for work.

A deployment with several web and worker nodes shares only PostgreSQL, Redis and the object store. The deploy check
here names every setting that would still keep state on one node; it speaks when the deployment says it has several
nodes (``SEVERAL_NODES=1``) or has set ``STORAGE_URL`` (no one moves files to a bucket for a single machine), so a
single-machine deployment's ``check --deploy`` stays as it was.

Readiness (``/readyz`` for a web node, ``manage.py ready --role worker`` for a worker's probe) asks each shared
service a cheap question: a node that cannot reach one of them should get no traffic (web) or no restart loop that
hides the cause (worker). Liveness stays ``/healthz`` (the database and migrations).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from governance.celery import app as celery_app
from governance.storage import is_remote

# --- the deploy check ----------------------------------------------------------------------------------------


@checks.register("nodes", deploy=True)
def node_local_state(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warnings ``assay.W020``-``W025``: production settings that keep state on the node that wrote it."""
    if settings.DEBUG or not (settings.SEVERAL_NODES or settings.STORAGE_URL):
        return []
    found: list[checks.CheckMessage] = []
    if not is_remote():
        found.append(
            checks.Warning(
                "Uploaded artifacts, datasets, reports and bundles are kept under MEDIA_ROOT on this node's disk: "
                "another node cannot read them.",
                hint="Set STORAGE_URL to an S3-protocol bucket every node shares (docs/operations.md).",
                id="assay.W020",
            )
        )
    if settings.CACHES.get("default", {}).get("BACKEND", "").endswith(("LocMemCache", "DummyCache")):
        found.append(
            checks.Warning(
                "The cache is this process's memory: the dashboard's last trail verification and the drawn charts "
                "are seen by this process only.",
                hint="Set CACHE_URL to the Redis every node shares.",
                id="assay.W021",
            )
        )
    if not settings.TRAIL_SIGNING_KEY:
        found.append(
            checks.Warning(
                f"The trail's signing key is generated under TRAIL_KEY_DIR ({settings.TRAIL_KEY_DIR}): each node "
                "would sign checkpoints with a key of its own.",
                hint="Set TRAIL_SIGNING_KEY_FILE to one key file mounted the same on every node.",
                id="assay.W022",
            )
        )
    if not settings.REPORT_SIGNING_KEY_FILE:
        found.append(
            checks.Warning(
                "The report signing certificate is generated under REPORT_KEY_DIR (or TRAIL_KEY_DIR): each node "
                "would sign reports with a certificate of its own.",
                hint="Set REPORT_SIGNING_KEY_FILE and REPORT_SIGNING_CERT_FILE to files mounted the same on every "
                "node.",
                id="assay.W023",
            )
        )
    if connection.vendor == "sqlite":
        found.append(
            checks.Warning(
                "The database is an SQLite file on this node.",
                hint="Set DATABASE_URL to the PostgreSQL every node shares.",
                id="assay.W024",
            )
        )
    if settings.CELERY_BROKER_URL.startswith("filesystem:"):
        found.append(
            checks.Warning(
                f"Jobs are queued as files under JOBS_QUEUE_DIR ({settings.JOBS_QUEUE_DIR}), the embedded broker: a "
                "worker on another node never sees them.",
                hint="Set CELERY_BROKER_URL to the Redis every node shares.",
                id="assay.W025",
            )
        )
    return found


# --- readiness -----------------------------------------------------------------------------------------------


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    key = f"assay:ready:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)


def _storage() -> None:
    if is_remote():  # the bucket exists and these credentials may use it (one HEAD request)
        storage: Any = default_storage
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
    else:
        default_storage.exists("ready-probe")  # a stat: local storage creates MEDIA_ROOT on its first write


def _broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # no broker: jobs run in the process that queues them
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=5)


PROBES: dict[str, Callable[[], None]] = {
    "database": _database,
    "cache": _cache,
    "storage": _storage,
    "broker": _broker,
}
ROLES = {"web": ("database", "cache", "storage", "broker"), "worker": ("database", "cache", "storage", "broker")}


def readiness(role: str) -> dict[str, str]:
    """Each shared service a node of ``role`` needs: "ok" or "unreachable" (no details: they may name hosts)."""
    answers = {}
    for name in ROLES[role]:
        try:
            PROBES[name]()
        except Exception:  # any failure of a probe means not ready; the log of the service says why
            answers[name] = "unreachable"
        else:
            answers[name] = "ok"
    return answers


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness of a web node for a load balancer: 200 when every shared service answers, else 503."""
    answers = readiness("web")
    ready = all(value == "ok" for value in answers.values())
    return JsonResponse({"status": "ok" if ready else "error", "role": "web", **answers}, status=200 if ready else 503)
