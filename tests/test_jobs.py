"""Jobs: in process by default; a real Celery worker over Redis when a broker is configured."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

import registry.tasks  # noqa: F401 - the worker imports every app's tasks module (ready() does too)
from governance.celery import app
from governance.tasks import issue_checkpoint_task
from governance.trail.models import Checkpoint
from tests.trail.helpers import append

REDIS_URL = os.environ.get("ASSAY_TEST_REDIS_URL", "")


def test_without_a_broker_jobs_run_in_process(db: None) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER
    append(2)
    result = issue_checkpoint_task.delay(reason="test", only_if_due=False)
    assert result.get() == 3  # the two events and the signing key's registration
    assert Checkpoint.objects.get().reason == "test"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not REDIS_URL, reason="set ASSAY_TEST_REDIS_URL (CI does) to run a real worker against Redis")
def test_a_real_worker_runs_jobs_through_redis(unprotected_trail: None, tmp_path) -> None:
    """A separate `celery worker` process, as deployed, takes a job from Redis and writes to the same database."""
    append(3)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    queue = f"assay-test-{os.getpid()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "governance",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        env=env,
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        producer = Celery(broker=REDIS_URL, set_as_current=False)  # never replace the app under test
        producer.send_task(
            "governance.issue_checkpoint", kwargs={"reason": "worker", "only_if_due": False}, queue=queue
        )
        deadline = time.monotonic() + 60
        while not Checkpoint.objects.filter(reason="worker").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    log = (tmp_path / "worker.log").read_text()
    assert Checkpoint.objects.filter(reason="worker").exists(), log
    assert Checkpoint.objects.get(reason="worker").tree_size == 4  # three events and the key's registration
    assert "governance.issue_checkpoint" in log


def test_the_beat_schedule_names_tasks_that_exist() -> None:
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
