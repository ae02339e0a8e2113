"""Queueing a background job by its registered name, so the code that queues a job never imports the module that
runs it (jobs call actions; an action importing its job would close an import loop).

Every app's ``tasks`` module is imported the first time the Celery app is asked for a task (governance.celery): here,
on the first job queued, in a worker or beat as they start. A process that queues nothing never imports them.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


class UnknownJob(LookupError):
    """No job of that name is registered (its app's tasks module was never imported)."""


def enqueue(name: str, *args: Any, **kwargs: Any) -> Any:
    """Queue the job ``name`` with these arguments for a worker (with ``JOBS_IN_PROCESS=1`` it runs here, now)."""
    try:
        task = current_app.tasks[name]  # the project's app (governance.celery), current once Django started
    except KeyError:
        raise UnknownJob(f"no background job named {name!r} is registered") from None
    return task.delay(*args, **kwargs)
