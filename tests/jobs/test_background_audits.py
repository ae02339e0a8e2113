"""Audits in the embedded default (issue 19): the portal's start returns at once with the run queued, a real worker
on the embedded broker runs it, and the run's page shows its progress until the verdict; a job survives its worker
being killed and a new one started.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from audits import actions
from audits.models import AuditRun, Policy, RunStatus
from governance.trail.log import Actor
from tests.audits.conftest import (
    DATASET,
    MODEL,
    PASSING_RATES,
    PREDICTION_ROLES,
    decision_rows,
    predictions_only_version,
    upload,
)
from tests.conftest import Cast
from tests.crash_helpers import wait_for
from tests.jobs.conftest import queued_messages
from tests.portal.conftest import signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("workers")]


def body(client: Any, run: AuditRun) -> str:
    """The run's fragment, as the page polls it."""
    response = client.get(f"/audits/{run.pk}/body")
    assert response.status_code == 200
    return unescape(response.content.decode())


def ended(run: AuditRun) -> bool:
    return AuditRun.objects.filter(pk=run.pk, status__in=[RunStatus.DONE, RunStatus.ERROR]).exists()


def test_the_portal_starts_an_audit_at_once_and_the_page_follows_the_worker_to_the_verdict(
    cast: Cast, media: Path, unprotected_trail: None, queueing: None, start_worker: Any
) -> None:
    actions.ensure_builtin_policies()
    predictions_only_version(cast)
    upload(cast, decision_rows(PASSING_RATES))
    worker = start_worker(hold=True)
    owner = signed_in(cast.owner)
    sent = owner.post(
        "/audits/new",
        {
            "model_version": f"{MODEL}/v1",
            "dataset_version": f"{DATASET}/v1",
            "policy": "four-fifths",
            "favourable": "1",
            **PREDICTION_ROLES,
        },
    )
    run = AuditRun.objects.get()
    # The request has returned: the run waits for the worker (which cannot end it before the test lets it go on).
    assert sent.status_code == 302, sent.content[:2000]
    assert sent["Location"] == f"/audits/{run.pk}/"
    assert run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    page = unescape(owner.get(sent["Location"]).content.decode())
    assert f'hx-get="/audits/{run.pk}/body" hx-trigger="every 1s"' in page  # the page polls its fragment

    seen = worker.wait_until_held()  # the worker's first progress report: 2%, reading the evaluation data
    assert seen.split(" ", 2)[1:] == ["2", "reading the evaluation data"]
    running = body(owner, run)
    assert 'data-status="running"' in running
    assert 'role="progressbar"' in running
    assert 'aria-valuenow="2"' in running
    assert "2%: reading the evaluation data." in running
    assert "hx-get" in running  # still polling

    worker.go_on()
    wait_for(lambda: ended(run) or worker.process.poll() is not None, "the worker to end the run")
    done = AuditRun.objects.get(pk=run.pk)
    assert (done.status, done.verdict, done.attempts) == (RunStatus.DONE, "pass", 1), worker.text()
    final = body(owner, run)
    assert 'data-status="done"' in final
    assert re.search(r'data-testid="verdict">\s*pass\s*<', final), final
    assert "hx-get" not in final  # the polling stops at the verdict
    assert "audits.run_audit[" in worker.text()


def test_a_queued_audit_waits_on_disk_and_survives_its_worker_being_killed(
    cast: Cast, media: Path, unprotected_trail: None, queueing: None, start_worker: Any
) -> None:
    actions.ensure_builtin_policies()
    run, created = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=predictions_only_version(cast),
        dataset_version=upload(cast, decision_rows(PASSING_RATES)),
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
    )
    assert created
    # No worker runs: the job is a file in the queue folder, outliving this and any process.
    (message,) = queued_messages("audits.run_audit")
    assert message.name.endswith(".celery.msg")
    assert AuditRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    waiting = body(signed_in(cast.owner), run)
    assert 'data-status="queued"' in waiting
    assert "0%: waiting for a worker to take it." in waiting

    first = start_worker(hold=True)
    first.wait_until_held()
    assert not message.exists()  # taken
    first.kill()  # in the middle of the run
    lost = AuditRun.objects.get(pk=run.pk)
    assert (lost.status, lost.attempts) == (RunStatus.RUNNING, 1)

    # Beat's sweep (audits.recover_stale_runs, every minute) finds the run's worker gone and queues it again.
    assert actions.recover_stale_runs() == [run.pk]
    assert len(queued_messages("audits.run_audit")) == 1
    second = start_worker()
    wait_for(lambda: ended(run) or second.process.poll() is not None, "the new worker to end the run")
    healed = AuditRun.objects.get(pk=run.pk)
    assert (healed.status, healed.verdict, healed.attempts) == (RunStatus.DONE, "pass", 2), second.text()


def test_stopping_make_run_puts_the_job_in_hand_back_and_the_next_start_ends_it(
    cast: Cast, media: Path, unprotected_trail: None, queueing: None, start_worker: Any
) -> None:
    """``make run``'s worker (prefork) stopped at once mid-run gives its job back; the next worker takes it over."""
    actions.ensure_builtin_policies()
    run, _ = actions.do_start_audit(
        user=cast.owner.user,
        actor=Actor.system(),
        model_version=predictions_only_version(cast),
        dataset_version=upload(cast, decision_rows(PASSING_RATES)),
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=PREDICTION_ROLES,
    )
    first = start_worker(hold=True, pool="prefork")
    first.wait_until_held()
    assert queued_messages("audits.run_audit") == []
    first.stop_at_once()
    assert "Restoring 1 unacknowledged message(s)" in first.text()
    assert len(queued_messages("audits.run_audit")) == 1  # back in the queue folder, no sweep needed
    assert AuditRun.objects.get(pk=run.pk).status == RunStatus.RUNNING  # its worker is gone: stale at once
    second = start_worker(pool="prefork")
    wait_for(lambda: ended(run) or second.process.poll() is not None, "the next worker to end the run")
    healed = AuditRun.objects.get(pk=run.pk)
    assert (healed.status, healed.verdict, healed.attempts) == (RunStatus.DONE, "pass", 2), second.text()
