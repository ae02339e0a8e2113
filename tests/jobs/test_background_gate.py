"""The gate's ``wait_seconds`` with jobs in a worker (the embedded default): the gate starts the audit, waits for it
as long as it was asked (at most ``GATE_MAX_WAIT_SECONDS``), and answers ``pending`` when the run has not ended by
then, or the verdict when it has. Time is a clock the test controls (``decisions.CLOCK``): the gate's sleeps move it,
and the "worker" (``execute_audit``) runs when the test's clock says so. One test runs a real worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audits.gate import decisions
from audits.models import AuditRun, RunStatus
from tests.audits.test_gate import (
    ask,
    world,  # noqa: F401 - a fixture: two versions, v1's data unfair
)
from tests.conftest import Cast


@pytest.fixture(autouse=True)
def gate_settings(settings: Any) -> None:
    settings.AUDIT_REQUIRED_POLICIES = {"high": "four-fifths"}
    settings.GATE_MAX_WAIT_SECONDS = 30


class TestClock:
    """Seconds that pass only when the gate sleeps; ``at`` runs something once the clock reaches a time."""

    __test__ = False

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sleeps = 0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= decisions.POLL_SECONDS
        self.seconds += seconds
        self.sleeps += 1
        for when, action in [item for item in self.due if item[0] <= self.seconds]:
            self.due.remove((when, action))
            action()

    def at(self, when: float, action: Callable[[], None]) -> None:
        self.due.append((when, action))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> TestClock:
    fake = TestClock()
    monkeypatch.setattr(decisions, "CLOCK", decisions.Clock(now=fake.now, sleep=fake.sleep))
    return fake


@pytest.mark.django_db
@pytest.mark.usefixtures("queueing", "world")
@pytest.mark.parametrize(("asked", "waited"), [(5, 5), (30, 30), (3600, 30), (0, 0)])
def test_no_worker_takes_the_audit_so_the_gate_answers_pending_after_the_wait_it_was_asked_for(
    cast: Cast, clock: TestClock, asked: int, waited: int
) -> None:
    response = ask(cast, 1, 1, wait_seconds=asked)
    assert response.status_code == 412
    body = response.json()
    run = AuditRun.objects.get()
    assert body["decision"] == "pending"
    assert f"Audit run {run.pk} is queued (0%): ask again, or poll the run." in body["reasons"]
    assert clock.seconds == pytest.approx(waited, abs=1e-9)  # asked for, capped by GATE_MAX_WAIT_SECONDS
    assert run.status == RunStatus.QUEUED


@pytest.mark.django_db
@pytest.mark.usefixtures("queueing", "world")
def test_an_audit_that_ends_within_the_wait_is_the_answer(cast: Cast, clock: TestClock) -> None:
    def worker() -> None:  # the worker takes the job 1.4 s after the gate started it, and ends it
        decisions.execute_audit(AuditRun.objects.get().pk)

    clock.at(1.4, worker)
    response = ask(cast, 1, 1, wait_seconds=30)
    body = response.json()
    assert (response.status_code, body["decision"]) == (412, "fail")  # v1 approves women at half men's rate
    assert clock.seconds == pytest.approx(1.4)  # it answered as soon as the run ended, not after 30 s
    assert AuditRun.objects.get().status == RunStatus.DONE
    again = ask(cast, 1, 1, wait_seconds=30)  # the same question: the same run's verdict, no wait, no new run
    assert again.json()["decision"] == "fail"
    assert clock.seconds == pytest.approx(1.4)
    assert AuditRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root", "unprotected_trail", "queueing", "world")
def test_with_a_real_worker_the_gate_waits_for_the_verdict(cast: Cast, start_worker: Any, settings: Any) -> None:
    """The README's curl with ``wait_seconds: 30``: the worker ends the run within the wait, the gate says so."""
    start_worker()
    settings.GATE_MAX_WAIT_SECONDS = 600  # a deadline against a hung worker, not a time the test measures
    response = ask(cast, 1, 1, wait_seconds=600)
    assert response.json()["decision"] == "fail", response.json()
    run = AuditRun.objects.get()
    assert (run.status, run.verdict) == (RunStatus.DONE, "fail")
