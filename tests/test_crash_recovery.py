"""Work that heals (issue 17): a worker killed in the middle of an audit leaves nothing that needs the database
edited by hand. Uploads, Celery, webhook deliveries and monitoring are in test_crash_recovery_workers.py.

Processes are killed for real (SIGKILL): a child process runs an audit on this test's SQLite file and blocks inside a
check (a progress hook waits on a file) until the parent kills it. Lease expiry is judged with a clock the test
passes (``now=``), never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from audits import actions
from audits.models import AuditRun, Policy, RunStatus
from governance import leases
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry
from tests.api import assert_error
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.crash_helpers import ROOT, child_env, wait_for
from tests.registry.conftest import acting, register_model

GATE = "/api/v1/gates/check"


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
