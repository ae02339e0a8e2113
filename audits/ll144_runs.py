"""The NYC Local Law 144 summary of results of a stored audit run (the database side of :mod:`audits.ll144`).

The auditor's fields (distribution date, data source and explanation, historical or test data, the independent
auditor's statement) are given when the summary is asked for (``GET .../ll144-summary/?distribution_date=...``,
``run_audit --ll144-meta FILE.json``); they are not stored with the run, so the run's inputs and results hash stay
what they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.actions import AuditError
from audits.ll144 import LL144Error, build_summary
from audits.models import AuditRun, RunStatus


def audit_facts(run: AuditRun) -> dict[str, Any]:
    """The plain facts of ``run`` that the summary states: its id and date, the policy, the data, the minimum group
    size the engine judged with, and the roles whose reference category was named (column roles or policy)."""
    document = run.policy_version.document or {}
    roles = run.column_roles or {}
    named = set((roles.get("reference_groups") or {}).keys())
    policy_reference = ((document.get("checks") or {}).get("disparate_impact") or {}).get("reference_group")
    if isinstance(policy_reference, Mapping):
        named |= set(policy_reference)
    dataset = run.dataset_version
    return {
        "id": run.pk,
        "date": run.finished_at.date().isoformat() if run.finished_at else None,
        "dataset": f"{dataset.dataset.name} v{dataset.number} (sha256 {dataset.sha256})",
        "policy": f"{run.policy_version.policy.name} v{run.policy_version.number}",
        "min_group_size": int(document.get("min_group_size", 30)),  # the engine's own default
        "reference_groups": dict.fromkeys(sorted(named), True),
    }


def summary_for_run(run: AuditRun, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The LL144 summary of the completed ``run``; refused (409) while it is not done or when it has no
    disparate-impact tables, and (422) when the auditor's fields are not valid."""
    if run.status != RunStatus.DONE:
        raise AuditError(
            f"Audit {run.pk} is {run.status}: an LL144 summary needs a completed audit.",
            code="ll144_summary_unavailable",
            status=409,
        )
    try:
        return build_summary(run.results or {}, audit=audit_facts(run), meta=meta)
    except LL144Error as exc:
        if exc.field == "results":
            raise AuditError(str(exc), code="ll144_summary_unavailable", status=409) from None
        raise AuditError(str(exc), code="validation_failed", status=422, field=exc.field) from None
