"""Start-up imports what every process needs, and each process still gets what it uses (issue 20).

Starting Django (``django.setup()``, as every management command does) imports no background job and no OpenAPI
machinery. The jobs are imported when the Celery app is first asked for one (queueing it, a worker, beat), and the
OpenAPI extensions when a schema is built. Each test runs a fresh interpreter: this one has imported everything the
suite touched. Each has its control, the same probe once the thing is asked for (or its hook removed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imported by an app's ``ready()`` until issue 20; now only by what uses them.
DEFERRED = (
    "governance.tasks",
    "audits.tasks",
    "registry.tasks",
    "governance.exports.tasks",
    "governance.exports.actions",
    "audits.reports.service",
    "governance.api.schema",
)

# Every job name registered before the change (``current_app.tasks`` after ``django.setup()``), the beat schedule's
# among them: the known answer the deferred imports must still give.
JOBS = (
    "audits.build_run_report",
    "audits.recover_stale_runs",
    "audits.run_audit",
    "exports.build_export",
    "exports.resume_lost_builds",
    "governance.cleanup_temp",
    "governance.issue_checkpoint",
    "governance.register_dataset_upload",
    "governance.sequence_trail",
    "registry.deliver_webhook",
    "registry.monitoring.check_batch",
    "registry.monitoring.run_due_checks",
    "registry.retry_due_webhooks",
)

PRELUDE = """
import json, sys
import django

django.setup()
DEFERRED = {deferred!r}
def loaded():
    return sorted(name for name in DEFERRED if name in sys.modules)
"""


def fresh(code: str, *args: str, **env: str) -> dict:
    """Run ``code`` after ``django.setup()`` in a new interpreter (test settings, ``args`` as its arguments); the
    JSON its last line prints."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE.format(deferred=DEFERRED) + code, *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "JOBS_IN_PROCESS": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


JOB_PROBE = """
at_start = loaded()
from celery import current_app
from django.conf import settings
from governance.jobs import UnknownJob, enqueue

if sys.argv[1:] == ["without-hook"]:  # the control: nothing imports the tasks modules when the app is finalized
    from governance import celery
    celery.app.on_after_finalize.disconnect(celery._import_every_task_module)
try:
    removed = enqueue("governance.cleanup_temp").get()  # looked up by name, as actions queue jobs
except UnknownJob as exc:
    removed = str(exc)
print(json.dumps({
    "at_start": at_start,
    "after_a_job": loaded(),
    "jobs": sorted(name for name in current_app.tasks if not name.startswith("celery.")),
    "beat": sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()),
    "removed": removed,
}))
"""


def test_starting_django_defers_the_jobs_and_queueing_one_finds_them_all(tmp_path: Path) -> None:
    staged = tmp_path / "uploads" / "left-by-a-killed-upload"
    staged.parent.mkdir()
    staged.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(staged, (two_days_ago, two_days_ago))
    found = fresh(JOB_PROBE, FILE_UPLOAD_TEMP_DIR=str(staged.parent))
    assert found["at_start"] == []
    # The control: queueing a job by name imported every tasks module (and so what the jobs run).
    assert set(found["after_a_job"]) >= {"governance.tasks", "audits.tasks", "registry.tasks", "audits.reports.service"}
    assert found["jobs"] == sorted(JOBS)
    assert set(found["beat"]) <= set(found["jobs"])
    assert found["removed"] == 1  # the job ran, in this process (JOBS_IN_PROCESS=1)
    assert not staged.exists()


def test_without_the_hook_a_fresh_process_would_not_find_the_jobs() -> None:
    found = fresh(JOB_PROBE, "without-hook")
    assert found["removed"] == "no background job named 'governance.cleanup_temp' is registered"
    # Only the jobs of the modules start-up imports for their trail listeners (checkpoints, the sequencer).
    assert found["jobs"] == ["governance.issue_checkpoint", "governance.sequence_trail"]


SCHEMA_PROBE = """
at_start = loaded()
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import spectacular_settings

if sys.argv[1:] == ["without-hook"]:
    spectacular_settings.PREPROCESSING_HOOKS = []  # the control: nothing registers the extensions
schema = SchemaGenerator().get_schema(request=None, public=True)
print(json.dumps({"at_start": at_start, "schemes": schema["components"].get("securitySchemes", {})}))
"""


def test_the_schema_documents_bearer_tokens_though_start_up_no_longer_imports_its_extension() -> None:
    found = fresh(SCHEMA_PROBE)
    assert found["at_start"] == []
    assert found["schemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": found["schemes"]["bearerAuth"]["description"],
    }
    assert "manage.py issue_token" in found["schemes"]["bearerAuth"]["description"]


def test_without_the_hook_the_schema_would_not_know_the_bearer_tokens() -> None:
    found = fresh(SCHEMA_PROBE, "without-hook")
    assert found["at_start"] == []
    assert "bearerAuth" not in found["schemes"]
