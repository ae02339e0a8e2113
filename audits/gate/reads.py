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
from dataclasses import dataclass
from typing import Any

from django.db import connection

from audits.models import AuditRun, Policy, PolicyVersion, RunStatus
from governance.access.roles import TEAM_ROLES
from governance.data.models import Dataset, DatasetVersion
from registry.models import ModelVersion, RegisteredModel


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
    return _policy_version(rows[0]) if rows else None


def _policy_version(row: Sequence[Any]) -> PolicyVersion:
    """A policy version from its id, policy id, number, sha256, canonical sha256 and its policy's name."""
    pv_id, policy_id, number, sha256, canonical, policy_name = row
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
    return _run(list(rows[0]), policy_version) if rows else None


def _run(row: list[Any], policy_version: PolicyVersion) -> AuditRun:
    """An audit run from ``_RUN_COLUMNS`` and its dataset version's number, sha256, dataset id and dataset name."""
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


# --- a decision's reads in one query ------------------------------------------------------------------------------
#
# The reads above, for the common decision (the latest audit of a version, no audit to start), as one statement: one
# round trip instead of five. Each part is a branch of a UNION ALL tagged by its kind, in one column layout (integers
# i1-i6, texts t1-t7; a NULL where a kind has nothing), each branch the same SQL as its read above, so the parts
# answer exactly what those reads answer (tests/audits/test_gate_one_read.py compares them).

_KINDS = ("policy", "run", "approver", "finding", "key")
_PAD_I, _PAD_T = 6, 7


def _branch(kind: str, key: str, ints: Sequence[str], texts: Sequence[str], rest: str) -> str:
    columns = [f"'{kind}' AS kind", f"{key} AS k"]
    columns += [*ints, *(["NULL"] * (_PAD_I - len(ints)))]
    columns += [f"CAST({t} AS TEXT)" for t in texts] + ["NULL"] * (_PAD_T - len(texts))
    return f"SELECT {', '.join(columns)} {rest}"


_DECISION_SQL = (
    "WITH pv AS ("
    "SELECT pv.id, pv.policy_id, pv.number, pv.sha256, pv.canonical_sha256, p.name "
    "FROM audits_policyversion pv JOIN audits_policy p ON p.id = pv.policy_id "
    "WHERE p.name = %s ORDER BY pv.number DESC LIMIT 1), "
    "run AS (SELECT {run_columns}, dv.number AS dv_number, dv.sha256 AS dv_sha256, dv.dataset_id, d.name AS d_name "
    "FROM audits_auditrun r JOIN pv ON pv.id = r.policy_version_id "
    "JOIN governance_datasetversion dv ON dv.id = r.dataset_version_id "
    "JOIN governance_dataset d ON d.id = dv.dataset_id "
    "WHERE r.model_version_id = %s {dataset} "
    "ORDER BY CASE WHEN r.status = %s THEN 1 ELSE 0 END, "
    "CASE WHEN r.status = %s THEN NULL ELSE r.created_at END DESC, r.id DESC LIMIT 1) "
    + " UNION ALL ".join(
        [
            _branch("policy", "0", ["id", "policy_id", "number"], ["sha256", "canonical_sha256", "name"], "FROM pv"),
            _branch(
                "run",
                "0",
                ["id", "model_version_id", "dataset_version_id", "progress", "dv_number", "dataset_id"],
                ["status", "verdict", "verdict_reasons", "results_sha256", "error", "dv_sha256", "d_name"],
                "FROM run",
            ),
            _branch(
                "approver",
                "reviewer_id",
                ["reviewer_id"],
                [],
                "FROM registry_review WHERE version_id = %s AND decision = %s",
            ),
            _branch(
                "finding",
                "ROW_NUMBER() OVER (ORDER BY opened_at DESC, id DESC)",
                ["id"],
                ["kind", "title"],
                "FROM registry_finding WHERE version_id = %s AND status = %s",
            ),
            _branch("key", "0", ["1"], [], "FROM governance_signingkey WHERE key_id = %s"),
        ]
    )
    + " ORDER BY kind, k"
)


@dataclass
class DecisionReads:
    """What one decision reads, from one query: the latest version of the policy asked for (None when no stored
    policy has that name), the latest audit run of the version under it (``reads.latest_run``), the approvers of a
    decision, the findings in a status, and whether the signing key is published."""

    policy_version: PolicyVersion | None
    run: AuditRun | None
    approvers: list[int]
    findings: list[dict[str, Any]]
    key_published: bool


def decision_reads(
    version: Any,
    *,
    policy: str,
    dataset_version: Any = None,
    approval: str,
    finding_status: str,
    key_id: str,
) -> DecisionReads:
    """``latest_policy_version(policy)``, ``latest_run`` under it, ``approvers``, ``findings`` and whether the key
    ``key_id`` is among the published signing keys, in one query (see the comment above)."""
    sql = _DECISION_SQL.format(
        run_columns=", ".join(f"r.{column}" for column in _RUN_COLUMNS),
        dataset="AND r.dataset_version_id = %s" if dataset_version is not None else "",
    )
    params: list[Any] = [policy, version.pk]
    if dataset_version is not None:
        params.append(dataset_version.pk)
    params += [RunStatus.ERROR, RunStatus.ERROR, version.pk, approval, version.pk, finding_status, key_id]
    found = DecisionReads(policy_version=None, run=None, approvers=[], findings=[], key_published=False)
    run_row: list[Any] | None = None
    for kind, _, *values in _rows(sql, params):
        ints, texts = values[:_PAD_I], values[_PAD_I:]
        if kind == "policy":
            found.policy_version = _policy_version([*ints[:3], *texts[:3]])
        elif kind == "run":
            run_id, model_version_id, dataset_version_id, progress, dv_number, dataset_id = ints
            status, verdict, reasons, results_sha256, error, dv_sha256, dataset_name = texts
            run_row = [run_id, model_version_id, dataset_version_id, None, status, progress, verdict, reasons]
            run_row += [results_sha256, error, dv_number, dv_sha256, dataset_id, dataset_name]
        elif kind == "approver":
            found.approvers.append(ints[0])
        elif kind == "finding":
            found.findings.append({"id": ints[0], "kind": texts[0], "title": texts[1]})
        elif kind == "key":
            found.key_published = True
    if run_row is not None and found.policy_version is not None:
        run_row[_RUN_COLUMNS.index("policy_version_id")] = found.policy_version.pk
        found.run = _run(run_row, found.policy_version)
    return found


# --- the version asked about --------------------------------------------------------------------------------------

_VERSION_FIELDS = ("id", "model_id", "number", "state", "framework", "artifact_sha256")
_MODEL_FIELDS = ("id", "name", "team_id", "risk_tier")
_VERSION_SQL = (
    "SELECT {version}, {model} FROM registry_modelversion v JOIN registry_registeredmodel m ON m.id = v.model_id "
    "WHERE m.name = %s {scope} {number} {artifact} ORDER BY v.number DESC LIMIT 1"
)
SCOPED_ELSEWHERE = object()  # visible_version's answer for a caller whose scope it does not compute


def visible_version(user: Any, *, model: str, number: int | None, artifact_sha256: str) -> Any:
    """The version of ``model`` numbered ``number`` (or the highest) whose artifact is ``artifact_sha256`` (when
    given), if ``user`` may see the model; None if not (or no such version).

    Computes the scope of the callers that ask the gate (organisation-wide users, and team-scoped ones through
    their teams, as ``governance.access.scoping.filter_by_team`` does) and returns ``SCOPED_ELSEWHERE`` for anyone
    else (a regulator), whom the caller then looks up through ``registry.access``. The version's model is attached
    with its name, team and risk tier; other columns load on first touch.
    """
    if not getattr(user, "is_authenticated", False):
        return SCOPED_ELSEWHERE
    params: list[Any] = [model]
    scope = ""
    if not user.is_organisation_wide:
        if user.role not in TEAM_ROLES:
            return SCOPED_ELSEWHERE
        teams = sorted(user.team_ids())
        if not teams:
            return None
        scope = f"AND m.team_id IN ({', '.join(['%s'] * len(teams))})"
        params += teams
    if number is not None:
        params.append(number)
    if artifact_sha256:
        params.append(artifact_sha256)
    sql = _VERSION_SQL.format(
        version=", ".join(f"v.{name}" for name in _VERSION_FIELDS),
        model=", ".join(f"m.{name}" for name in _MODEL_FIELDS),
        scope=scope,
        number="AND v.number = %s" if number is not None else "",
        artifact="AND v.artifact_sha256 = %s" if artifact_sha256 else "",
    )
    rows = _rows(sql, params)
    if not rows:
        return None
    row = rows[0]
    version = _instance(ModelVersion, _VERSION_FIELDS, row[: len(_VERSION_FIELDS)])
    version.model = _instance(RegisteredModel, _MODEL_FIELDS, row[len(_VERSION_FIELDS) :])
    return version
