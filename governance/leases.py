"""Leases of background work: who holds a piece of work, when it last said it was alive, and whether it died.

A job that holds a row (an audit run, a webhook delivery) records its worker's identity and beats: it moves the row's
heartbeat time every ``lease / 4`` seconds while it works. The work is *stale* (its worker died: killed, out of
memory, the machine gone) when the heartbeat is older than the lease, or, sooner, when the worker ran on this machine
and its process no longer exists. What happens to stale work is each kind's rule (see ``audits.actions``); this module
only tells. Exports (``governance.exports.actions.is_stale``) follow the same idea with their progress time.

Identity: ``host/pid-namespace/pid``. A process is judged dead only when it ran under the same host name *and* the
same PID namespace as the judge (two containers may share a host name, never a PID namespace) and its PID is gone or
a zombie; otherwise only the lease decides. A reused PID makes a dead worker look alive: the lease then decides, the
safe direction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from functools import cache

from django.db import connection

logger = logging.getLogger("assay.leases")


@cache
def _namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:  # not Linux: no namespace to compare, the lease alone decides for other processes
        return "-"


def worker_identity() -> str:
    """This process's identity as a lease holder: ``host/pid-namespace/pid``."""
    return f"{socket.gethostname()}/{_namespace()}/{os.getpid()}"


def holder_is_gone(identity: str) -> bool:
    """True when ``identity`` names a process on this machine (same host, same PID namespace) that no longer runs.
    False when it may still run, or when this process cannot tell (another machine, another namespace)."""
    host, _, rest = identity.partition("/")
    namespace, _, pid_text = rest.rpartition("/")
    if host != socket.gethostname() or namespace != _namespace() or namespace == "-" or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    try:  # a killed child not yet reaped by its parent still answers signal 0: its state says it is dead
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def lease_expired(last_beat: dt.datetime | None, *, lease_seconds: float, now: dt.datetime) -> bool:
    """True when the last sign of life is older than the lease (no sign at all counts as expired)."""
    return last_beat is None or now - last_beat > dt.timedelta(seconds=lease_seconds)


def is_stale(last_beat: dt.datetime | None, holder: str, *, lease_seconds: float, now: dt.datetime) -> bool:
    """Whether work held by ``holder`` that last beat at ``last_beat`` lost its worker (see the module docstring)."""
    return lease_expired(last_beat, lease_seconds=lease_seconds, now=now) or (bool(holder) and holder_is_gone(holder))


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds on a thread of its own while the work runs (a ``with`` block).

    The work's own progress reports beat too, but one check can run for many minutes without reporting; this thread
    keeps the lease while the process lives and stops with it. ``beat`` runs on the thread: a database write there
    uses the thread's own connection, closed when it stops. A failing beat is logged, never raised.
    """

    def __init__(self, beat: Callable[[], object], *, interval: float) -> None:
        self._beat, self._interval = beat, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="assay-heartbeat", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                try:
                    self._beat()
                except Exception:
                    logger.warning("heartbeat failed", exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
