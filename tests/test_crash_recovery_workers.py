"""Work that heals (issue 17), beyond audits: a process killed in the middle of an upload, a Celery job, a webhook
delivery or a monitoring batch check leaves nothing that needs the database edited by hand.

Processes are killed for real (SIGKILL); lease expiry is judged with a clock the test passes (``now=``), never by
sleeping.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from audits import actions
from audits.models import AuditRun, Policy, RunStatus
from audits.monitoring import actions as monitoring
from audits.monitoring.actions import batches
from governance.tempfiles import cleanup_temp_files
from governance.trail.log import Actor
from registry import actions as registry
from registry import webhooks
from registry.models import BatchStatus, DeliveryStatus, MonitoringBatch, WebhookDelivery
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.crash_helpers import ROOT, child_env, wait_for
from tests.data.conftest import make_dataset
from tests.monitoring import arrange
from tests.registry.conftest import acting, register_model

# --- uploads: staged in Assay's own folder, and what a killed process left is cleaned ----------------------------

UPLOADER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from django.core.files.uploadhandler import load_handler
    from django.conf import settings
    from django.http.multipartparser import MultiPartParser

    boundary = "assay-boundary"
    head = (
        f"--{boundary}\\r\\nContent-Disposition: form-data; name=\\"file\\"; filename=\\"data.csv\\"\\r\\n"
        "Content-Type: text/csv\\r\\n\\r\\n"
    ).encode() + b"a,b\\n1,2\\n" * 40000

    class Stalling:
        # The client sends the head of a large upload, then stops: the read waits (until the process is killed).
        def __init__(self):
            self.sent = False
        def read(self, size=-1):
            if not self.sent:
                self.sent = True
                return head
            sys.stdout.write("staged\\n")
            sys.stdout.flush()
            return sys.stdin.buffer.read(1)

    meta = {"CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": str(50 * 1024 * 1024)}
    handlers = [load_handler(path) for path in settings.FILE_UPLOAD_HANDLERS]
    MultiPartParser(meta, Stalling(), handlers).parse()
    """
)


def test_a_killed_upload_leaves_its_file_in_the_staging_folder_and_cleanup_removes_it(
    settings: Any, tmp_path: Path
) -> None:

    staging = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(staging)
    staging.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", UPLOADER],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "FILE_UPLOAD_TEMP_DIR": str(staging)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # Django's upload handler has written the first chunk to its staged file
        assert line == b"staged\n", child.stderr.read() if child.stderr else b""
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    [left] = list(staging.iterdir())  # Django's request end never came: the staged file stays
    assert left.name.endswith(".upload.csv")
    assert left.stat().st_size > 0
    written = left.stat().st_mtime

    # Younger than the limit (by the clock the test passes): kept; older: removed.
    limit = settings.TEMP_FILE_MAX_AGE_SECONDS
    assert cleanup_temp_files(now=written + limit - 1) == []
    assert left.exists()
    assert cleanup_temp_files(now=written + limit + 1) == [left]
    assert not left.exists()

    # The command does the same (here with no age limit).
    (staging / "another.upload").write_bytes(b"x")
    call_command("cleanup_temp", older_than=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert list(staging.iterdir()) == []


def test_uploads_are_staged_in_a_folder_of_assays_own_under_var_dir() -> None:
    if not os.environ.get("FILE_UPLOAD_TEMP_DIR"):
        assert Path(django_settings.FILE_UPLOAD_TEMP_DIR) == Path(django_settings.VAR_DIR) / "tmp" / "uploads"
    assert Path(django_settings.FILE_UPLOAD_TEMP_DIR).is_dir()
    assert django_settings.CELERY_BEAT_SCHEDULE["cleanup-temp-files"]["task"] == "governance.cleanup_temp"


@pytest.mark.django_db
def test_an_upload_refused_or_accepted_leaves_no_staged_file(
    cast: Cast, media: Path, settings: Any, tmp_path: Path
) -> None:
    staging = tmp_path / "uploads"
    staging.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(staging)
    make_dataset(cast, "applicants")
    url = "/api/v1/datasets/applicants/versions/"
    for content, accepted in ((b'a,b\n1,"2\n', False), (b"a,b\n1,2\n3,4\n", True)):
        response = cast.owner.client().post(
            url, {"file": SimpleUploadedFile("x.csv", content, content_type="text/csv")}, format="multipart"
        )
        assert (response.status_code == 201) == accepted, response.content[:300]
        assert list(staging.iterdir()) == []


# --- Celery: the pool process killed, the job delivered again, the run taken over --------------------------------

REDIS_URL = os.environ.get("ASSAY_TEST_REDIS_URL", "")


WORKER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    import django
    django.setup()
    from audits import actions

    ready, queue = pathlib.Path(sys.argv[1]), sys.argv[2]
    real = actions._Beat.__call__

    def hold(self, percent=None, note=""):
        real(self, percent, note)
        if note.startswith("running") and self.attempt == 1:  # the first attempt stops inside the checks
            ready.write_text(str(os.getpid()))
            time.sleep(3600)

    actions._Beat.__call__ = hold
    from celery.bin.celery import main

    sys.argv = ["celery", "-A", "governance", "worker", "--pool=prefork", "--concurrency=1", "-Q", queue,
                "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel=INFO"]
    main()
    """
)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not REDIS_URL, reason="set ASSAY_TEST_REDIS_URL (CI does) to run a real worker against Redis")
def test_a_killed_pool_process_gets_its_job_again_and_the_run_is_taken_over(
    cast: Cast, media: Path, unprotected_trail: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions.ensure_builtin_policies()
    queue = f"assay-test-crash-{os.getpid()}"
    ready, log = tmp_path / "ready", tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(ready), queue],
        cwd=ROOT,
        env={**child_env(), "CELERY_BROKER_URL": REDIS_URL},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    producer = Celery(broker=REDIS_URL, set_as_current=False)  # never replace the app under test
    # This process has no broker (jobs would run here): the run's job goes to the real worker's queue instead.
    monkeypatch.setattr(
        actions, "_queue", lambda run_id: producer.send_task("audits.run_audit", args=[run_id], queue=queue)
    )
    try:
        run, created = actions.do_start_audit(
            user=cast.owner.user,
            actor=Actor.system(),
            model_version=predictions_only_version(cast),
            dataset_version=upload(cast, decision_rows(PASSING_RATES)),
            policy_version=Policy.objects.get(name="four-fifths").latest_version(),
            column_roles=PREDICTION_ROLES,
        )
        assert created
        wait_for(lambda: ready.exists() or worker.poll() is not None, "the worker to reach the checks")
        assert ready.exists(), log.read_text()
        pool_process = int(ready.read_text())
        held = AuditRun.objects.get(pk=run.pk)
        assert (held.status, held.attempts) == (RunStatus.RUNNING, 1)
        assert held.worker.endswith(f"/{pool_process}")

        os.kill(pool_process, signal.SIGKILL)  # the pool process dies; the worker's main process lives on

        def ended() -> bool:
            return AuditRun.objects.filter(pk=run.pk, status__in=[RunStatus.DONE, RunStatus.ERROR]).exists()

        wait_for(lambda: ended() or worker.poll() is not None, "the job delivered again to end the run")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    text = log.read_text()
    healed = AuditRun.objects.get(pk=run.pk)
    assert (healed.status, healed.verdict, healed.attempts) == (RunStatus.DONE, "pass", 2), text
    assert not healed.worker.endswith(f"/{pool_process}")
    assert "WorkerLostError" in text or "SIGKILL" in text, text


# --- webhook deliveries: the worker killed in the middle of the request -----------------------------------------

SENDER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from registry.webhooks import attempt

    attempt(int(sys.argv[1]))
    """
)


class HangingReceiver:
    """A local HTTP receiver that holds the first request without answering (until the test ends) and answers
    every later one 204."""

    def __init__(self) -> None:
        self.first, self.release, self.answered = threading.Event(), threading.Event(), 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API names it so
                self.rfile.read(int(self.headers["Content-Length"]))
                if not receiver.first.is_set():
                    receiver.first.set()
                    receiver.release.wait()
                    return
                receiver.answered += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("max_attempts", [8, 1], ids=["taken-over", "last-attempt-ends-failed"])
@pytest.mark.django_db(transaction=True)
def test_a_delivery_whose_worker_was_killed_mid_request_is_taken_over_after_its_lease(
    cast: Cast, unprotected_trail: None, settings: Any, monkeypatch: pytest.MonkeyPatch, max_attempts: int
) -> None:
    settings.WEBHOOK_ALLOW_LOCAL = settings.WEBHOOK_ALLOW_HTTP = True
    receiver = HangingReceiver()
    monkeypatch.setattr(webhooks, "_send_later", lambda ids: None)  # the child process sends it, not this one
    try:
        model = register_model(cast, "minimal")
        draft = registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
        registry.do_add_webhook(model=model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
        registry.do_submit(version=draft, user=cast.owner.user, actor=acting(cast.owner))
        delivery = WebhookDelivery.objects.get()
        env = {**child_env(), "WEBHOOK_ALLOW_LOCAL": "1", "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_TIMEOUT_SECONDS": "600"}
        child = subprocess.Popen([sys.executable, "-c", SENDER, str(delivery.pk)], cwd=ROOT, env=env)
        try:
            wait_for(lambda: receiver.first.is_set() or child.poll() is not None, "the request to arrive")
            assert receiver.first.is_set()
            child.send_signal(signal.SIGKILL)  # killed while the receiver holds its request
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

        lost = WebhookDelivery.objects.get()
        assert (lost.status, lost.attempts) == (DeliveryStatus.PENDING, 1)  # the lost attempt counts
        assert lost.last_error.startswith(webhooks.SENDING)
        # Within its lease nobody sends it again (its worker might only be slow) ...
        assert webhooks.due_deliveries(now=lost.next_attempt_at - dt.timedelta(seconds=1)) == []
        assert webhooks.attempt(lost.pk, now=lost.next_attempt_at - dt.timedelta(seconds=1)).attempts == 1
        # ... after it, the sweep takes it over.
        after = lost.next_attempt_at + dt.timedelta(seconds=1)
        assert webhooks.due_deliveries(now=after) == [lost.pk]
        settings.WEBHOOK_MAX_ATTEMPTS = max_attempts
        healed = webhooks.attempt(lost.pk, now=after)
    finally:
        receiver.close()
    if max_attempts > 1:
        assert (healed.status, healed.attempts, receiver.answered) == (DeliveryStatus.DELIVERED, 2, 1)
    else:
        assert (healed.status, healed.attempts, receiver.answered) == (DeliveryStatus.FAILED, 1, 0)
        assert healed.last_error.startswith("The worker stopped answering during attempt 1 (started at ")
        assert healed.last_error.endswith("not tried again.")


# --- monitoring: a batch check whose worker was killed ----------------------------------------------------------

CHECKER = textwrap.dedent(
    """
    import pathlib, sys, time
    import django
    django.setup()
    from audits.monitoring import actions
    from audits.monitoring.actions import checks

    ready = pathlib.Path(sys.argv[2])

    def hold(*args, **kwargs):  # inside the check: say so, then wait to be killed
        ready.write_text("checking")
        time.sleep(3600)

    checks.compute = hold  # the module that calls it
    actions.execute_check(int(sys.argv[1]))
    """
)


@pytest.mark.django_db(transaction=True)
def test_a_batch_check_whose_worker_was_killed_is_taken_over_after_its_lease(
    cast: Cast, media: Path, unprotected_trail: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(batches, "_queue", lambda batch_id: None)  # the child process checks it, not this one
    version = arrange.monitored_demo_version(cast)
    batch = arrange.upload(cast, version, arrange.batch_csv())
    ready = tmp_path / "ready"
    # A short lease in the child, so its heartbeat (every quarter lease) is seen without a long wait.
    env = {**child_env(), "MONITORING_CHECK_LEASE_SECONDS": "10"}
    child = subprocess.Popen([sys.executable, "-c", CHECKER, str(batch.pk), str(ready)], cwd=ROOT, env=env)
    try:
        wait_for(lambda: ready.exists() or child.poll() is not None, "the check to start")
        assert ready.exists()
        claimed = MonitoringBatch.objects.get(pk=batch.pk).lease_until
        assert claimed is not None

        def beaten() -> bool:
            lease = MonitoringBatch.objects.get(pk=batch.pk).lease_until
            return lease is not None and lease > claimed

        # A long check that is alive beats: past its first lease it is still not due, so never run twice.
        wait_for(lambda: beaten() or child.poll() is not None, "the check's heartbeat")
        assert monitoring.due_batches(now=claimed + dt.timedelta(seconds=1)) == []
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    held = MonitoringBatch.objects.get(pk=batch.pk)
    assert held.status == BatchStatus.RUNNING
    assert held.lease_until is not None
    # Within the lease it is not due (its worker might be slow); past it, the sweep takes the check over.
    assert monitoring.due_batches(now=held.lease_until - dt.timedelta(seconds=1)) == []
    after = held.lease_until + dt.timedelta(seconds=1)
    assert monitoring.run_due_checks(now=after) == {"checked": 1, "error": 0, "skipped": 0}
    checked = MonitoringBatch.objects.get(pk=batch.pk)
    assert (checked.status, checked.attempts) == (BatchStatus.CHECKED, 1)
