"""Work that heals (issue 17): a worker killed in the middle of an audit, a webhook delivery or an upload leaves
nothing that needs the database edited by hand.

Processes are killed for real (SIGKILL): a child process runs an audit on this test's SQLite file and blocks inside a
check (a progress hook waits on a file) until the parent kills it. Lease expiry is judged with a clock the test
passes (``now=``), never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audits import actions
from audits.models import AuditRun, Policy, RunStatus
from audits.monitoring import actions as monitoring
from audits.monitoring.actions import batches
from governance import leases
from governance.tempfiles import cleanup_temp_files
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry
from registry import webhooks
from registry.models import BatchStatus, DeliveryStatus, MonitoringBatch, WebhookDelivery
from tests.api import assert_error
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.data.conftest import make_dataset
from tests.monitoring import arrange
from tests.registry.conftest import acting, register_model

ROOT = Path(__file__).resolve().parents[1]
GATE = "/api/v1/gates/check"


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """Stored files go to a folder of this test's own (the child processes are told where)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


# --- the lease, judged with the test's clock --------------------------------------------------------------------


def test_a_lease_expires_only_after_its_length_by_the_clock_given() -> None:
    beat = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    elsewhere = "another-host/4026531836/4242"  # a worker this process cannot see: only the lease decides
    assert not leases.is_stale(beat, elsewhere, lease_seconds=120, now=beat + dt.timedelta(seconds=120))
    assert leases.is_stale(beat, elsewhere, lease_seconds=120, now=beat + dt.timedelta(seconds=121))
    assert leases.is_stale(None, elsewhere, lease_seconds=120, now=beat)  # never beat: nothing holds it


def test_a_dead_process_on_this_machine_is_gone_a_live_one_or_a_stranger_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        identity = f"{leases.worker_identity().rsplit('/', 1)[0]}/{child.pid}"
        assert not leases.holder_is_gone(identity)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert leases.holder_is_gone(identity)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not leases.holder_is_gone(leases.worker_identity())  # this process
    namespace = leases.worker_identity().split("/")[1]
    assert not leases.holder_is_gone(f"some-other-host/{namespace}/{child.pid}")  # another machine: cannot tell


# --- a real process killed in the middle of an audit ------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys, time, pathlib
    import django
    django.setup()
    from audits import actions
    from audits.models import PolicyVersion
    from governance.access.models import User
    from governance.data.models import DatasetVersion
    from governance.trail.log import Actor
    from registry.models import ModelVersion

    ready, release = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    real = actions._Beat.__call__

    def hold(self, percent=None, note=""):
        real(self, percent, note)
        if note.startswith("running"):  # inside the checks: say so, then wait until released (or killed)
            ready.write_text(str(self.run_id))
            while not release.exists():
                time.sleep(0.05)

    actions._Beat.__call__ = hold
    user = User.objects.get(username=sys.argv[3])
    run, created = actions.do_start_audit(
        user=user,
        actor=Actor.for_user(user),
        model_version=ModelVersion.objects.get(pk=int(sys.argv[4])),
        dataset_version=DatasetVersion.objects.get(pk=int(sys.argv[5])),
        policy_version=PolicyVersion.objects.get(pk=int(sys.argv[6])),
        column_roles={"label": "label", "protected": ["sex"], "prediction": "prediction"},
        force=True,
    )
    run.refresh_from_db()
    print("finished", run.pk, run.status, run.error, flush=True)
    """
)


def child_env() -> dict[str, str]:
    """The environment of a process that works on this test's database (file SQLite or PostgreSQL)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DEBUG": "1",
        "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
    }


def wait_for(condition: Any, what: str, *, seconds: float = 120) -> None:
    """Poll ``condition`` (a deadline against a hung child, not a time the test measures)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


class Held:
    """A child process holding an audit run ``running``, blocked inside its checks."""

    def __init__(self, process: subprocess.Popen[str], run: AuditRun, release: Path, log: Path) -> None:
        self.process, self.run, self.release, self.log = process, run, release, log

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def finish(self) -> str:
        self.release.touch()
        self.process.wait(timeout=120)
        return self.log.read_text()


@pytest.fixture
def hold_audit(tmp_path: Path) -> Iterator[Any]:
    children: list[subprocess.Popen[str]] = []

    def start(cast: Cast, version: Any, dataset_version: Any, policy_version: Any) -> Held:
        index = len(children)
        ids = [str(version.pk), str(dataset_version.pk), str(policy_version.pk)]
        ready, release, log = (tmp_path / f"{name}-{index}" for name in ("ready", "release", "log"))
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ready), str(release), cast.owner.user.username, *ids],
            cwd=ROOT,
            env=child_env(),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        children.append(process)
        wait_for(lambda: ready.exists() or process.poll() is not None, "the child to reach the checks")
        assert ready.exists(), log.read_text()
        return Held(process, AuditRun.objects.get(pk=int(ready.read_text())), release, log)

    yield start
    for process in children:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def passed_and_approved(cast: Cast, media: Path, unprotected_trail: None) -> dict[str, Any]:
    """A high-risk model version whose four-fifths audit passed (run in process by the gate) and that two people
    approved: the gate answers pass."""
    actions.ensure_builtin_policies()
    model = register_model(cast, "high")
    version = registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
    dataset_version = upload(cast, decision_rows(PASSING_RATES))
    first = ask_gate(cast, version, dataset_version)
    assert first.json()["decision"] == "pending_approval", first.json()
    registry.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner))
    for member in (cast.reviewer, cast.officer):
        registry.do_approve(version=version, user=member.user, actor=acting(member))
    passed = ask_gate(cast, version, dataset_version)
    assert (passed.status_code, passed.json()["decision"]) == (200, "pass"), passed.json()
    return {
        "version": version,
        "dataset_version": dataset_version,
        "policy_version": Policy.objects.get(name="four-fifths").latest_version(),
        "passed_run": passed.json()["audit"]["id"],
    }


def ask_gate(cast: Cast, version: Any, dataset_version: Any) -> Any:
    body = {
        "model": version.model.name,
        "version": version.number,
        "environment": "production",
        "dataset": dataset_version.dataset.name,
        "dataset_version": dataset_version.number,
        "column_roles": PREDICTION_ROLES,
    }
    with override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"}):
        return cast.ci.client().post(GATE, body, format="json")


def force_audit(cast: Cast, world: dict[str, Any]) -> Any:
    version, dataset_version = world["version"], world["dataset_version"]
    body = {
        "model": version.model.name,
        "version": version.number,
        "dataset": dataset_version.dataset.name,
        "dataset_version": dataset_version.number,
        "policy": "four-fifths",
        "column_roles": PREDICTION_ROLES,
        "force": True,
    }
    return cast.owner.client().post("/api/v1/audits/", body, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_killed_audit_can_be_forced_again_and_the_gate_answers(
    cast: Cast, passed_and_approved: dict[str, Any], hold_audit: Any
) -> None:
    world = passed_and_approved
    held = hold_audit(cast, world["version"], world["dataset_version"], world["policy_version"])
    run = held.run
    assert (run.status, run.attempts) == (RunStatus.RUNNING, 1)
    assert run.worker.endswith(f"/{held.process.pid}")
    assert run.heartbeat_at is not None
    # While its worker lives, the run holds its inputs: force is refused (the run is really running).
    assert_error(force_audit(cast, world), 409, "running")

    held.kill()

    # 1. force works on the run whose worker died; the dead run ends as error, saying when its worker stopped.
    forced = force_audit(cast, world)
    assert forced.status_code == 201, forced.json()
    assert forced.json()["status"] == "done"
    dead = AuditRun.objects.get(pk=run.pk)
    assert dead.status == RunStatus.ERROR
    assert dead.error.startswith("The worker stopped answering at ")
    assert "A new audit of the same inputs replaced it." in dead.error

    # 2. Killed again: the gate never waits on the dead run; it answers from the previous valid run.
    held = hold_audit(cast, world["version"], world["dataset_version"], world["policy_version"])
    held.kill()
    answer = ask_gate(cast, world["version"], world["dataset_version"])
    assert (answer.status_code, answer.json()["decision"]) == (200, "pass"), answer.json()
    assert answer.json()["audit"]["id"] == forced.json()["id"]
    assert AuditRun.objects.get(pk=held.run.pk).status == RunStatus.ERROR
    assert not AuditRun.objects.filter(status__in=actions.LIVE).exists()


@pytest.mark.django_db(transaction=True)
def test_the_gate_starts_a_new_run_when_the_only_run_died(
    cast: Cast, media: Path, unprotected_trail: None, hold_audit: Any
) -> None:
    actions.ensure_builtin_policies()
    version = registry.do_register_version(
        model=register_model(cast, "high"), user=cast.owner.user, actor=acting(cast.owner)
    )
    dataset_version = upload(cast, decision_rows(PASSING_RATES))
    held = hold_audit(cast, version, dataset_version, Policy.objects.get(name="four-fifths").latest_version())
    held.kill()
    answer = ask_gate(cast, version, dataset_version)
    # No other run to judge by: a new one is started (and, without a broker, run now); the audit passed, the
    # version waits for its approvals.
    assert (answer.status_code, answer.json()["decision"]) == (412, "pending_approval"), answer.json()
    assert answer.json()["audit"]["id"] != held.run.pk
    assert answer.json()["audit"]["verdict"] == "pass"
    dead = AuditRun.objects.get(pk=held.run.pk)
    assert dead.status == RunStatus.ERROR
    assert "The approval gate does not wait on a run no worker holds." in dead.error


@pytest.mark.django_db(transaction=True)
def test_a_run_silent_past_its_lease_is_taken_over_and_the_slow_worker_cannot_overwrite_it(
    cast: Cast, passed_and_approved: dict[str, Any], hold_audit: Any, settings: Any
) -> None:
    world = passed_and_approved
    held = hold_audit(cast, world["version"], world["dataset_version"], world["policy_version"])
    beat = AuditRun.objects.get(pk=held.run.pk).heartbeat_at
    lease = dt.timedelta(seconds=settings.AUDIT_LEASE_SECONDS)
    # Its worker is alive (blocked, not dead): only the lease decides, by the clock the test passes.
    assert actions.recover_stale_runs(now=beat + lease) == []
    assert actions.recover_stale_runs(now=beat + lease + dt.timedelta(seconds=1)) == [held.run.pk]
    # Queued again and, without a broker, taken over in this process: done, as attempt 2.
    taken = AuditRun.objects.get(pk=held.run.pk)
    assert (taken.status, taken.attempts, taken.verdict) == (RunStatus.DONE, 2, "pass")
    results = taken.results_sha256
    # The first worker was only slow: released, it finishes, and its outcome is dropped.
    log = held.finish()
    assert held.process.returncode == 0, log
    assert f"finished {taken.pk} done" in log
    assert "attempt 1 finished after it was taken over; its outcome is dropped" in log
    again = AuditRun.objects.get(pk=taken.pk)
    assert (again.attempts, again.results_sha256, again.checks.count()) == (2, results, taken.checks.count())


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_dies_on_every_attempt_ends_as_error(
    cast: Cast, passed_and_approved: dict[str, Any], hold_audit: Any, settings: Any
) -> None:
    settings.AUDIT_MAX_ATTEMPTS = 1
    world = passed_and_approved
    held = hold_audit(cast, world["version"], world["dataset_version"], world["policy_version"])
    held.kill()
    # The sweep (here its command, for cron without beat) finds the run at once: its worker's process is gone.
    out = io.StringIO()
    call_command("recover_runs", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"recovered": [held.run.pk]}
    requeued = AuditRun.objects.get(pk=held.run.pk)
    assert requeued.status == RunStatus.ERROR  # queued again, its job (run here) found the last attempt spent
    assert requeued.error.startswith("The worker stopped answering at ")
    assert "(attempt 1 of 1)" in requeued.error
    assert '"force": true' in requeued.error
    # A job delivered again later (acks late) finds the run ended and leaves it so.
    ended = actions.execute_audit(held.run.pk)
    assert (ended.status, ended.error) == (RunStatus.ERROR, requeued.error)
    completed = [e for e in events_of(ended) if e.action == "audit.completed"]
    assert [e.payload["status"] for e in completed] == ["error"]


def events_of(run: AuditRun) -> list[Any]:
    return list(Event.objects.filter(object_type="audits.auditrun", object_id=str(run.pk)).order_by("seq"))


@pytest.mark.django_db
def test_a_redelivered_job_leaves_a_run_held_by_a_live_worker_alone(cast: Cast, media: Path) -> None:
    actions.ensure_builtin_policies()

    run, _ = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=predictions_only_version(cast),
        dataset_version=upload(cast, decision_rows(PASSING_RATES)),
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
    )
    run = actions.execute_audit(run.pk)  # the job (in a test's transaction the commit hook does not run it)
    assert (run.status, run.attempts) == (RunStatus.DONE, 1)
    assert actions.execute_audit(run.pk).attempts == 1  # a second delivery of a finished run changes nothing
    assert not actions.is_stale(run, now=timezone.now() + dt.timedelta(days=1))  # an ended run is never stale


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


@pytest.mark.django_db
def test_a_queued_run_whose_message_was_lost_is_sent_again_after_ten_leases(
    cast: Cast, media: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    actions.ensure_builtin_policies()
    # In a test's transaction the commit hook never runs: the run stays queued, as when its message is lost.
    run, _ = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=predictions_only_version(cast),
        dataset_version=upload(cast, decision_rows(PASSING_RATES)),
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
    )
    wait = dt.timedelta(seconds=settings.AUDIT_LEASE_SECONDS * actions.QUEUED_LEASES)
    assert actions.recover_stale_runs(now=run.created_at + wait) == []  # a queue may be long
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.recover_stale_runs(now=run.created_at + wait + dt.timedelta(seconds=1)) == [run.pk]
    sent = AuditRun.objects.get(pk=run.pk)
    assert (sent.status, sent.attempts, sent.verdict) == (RunStatus.DONE, 1, "pass")
