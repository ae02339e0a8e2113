"""What a gate decision reads, in hand-written SQL: the policy's latest version, the latest audit run of the exact
inputs, the approvals and the open findings.

Why not the ORM: a decision for an already-audited version is the gate's common case and a pipeline waits on it.
Compiling these five ORM queries cost more than running them (about a third of a decision's CPU, measured with
cProfile on ``benchmarks/bench_gate.py``'s arrangement), and the gate is asked far more often than anything here
changes. The rows come back as ordinary model instances (``Model.from_db``, with the related rows the decision
uses attached), so the code that judges them, and the slow paths that start or wait for an audit, are the same as
for instances the ORM loaded. ``tests/audits/test_gate_reads.py`` checks each read against its ORM equivalent.

Only the columns named here are loaded; touching another one costs a query (Django loads deferred fields lazily).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from audits.models import AuditRun, Policy, PolicyVersion, RunStatus
from governance.data.models import Dataset, DatasetVersion


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json(value: Any) -> Any:
    # SQLite, and Django's psycopg setup, hand JSON columns back as text; a driver that decodes them gives objects.
    return json.loads(value) if isinstance(value, str | bytes) else value


def _instance(model: type[Any], names: Sequence[str], values: Sequence[Any]) -> Any:
    return model.from_db(connection.alias, list(names), list(values))


_POLICY_VERSION_SQL = (
    "SELECT pv.id, pv.policy_id, pv.number, pv.sha256, pv.canonical_sha256, p.name "
    "FROM audits_policyversion pv JOIN audits_policy p ON p.id = pv.policy_id "
    "WHERE p.name = %s ORDER BY pv.number DESC LIMIT 1"
)


def latest_policy_version(name: str) -> PolicyVersion | None:
    """The newest version of the policy named ``name``, with its policy's id and name (no text, no document)."""
    rows = _rows(_POLICY_VERSION_SQL, [name])
    if not rows:
        return None
    pv_id, policy_id, number, sha256, canonical, policy_name = rows[0]
    version = _instance(
        PolicyVersion,
        ["id", "policy_id", "number", "sha256", "canonical_sha256"],
        [pv_id, policy_id, number, sha256, canonical],
    )
    version.policy = _instance(Policy, ["id", "name"], [policy_id, policy_name])
    return version


_RUN_COLUMNS = (
    "id",
    "model_version_id",
    "dataset_version_id",
    "policy_version_id",
    "status",
    "progress",
    "verdict",
    "verdict_reasons",
    "results_sha256",
    "error",
)
_RUN_SQL = (
    "SELECT {columns}, dv.number, dv.sha256, dv.dataset_id, d.name "
    "FROM audits_auditrun r "
    "JOIN governance_datasetversion dv ON dv.id = r.dataset_version_id "
    "JOIN governance_dataset d ON d.id = dv.dataset_id "
    "WHERE r.model_version_id = %s AND r.policy_version_id = %s {dataset} "
    # A run that could not run counts only when no other run exists: then the last created (highest id); otherwise
    # the newest by time. (Within the error group the time key is NULL for all, so the id decides.)
    "ORDER BY CASE WHEN r.status = %s THEN 1 ELSE 0 END, "
    "CASE WHEN r.status = %s THEN NULL ELSE r.created_at END DESC, r.id DESC LIMIT 1"
)


def latest_run(version: Any, policy_version: PolicyVersion, dataset_version: Any = None) -> AuditRun | None:
    """The newest audit run of ``version`` under ``policy_version`` (and ``dataset_version`` when given) that did
    not end in an error, else the newest that did; with its dataset version, dataset and policy version attached."""
    params: list[Any] = [version.pk, policy_version.pk]
    if dataset_version is not None:
        params.append(dataset_version.pk)
    params += [RunStatus.ERROR, RunStatus.ERROR]
    sql = _RUN_SQL.format(
        columns=", ".join(f"r.{column}" for column in _RUN_COLUMNS),
        dataset="AND r.dataset_version_id = %s" if dataset_version is not None else "",
    )
    rows = _rows(sql, params)
    if not rows:
        return None
    row = list(rows[0])
    run_values, (dv_number, dv_sha256, dataset_id, dataset_name) = row[: len(_RUN_COLUMNS)], row[len(_RUN_COLUMNS) :]
    run_values[_RUN_COLUMNS.index("verdict_reasons")] = _json(run_values[_RUN_COLUMNS.index("verdict_reasons")])
    run = _instance(AuditRun, _RUN_COLUMNS, run_values)
    dv = _instance(
        DatasetVersion,
        ["id", "dataset_id", "number", "sha256"],
        [run.dataset_version_id, dataset_id, dv_number, dv_sha256],
    )
    dv.dataset = _instance(Dataset, ["id", "name"], [dataset_id, dataset_name])
    run.dataset_version = dv
    run.policy_version = policy_version
    return run


def approvers(version: Any, *, decision: str) -> list[int]:
    """Ids of the users whose review of ``version`` is ``decision``, ascending."""
    sql = "SELECT reviewer_id FROM registry_review WHERE version_id = %s AND decision = %s ORDER BY reviewer_id"
    return [reviewer for (reviewer,) in _rows(sql, [version.pk, decision])]


def findings(version: Any, *, status: str) -> list[dict[str, Any]]:
    """Id, kind and title of ``version``'s findings in ``status``, newest first (the model's ordering)."""
    sql = (
        "SELECT id, kind, title FROM registry_finding WHERE version_id = %s AND status = %s "
        "ORDER BY opened_at DESC, id DESC"
    )
    return [{"id": pk, "kind": kind, "title": title} for pk, kind, title in _rows(sql, [version.pk, status])]
