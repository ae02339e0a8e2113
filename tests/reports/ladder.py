"""Objects for the permission ladder's report endpoints (tests/access/test_permission_ladder.py, issue 8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audits.actions import execute_audit
from audits.models import AuditRun
from audits.reports.service import build_run_report
from governance.trail.log import Actor
from tests.conftest import Cast


def completed_run(cast: Cast, make_audit: Callable[[Cast], dict[str, Any]]) -> dict[str, Any]:
    """The ladder's audit (``make_audit``), its job run here so it is complete and can be reported on."""
    kwargs = make_audit(cast)
    execute_audit(kwargs["pk"])
    return kwargs


def run_report(cast: Cast, make_audit: Callable[[Cast], dict[str, Any]]) -> dict[str, Any]:
    """A signed report of a completed ladder audit."""
    run = AuditRun.objects.get(pk=completed_run(cast, make_audit)["pk"])
    return {"pk": build_run_report(run, actor=Actor.system()).pk}
