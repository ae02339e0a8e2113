"""A worker imports the libraries every audit needs once, before it forks its pool processes, so no pool process pays
them on its first audit (governance.celery._import_audit_libraries). Read from outside, as the operating system sees
the processes: the shared objects of onnxruntime and scikit-learn are mapped in a pool process that has run nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.crash_helpers import ROOT, child_env, wait_for

# A compiled extension of each library the worker imports for audits (in the pool process's memory map once imported).
MARKERS = ("onnxruntime_pybind11_state", "sklearn/")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:  # the field after the state is the parent's pid
            found.append(int(stat.parent.name))
    return found


def mapped(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


@pytest.mark.django_db
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
def test_a_pool_process_starts_with_the_audit_libraries_loaded(tmp_path: Path, settings: object) -> None:
    env = {**child_env(), "JOBS_QUEUE_DIR": str(tmp_path / "queue")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "governance", "worker", "--pool=prefork", "--concurrency=1",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: any(MARKERS[0] in mapped(child) for child in children(worker.pid)), "a pool process")
        (pool,) = children(worker.pid)
        for marker in MARKERS:
            assert marker in mapped(pool), (marker, (tmp_path / "worker.log").read_text())
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_the_same_reading_of_a_process_that_never_imported_them_finds_none() -> None:
    """The control: a process with Django set up and the Celery app loaded, but no worker started, has none of them
    mapped (so the test above would fail if the worker did not import them)."""
    probe = subprocess.Popen(
        [sys.executable, "-c", "import django, sys; django.setup(); from governance.celery import app; app.loader; "
         "print('ready', flush=True); sys.stdin.read()"],
        cwd=ROOT, env={**child_env(), "DJANGO_SETTINGS_MODULE": "tests.settings"}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert probe.stdout is not None
        assert probe.stdout.readline().strip() == "ready"
        maps = mapped(probe.pid)
        assert "libpython" in maps or "python" in maps  # the reading works on this process
        for marker in MARKERS:
            assert marker not in maps, marker
    finally:
        probe.communicate("", timeout=60)
