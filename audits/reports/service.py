"""Signed PDF compliance reports: gather, render, sign, store, record.

The stable interface (the evidence-bundle exports call it):

- ``report_for_run(run, *, actor)``: the latest stored report of a completed audit run that is still current (what it
  states has not changed since), or a new one.
- ``report_for_version(version, *, actor)``: the same for a model version (all its completed runs, approvals,
  lineage, deployments).
- ``build_run_report(run, *, actor)`` / ``build_version_report(version, *, actor)``: always a new one.

A report for a run that is not complete (queued, running, error) is refused with ``ReportRefused`` (409, with the
reason). Rendering and signing happen outside any transaction; the file is stored under its sha256 first, then one
transaction creates the ``Report`` row and appends ``report.generated`` and ``report.signed`` to the trail, so a
report row without its events (or events without their row) cannot exist. The stored file is the signed PDF.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audits import events
from audits.actions import AuditError, canonical_sha256
from audits.models import AuditRun, Report, ReportKind, RunStatus
from audits.reports.chart_cache import cached_charts
from audits.reports.document import render_report
from audits.reports.signing import load_identity, sign_pdf
from governance.access.models import User
from governance.data.consent import coverage
from governance.data.lineage import describe_node, node_id, traverse
from governance.data.models import DatasetVersion, Purpose
from governance.storage import store_by_hash
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.log import Actor, record_event
from governance.trail.models import Checkpoint, Event
from registry.models import MODEL_CARD_SECTIONS, Deployment, Review, RiskTier
from registry.risk import required_approvals

REPORT_FOLDER = "reports"
Progress = Callable[[int, str], None]  # (percent, what is being done): shown while a worker builds it
MAX_TRAIL_EVENTS = 400  # a report lists at most this many events (the newest); the trail API has them all


def _silent(percent: int, note: str) -> None:
    """No one follows this build's progress."""


class ReportRefused(AuditError):
    """A report that cannot be made: the run is not complete, say (409, with the reason)."""

    def __init__(self, message: str, *, code: str = "report_refused", status: int = 409) -> None:
        super().__init__(message, code=code, status=status)


# --- the interface ----------------------------------------------------------------------------------------------


def report_for_run(run: AuditRun, *, actor: Actor, progress: Progress | None = None) -> Report:
    """The latest stored signed report of the completed audit ``run`` that is still current, or a new one
    (``progress(percent, note)`` is told each step of making it)."""
    _require_complete(run)
    current = _run_state_sha256(run)
    found = Report.objects.filter(kind=ReportKind.RUN, run=run, inputs_sha256=current).order_by("-created_at").first()
    return found or build_run_report(run, actor=actor, progress=progress)


def report_for_version(version: Any, *, actor: Actor) -> Report:
    """The latest stored signed report of model ``version`` that is still current, or a new one."""
    current = _version_state_sha256(version)
    found = (
        Report.objects.filter(kind=ReportKind.VERSION, model_version=version, inputs_sha256=current)
        .order_by("-created_at")
        .first()
    )
    return found or build_version_report(version, actor=actor)


def build_run_report(run: AuditRun, *, actor: Actor, progress: Progress | None = None) -> Report:
    """Build, sign, store and record a new report of the completed audit ``run``."""
    _require_complete(run)
    version = run.model_version
    return _build(kind=ReportKind.RUN, version=version, runs=[run], run=run, actor=actor, progress=progress)


def build_version_report(version: Any, *, actor: Actor) -> Report:
    """Build, sign, store and record a new report of model ``version`` and all its completed audit runs."""
    runs = list(_completed_runs(version))
    return _build(kind=ReportKind.VERSION, version=version, runs=runs, run=None, actor=actor)


# --- building ---------------------------------------------------------------------------------------------------


def _require_complete(run: AuditRun) -> None:
    if run.status == RunStatus.DONE:
        return
    if run.status == RunStatus.ERROR:
        raise ReportRefused(
            f"Audit run {run.pk} ended in error, so it has no results to report: {run.error or 'see the run.'}"
        )
    raise ReportRefused(
        f"Audit run {run.pk} is {run.status} ({run.progress}% done); a report can be made once it is complete."
    )


def _completed_runs(version: Any) -> Iterable[AuditRun]:
    return (
        AuditRun.objects.filter(model_version=version, status=RunStatus.DONE)
        .select_related("dataset_version__dataset", "policy_version__policy", "created_by")
        .order_by("finished_at", "id")
    )


def _build(
    *,
    kind: str,
    version: Any,
    runs: list[AuditRun],
    run: AuditRun | None,
    actor: Actor,
    progress: Progress | None = None,
) -> Report:
    step = progress or _silent
    step(10, "Gathering the results, approvals and trail facts the report states")
    identity = load_identity()
    report_id = uuid.uuid4()
    user = _user(actor)
    state = _run_state_sha256(run) if run is not None else _version_state_sha256(version)
    context = gather_context(
        report_id=report_id,
        kind=kind,
        version=version,
        runs=runs,
        requested_by=user,
        signer_sha256=identity.cert_sha256,
    )
    step(30, "Drawing the charts")
    charts = {r.pk: cached_charts(r.results, fmt="png") for r in runs}
    step(55, "Laying out the PDF")
    unsigned, pages = render_report(context, charts)
    step(85, "Signing the PDF")
    signed = sign_pdf(
        unsigned,
        reason=f"Assay compliance report {report_id}",
        location=settings.TRAIL_ORIGIN,
        identity=identity,
    )
    step(95, "Storing the signed PDF and recording it in the trail")
    name = _store(signed.pdf, signed.sha256)
    with transaction.atomic():
        report = Report.objects.create(
            id=report_id,
            kind=kind,
            run=run,
            model_version=version,
            sha256=signed.sha256,
            size=len(signed.pdf),
            path=name,
            unsigned_sha256=hashlib.sha256(unsigned).hexdigest(),
            signer_certificate_sha256=signed.signer_certificate_sha256,
            signed_at=signed.signing_time,
            pages=pages,
            verdict=context["verdict"],
            inputs_sha256=state,
            created_by=user,
        )
        record_event(
            events.REPORT_GENERATED,
            actor=actor,
            obj=report,
            payload={
                "report": str(report.pk),
                "kind": kind,
                "run": run.pk if run is not None else None,
                "model_version": f"{version.model.name}/v{version.number}",
                "sha256": report.unsigned_sha256,
                "size": len(unsigned),
            },
        )
        record_event(
            events.REPORT_SIGNED,
            actor=actor,
            obj=report,
            payload={
                "report": str(report.pk),
                "sha256": report.sha256,
                "size": report.size,
                "signer_certificate_sha256": report.signer_certificate_sha256,
                "signing_time": signed.signing_time.isoformat().replace("+00:00", "Z"),
            },
        )
    return report


def _store(pdf: bytes, sha256: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.pdf"
        path.write_bytes(pdf)
        return store_by_hash(path, folder=REPORT_FOLDER, sha256=sha256, suffix=".pdf")


def _user(actor: Actor) -> Any:
    return User.objects.filter(pk=actor.user_id).first() if actor.user_id is not None else None


# --- what a report states, and whether a stored one is still current ------------------------------------------


def _version_facts(version: Any) -> dict[str, Any]:
    return {
        "version": [version.pk, version.state, canonical_sha256(version.model_card or {})],
        "model": [version.model.risk_tier, version.model.purpose, version.model.intended_use],
        "reviews": list(Review.objects.filter(version=version).order_by("id").values_list("id", "decision")),
        "deployments": [
            [pk, str(retired)]
            for pk, retired in Deployment.objects.filter(version=version).order_by("id").values_list("id", "retired_at")
        ],
        "findings": list(version.findings.order_by("id").values_list("id", "status")),
    }


def _run_state_sha256(run: AuditRun | None) -> str:
    assert run is not None
    return canonical_sha256({"run": [run.pk, run.results_sha256], **_version_facts(run.model_version)})


def _version_state_sha256(version: Any) -> str:
    runs = [[r.pk, r.results_sha256] for r in _completed_runs(version)]
    return canonical_sha256({"runs": runs, **_version_facts(version)})


# --- gathering the plain context the layout reads --------------------------------------------------------------


def _when(value: Any) -> str:
    if value is None:
        return ""
    return timezone.localtime(value, timezone=timezone.get_fixed_timezone(0)).strftime("%Y-%m-%d %H:%M:%S UTC")


def _person(user: Any) -> str:
    if user is None:
        return "Assay (system)"
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{full} ({user.username})" if full else user.username


def _overall_verdict(runs: list[AuditRun]) -> str:
    """A run's verdict; for a version, the worst of the latest run under each policy (no run: insufficient)."""
    latest: dict[int, AuditRun] = {}
    for run in runs:
        latest[run.policy_version.policy_id] = run  # runs come oldest first
    verdicts = {run.verdict for run in latest.values()}
    for verdict in ("fail", "insufficient_evidence", "pass"):
        if verdict in verdicts:
            return verdict
    return "insufficient_evidence"


def gather_context(
    *, report_id: Any, kind: str, version: Any, runs: list[AuditRun], requested_by: Any, signer_sha256: str
) -> dict[str, Any]:
    """Everything the layout shows, as plain values (no model instances reach the layout code)."""
    model = version.model
    if kind == ReportKind.RUN:
        run = runs[0]
        title = f"Audit of {model.name} v{version.number} under {run.policy_version.policy.name}"
    else:
        title = f"Compliance of {model.name} v{version.number}"
    return {
        "report_id": str(report_id),
        "kind": kind,
        "title": title,
        "verdict": _overall_verdict(runs),
        "generated_at": _when(timezone.now()),
        "generated_by": f"{_person(requested_by)}, {requested_by.role}" if requested_by else "Assay (system)",
        "signer": {"name": settings.REPORT_SIGNER_NAME, "certificate_sha256": signer_sha256},
        "model": {
            "name": model.name,
            "team": model.team.slug,
            "purpose": model.purpose,
            "intended_use": model.intended_use,
            "out_of_scope_uses": model.out_of_scope_uses,
            "business_kpis": list(model.business_kpis or []),
            "risk_tier": model.risk_tier,
            "risk_tier_label": str(RiskTier(model.risk_tier).label)
            if model.risk_tier in RiskTier.values
            else model.risk_tier,
            "risk_rationale": model.risk_rationale,
            "risk_answers": dict(model.risk_answers or {}),
        },
        "version": {
            "number": version.number,
            "state": version.state,
            "framework": version.framework,
            "artifact_name": version.artifact_name,
            "artifact_sha256": version.artifact_sha256,
            "artifact_size": version.artifact_size,
            "hyperparameters": version.hyperparameters or {},
            "metrics": version.metrics or {},
            "code_repository": version.code_repository,
            "code_commit": version.code_commit,
            "model_card": version.model_card or {},
            "model_card_sections": list(MODEL_CARD_SECTIONS),
            "created_by": _person(version.created_by),
            "created_at": _when(version.created_at),
        },
        "runs": [_run_context(run) for run in runs],
        "data": _data_context(version, runs),
        "approvals": _approvals_context(version, runs),
        "findings": [
            {
                "opened_at": _when(f.opened_at),
                "kind": f.kind,
                "title": f.title,
                "status": f.status,
                "resolution": f.resolution,
            }
            for f in version.findings.order_by("opened_at", "id")
        ],
        "trail": _trail_context(version, runs),
    }


def _run_context(run: AuditRun) -> dict[str, Any]:
    policy = run.policy_version
    results = run.results or {}
    checks = [
        {
            "name": c.check_name,
            "outcome": c.outcome,
            "required": c.required,
            "reason": c.reason,
            # The stored results carry every number; the CheckResult row has the same details.
            "details": dict((results.get("checks") or {}).get(c.check_name) or c.details),
        }
        for c in run.checks.order_by("id")
    ]
    disparate = (results.get("checks") or {}).get("disparate_impact")
    is_ll144 = policy.policy.name == "nyc-ll144" or "ll144" in policy.policy.name
    return {
        "id": run.pk,
        "verdict": run.verdict,
        "verdict_reasons": list(run.verdict_reasons or []),
        "policy": {
            "name": policy.policy.name,
            "version": policy.number,
            "title": policy.policy.title,
            "sha256": policy.sha256,
        },
        "dataset": f"{run.dataset_version.dataset.name} v{run.dataset_version.number}",
        "rows": results.get("rows"),
        "column_roles": run.column_roles,
        "input_hashes": run.input_hashes or {},
        "library_versions": run.library_versions or {},
        "seeds": run.seeds or {},
        "data_source": results.get("data_source"),  # a source read where it lives: engine, mode, sample
        "results_sha256": run.results_sha256,
        "created_by": _person(run.created_by),
        "created_at": _when(run.created_at),
        "finished_at": _when(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "checks": checks,
        "group_metrics": (results.get("group_metrics") or {}).get("groupings") or {},
        "ll144": disparate if (is_ll144 and disparate) else None,
    }


def _data_context(version: Any, runs: list[AuditRun]) -> dict[str, Any]:
    graph = traverse(version, direction="upstream")
    datasets: list[tuple[str, Any]] = [("training", d) for d in graph.dataset_versions()]
    seen = {d.pk for _, d in datasets}
    for run in runs:
        if run.dataset_version_id not in seen:
            datasets.append(("evaluation", run.dataset_version))
            seen.add(run.dataset_version_id)
        else:
            datasets = [
                (f"{role}, evaluation" if d.pk == run.dataset_version_id and "evaluation" not in role else role, d)
                for role, d in datasets
            ]
    floor = settings.COVERAGE_MIN_SUBJECTS
    purposes = list(Purpose.objects.order_by("code"))
    now = timezone.now()
    described = []
    for role, dataset_version in datasets:
        assert isinstance(dataset_version, DatasetVersion)
        node = describe_node(dataset_version)
        entry = {
            "role": role,
            "id": node["id"],
            "sha256": node["sha256"],
            "rows": node["rows"],
            "location": node["location"],
            "source": dataset_version.source,
            "licence": dataset_version.licence,
            "coverage": [],
        }
        if dataset_version.subject_id_column:
            for purpose in purposes:
                counts = coverage(dataset_version, purpose, now)
                if counts["subjects"] < floor:
                    # Readers of a report include owners: counts over a handful of subjects could identify a person.
                    entry["coverage"].append({"purpose": purpose.code, "withheld": True})
                else:
                    entry["coverage"].append(
                        {
                            "purpose": purpose.code,
                            **{k: counts[k] for k in ("subjects", "consenting", "withdrawn", "expired", "never_asked")},
                        }
                    )
            if not purposes:
                entry["coverage_note"] = "no consent purposes defined"
        described.append(entry)
    lineage_runs = []
    for run_pk, lineage_run in sorted(graph.runs.items()):
        lineage_runs.append(
            {
                "job": f"{lineage_run.job_namespace}/{lineage_run.job_name}",
                "source": lineage_run.source,
                "ended_at": _when(lineage_run.ended_at or lineage_run.created_at),
                "inputs": sorted(node_id(graph.nodes[k]) for k in graph.inputs.get(run_pk, set())),
                "outputs": sorted(node_id(graph.nodes[k]) for k in graph.outputs.get(run_pk, set())),
            }
        )
    return {"datasets": described, "lineage_runs": lineage_runs, "coverage_floor": floor}


def _approvals_context(version: Any, runs: list[AuditRun]) -> dict[str, Any]:
    def row(what: str, user: Any, at: Any, detail: str = "") -> dict[str, Any]:
        return {
            "what": what,
            "name": _person(user),
            "role": getattr(user, "role", "system") if user else "system",
            "at": _when(at),
            "detail": detail,
            "_sort": at,
        }

    rows = [row("registered the version", version.created_by, version.created_at)]
    if version.submitted_at:
        rows.append(row("submitted for review", version.submitted_by, version.submitted_at))
    for review in Review.objects.filter(version=version).select_related("reviewer"):
        rows.append(row(f"review: {review.decision}", review.reviewer, review.decided_at, review.reason))
    for run in runs:
        rows.append(row(f"started audit run #{run.pk}", run.created_by, run.created_at))
    deployments = []
    for d in Deployment.objects.filter(version=version).select_related("deployed_by", "retired_by"):
        rows.append(row(f"deployed to {d.environment}", d.deployed_by, d.deployed_at, d.reason))
        if d.retired_at:
            rows.append(row(f"retired from {d.environment}", d.retired_by, d.retired_at, d.retire_reason))
        deployments.append(
            {
                "environment": d.environment,
                "deployed_at": _when(d.deployed_at),
                "by": _person(d.deployed_by),
                "retired_at": _when(d.retired_at),
            }
        )
    rows.sort(key=lambda r: r["_sort"])
    for r in rows:
        del r["_sort"]
    required: int | str
    try:
        required = required_approvals(version.model.risk_tier)
    except Exception:  # a tier with no approval rule (prohibited) says so in words
        required = "none (the tier cannot be approved)"
    return {"events": rows, "deployments": deployments, "required": required}


def _trail_context(version: Any, runs: list[AuditRun]) -> dict[str, Any]:
    objects = Q(object_type="registry.modelversion", object_id=str(version.pk)) | Q(
        object_type="audits.auditrun", object_id__in=[str(r.pk) for r in runs]
    )
    found = list(Event.objects.filter(objects).order_by("-seq")[:MAX_TRAIL_EVENTS])[::-1]
    rows = [
        {
            "seq": e.seq,
            "time": _when(e.recorded_at),
            "action": e.action,
            "object": f"{e.object_type.split('.')[-1]} {e.object_id}",
            "leaf_hash": bytes(e.leaf_hash).hex(),
        }
        for e in found
    ]
    checkpoint = None
    if found:
        needed = found[-1].seq + 1
        row = Checkpoint.objects.filter(tree_size__gte=needed).order_by("id").first()
        if row is None:
            # A checkpoint that covers these events, issued now (as for every export): the report can name it.
            row = issue_checkpoint(reason="report")
        if row is not None:
            checkpoint = {
                "tree_size": row.tree_size,
                "root_hash": bytes(row.root_hash).hex(),
                "issued_at": _when(row.issued_at),
                "note": row.note,
            }
    return {"events": rows, "checkpoint": checkpoint}
