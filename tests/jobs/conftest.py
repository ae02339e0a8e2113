"""Real Celery workers on the embedded broker (kombu's filesystem transport, the default without
``CELERY_BROKER_URL``), as ``make run`` starts them: separate processes sharing this test's database, media folder
and queue folder (``JOBS_QUEUE_DIR``, one of this test process's own: tests/settings.py).

The test process itself queues jobs instead of running them (``queueing``). A worker can be told to stop at the
first progress report of a job and wait until the test lets it go on (``release``), so the test sees the job running
with its progress, or kills the worker there. Waits are deadlines against a hung child, never measured times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from governance.celery import app
from tests.crash_helpers import ROOT, child_env, wait_for
from tests.data.conftest import media_root  # noqa: F401 - a fixture

WORKER = textwrap.dedent(
    """
    import os, pathlib, sys, time
    import django
    django.setup()
    from audits import actions as audits
    from governance.exports import actions as exports
    from audits.reports import service as reports

    held, release, pool = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]

    def holding(real):
        def report(self, percent=None, note=""):
            real(self, percent, note)
            if percent and not release.exists():  # the job's first progress report: the test looks, then says go on
                held.write_text(f"{os.getpid()} {percent} {note}")
                while not release.exists():
                    time.sleep(0.05)
        return report

    audits._Beat.__call__ = holding(audits._Beat.__call__)
    exports._Progress.__call__ = holding(exports._Progress.__call__)
    real_build = reports._build

    def build_holding(**kwargs):  # a report build followed with progress stops at its first step
        if kwargs.get("progress") is None:  # one inside a bundle's build: the bundle's own progress stops
            return real_build(**kwargs)
        report = holding(lambda self, percent, note: kwargs["progress"](percent, note))
        return real_build(**{**kwargs, "progress": lambda percent, note: report(None, percent, note)})

    reports._build = build_holding
    from celery.bin.celery import main

    sys.argv = ["celery", "-A", "governance", "worker", f"--pool={pool}", "--concurrency=1", "--without-heartbeat",
                "--without-mingle", "--without-gossip", "--loglevel=INFO"]
    main()
    """
)


def queued_messages(task: str = "") -> list[Path]:
    """The job messages waiting in the embedded broker's folder (one file each), only those of ``task`` when named
    (trail appends queue checkpoint jobs too)."""
    found = sorted(Path(django_settings.JOBS_QUEUE_DIR).glob("*.msg"))
    return [path for path in found if not task or json.loads(path.read_text())["headers"]["task"] == task]


@contextmanager
def jobs_queued(settings: Any) -> Iterator[None]:
    """This process queues jobs on the embedded broker, as the web process does in the embedded default."""
    assert app.conf.broker_url.startswith("filesystem:")
    for message in queued_messages():  # left by an earlier test of this process that queued without a worker
        message.unlink()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        settings.CELERY_TASK_ALWAYS_EAGER = True
        app.conf.task_always_eager = True
        for message in queued_messages():
            message.unlink()


@pytest.fixture
def queueing(settings: Any) -> Iterator[None]:
    with jobs_queued(settings):
        yield


@dataclass
class Worker:
    """One worker process; ``held`` appears when it stops at a job's first progress report, ``release`` lets it on."""

    process: subprocess.Popen[bytes]
    log: Path
    held: Path
    release: Path

    def wait_until_held(self) -> str:
        wait_for(lambda: self.held.exists() or self.process.poll() is not None, "the worker to take the job")
        assert self.held.exists(), self.text()
        return self.held.read_text()

    def go_on(self) -> None:
        self.release.write_text("go on")

    def stop_at_once(self) -> None:
        """SIGQUIT, as ``make run``'s Ctrl-C: a cold shutdown, the job in hand put back in the queue."""
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut: no shutdown, nothing put back by the worker."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    """Starts workers (``hold=True``: stopping at the first progress report; ``pool``: solo, or prefork as
    ``make run``); all are stopped after the test."""
    started: list[Worker] = []

    def start(*, hold: bool = False, pool: str = "solo") -> Worker:
        folder = tmp_path / f"worker-{len(started)}"
        folder.mkdir()
        held, release, log = folder / "held", folder / "release", folder / "worker.log"
        if not hold:
            release.write_text("never stop")
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(held), str(release), pool],
            cwd=ROOT,
            env={**child_env(), "JOBS_IN_PROCESS": "0"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        worker = Worker(process, log, held, release)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
