"""Audit actions: policy versions, starting audit runs, and the job that runs one.

Each action owns its transaction and records its trail event inside it. An audit's heavy work (reading the data,
scoring the model, the checks) runs in the job, outside any transaction; the run row carries its progress, and
its completion event carries the hash of its results.

Runs whose worker died heal by a lease (``governance.leases``). A running run records its worker and beats
(``heartbeat_at``) every ``AUDIT_LEASE_SECONDS / 4`` while its checks run; one silent for longer than the lease, or
whose worker process is known dead on this machine, is *stale*. The rule: **a job takes a stale run over, a request
replaces it.**

- A job for a stale run (a Celery redelivery after the pool process died, or the periodic sweep
  :func:`recover_stale_runs`, which queues it again) runs it again from the start, as attempt n+1. After
  ``AUDIT_MAX_ATTEMPTS`` attempts the run ends as ``error`` with the reason "The worker stopped answering at <time>"
  instead: an input that kills its worker must not kill workers for ever.
- A request that meets a stale run (``force``, the same inputs started again, the gate) ends it as ``error`` with that
  reason, in the trail as every run's end, and goes on without it: ``force`` starts the new run, the gate judges by
  what remains (see ``audits.gate.decisions``).
- A run still queued after ``QUEUED_LEASES`` leases lost its message (a broker restarted, a process died before
  its commit hook ran): the sweep sends it again; a request replaces it like a running one.

Taking over is the job's part because it redoes the same work the lost worker was doing (runs are deterministic
given their seeds); a request never waits for a take-over, because a person or a pipeline asked for an answer now.
A job's writes (progress, results) land only while the run is still its own (the same ``attempts``), so a worker
that was merely slow, and was taken over, cannot overwrite the outcome of the run that replaced it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from contextlib import nullcontext
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from audits import events
from audits.engine import AuditInputsError, run_policy
from audits.evaluation import ColumnRoles, EvaluationError
from audits.evidence.actions import evidence_hashes
from audits.models import AuditRun, CheckResult, Policy, PolicyVersion, RunStatus
from audits.policies.errors import PolicyError
from audits.policies.loader import builtin_policies, load_policy
from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
from governance.jobs import enqueue
from governance.leases import Heartbeat, lease_expired, worker_identity
from governance.leases import is_stale as lease_is_stale
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event

logger = logging.getLogger("assay.audits")

POLICY_WRITERS = frozenset({Role.OFFICER, Role.ADMIN})
AUDIT_RUNNERS = frozenset({Role.OWNER, Role.OFFICER, Role.ADMIN, Role.CI})


class AuditError(ActionError):
    """A refused audit action (422 by default)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _require_role(user: User, roles: frozenset[str], what: str) -> None:
    require_role(user, roles, what, error=AuditError)


def canonical_sha256(value: Any) -> str:
    """SHA-256 of a JSON value in one canonical spelling (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- policies --------------------------------------------------------------------------------------------------


def _parse_policy(text: str) -> Any:
    try:
        return load_policy(text)
    except PolicyError as exc:
        raise AuditError(str(exc), code="invalid_policy", field="text") from None


def do_save_policy(
    *, user: User | None, actor: Actor, text: str, reason: str = "", builtin: bool = False
) -> PolicyVersion:
    """Store a policy's YAML as its next version (the first version creates the policy). The same text as the
    latest version is not a new version (``version.saved_now`` says which happened)."""
    if user is not None:
        _require_role(user, POLICY_WRITERS, "change audit policies")
    parsed = _parse_policy(text)
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(name=parsed.name).first()
        if policy is None:
            try:
                with transaction.atomic():
                    policy = Policy.objects.create(
                        name=parsed.name, title=parsed.title, builtin=builtin, created_by=user
                    )
            except IntegrityError:
                raise AuditError(f"Policy {parsed.name} is being created by someone else.", status=409) from None
        elif policy.builtin and not builtin:
            raise AuditError(
                f"{parsed.name} is a built-in policy; save your variant under another name.", code="builtin", status=409
            )
        latest = policy.latest_version()
        if latest is not None and latest.sha256 == parsed.text_sha256:
            latest.saved_now = False  # type: ignore[attr-defined]
            return latest
        number = (PolicyVersion.objects.filter(policy=policy).aggregate(n=Max("number"))["n"] or 0) + 1
        version = PolicyVersion.objects.create(
            policy=policy,
            number=number,
            text=text,
            document=parsed.document,
            sha256=parsed.text_sha256,
            canonical_sha256=parsed.sha256,
            change_reason=reason,
            created_by=user,
        )
        policy.title = parsed.title
        policy.save(update_fields=["title"])
        version.saved_now = True  # type: ignore[attr-defined]
        record_event(
            events.POLICY_SAVED,
            actor=actor,
            obj=version,
            payload={
                "policy": policy.name,
                "version": number,
                "sha256": parsed.text_sha256,
                "canonical_sha256": parsed.sha256,
                "reason_sha256": text_commitment(reason),
            },
        )
    return version


def ensure_builtin_policies(only: str | None = None) -> None:
    """Store the shipped policies (or only the one named ``only``; a new version when the shipped text changed).
    Idempotent, and cheap when nothing changed."""
    for name, text in sorted(builtin_policies().items()):
        if only is not None and name != only:
            continue
        latest = PolicyVersion.objects.filter(policy__name=name).order_by("-number").first()
        if latest is not None and latest.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest():
            continue  # already stored: a cheap check, so views can call this on every request
        do_save_policy(user=None, actor=Actor.system(), text=text, builtin=True)


# --- audit runs ------------------------------------------------------------------------------------------------


def _input_hashes(model_version: Any, dataset_version: Any, policy_version: PolicyVersion, roles: dict) -> dict:
    return {
        "artifact_sha256": model_version.artifact_sha256 or None,
        "model_version": f"{model_version.model.name}/v{model_version.number}",
        "dataset_sha256": dataset_version.sha256 or None,
        "dataset_version": f"{dataset_version.dataset.name}/v{dataset_version.number}",
        "policy_sha256": policy_version.sha256,
        "policy_version": f"{policy_version.policy.name}/v{policy_version.number}",
        "column_roles_sha256": canonical_sha256(roles),
    } | _evidence_hashes(model_version, policy_version)


def _evidence_hashes(model_version: Any, policy_version: PolicyVersion) -> dict:
    """The imported evidence files' hashes, when the policy judges imported evidence (its ``external`` check): a
    file imported after a run makes the next audit a new run, not the old one's answer."""
    if "external" not in ((policy_version.document or {}).get("checks") or {}):
        return {}
    return {"evidence_sha256": canonical_sha256(evidence_hashes(model_version))}


def audit_inputs_sha256(
    model_version: Any, dataset_version: Any, policy_version: PolicyVersion, column_roles: Any
) -> str:
    """The key of an audit run: the canonical hash of its inputs' hashes (artifact, dataset, policy, column roles).
    Runs with the same key audit the same thing; :func:`do_start_audit` returns the existing run for a key."""
    roles = ColumnRoles.from_json(column_roles).as_json()
    return canonical_sha256(_input_hashes(model_version, dataset_version, policy_version, roles))


def run_of_inputs(inputs_sha256: str, *, or_error: bool = False) -> AuditRun | None:
    """The newest run of these inputs (see :func:`audit_inputs_sha256`) that did not end in error; with
    ``or_error``, else the newest that did (an error is an answer too, for a caller that must not start another)."""
    runs = AuditRun.objects.filter(inputs_sha256=inputs_sha256).order_by("-id")
    found = runs.exclude(status=RunStatus.ERROR).first()
    return runs.first() if found is None and or_error else found


def do_start_audit(
    *,
    user: User,
    actor: Actor,
    model_version: Any,
    dataset_version: Any,
    policy_version: PolicyVersion,
    column_roles: Any,
    force: bool = False,
) -> tuple[AuditRun, bool]:
    """Queue an audit of ``model_version`` on ``dataset_version`` under ``policy_version``. The same inputs
    return the existing run (unless ``force``). Returns (run, whether it was created now)."""
    _require_role(user, AUDIT_RUNNERS, "run audits")
    if not (user.is_organisation_wide or model_version.model.team_id in user.team_ids()):
        raise AuditError("You are not in this model's team.", code="not_in_team", status=403)
    if not (dataset_version.file or dataset_version.source_uri):
        raise AuditError(
            "The evaluation dataset must be a file Assay stores (CSV or Parquet) or a source it reads where it lives "
            "(docs/data-sources.md); an external URI cannot be read.",
            field="dataset",
        )
    try:
        parsed = ColumnRoles.from_json(column_roles)
    except EvaluationError as exc:  # callers that did not go through ColumnRolesSerializer (seeding, scripts)
        raise AuditError(f"column_roles: {exc}", field="column_roles") from None
    roles = parsed.as_json()
    missing = [
        c
        for c in [parsed.label, *parsed.protected, parsed.prediction, parsed.score]
        if c and c not in {column["name"] for column in dataset_version.schema}
    ]
    if missing:
        names = ", ".join(column["name"] for column in dataset_version.schema)
        raise AuditError(
            f"column_roles: no column named {', '.join(map(repr, missing))}. Columns: {names}.", field="column_roles"
        )
    hashes = _input_hashes(model_version, dataset_version, policy_version, roles)
    inputs = canonical_sha256(hashes)
    with transaction.atomic():
        # A run of these inputs whose worker died is replaced, never answered with nor waited on (module docstring).
        replace_lost_runs(inputs, why="A new audit of the same inputs replaced it.")
        if not force:
            existing = run_of_inputs(inputs)
            if existing is not None:
                return existing, False
        elif AuditRun.objects.filter(inputs_sha256=inputs, status__in=LIVE).exists():
            raise AuditError("An audit with these inputs is already running.", code="running", status=409)
        try:
            with transaction.atomic():
                run = AuditRun.objects.create(
                    model_version=model_version,
                    dataset_version=dataset_version,
                    policy_version=policy_version,
                    column_roles=roles,
                    inputs_sha256=inputs,
                    input_hashes=hashes,
                    forced=force,
                    created_by=user,
                )
        except IntegrityError:  # an identical submission won the race: answer with its run (live or just finished)
            found = run_of_inputs(inputs)
            if found is None:
                raise AuditError("An identical audit is starting; ask again.", code="running", status=409) from None
            return found, False
        record_event(
            events.AUDIT_STARTED,
            actor=actor,
            obj=run,
            payload={"run": run.pk, **hashes, "inputs_sha256": inputs, "forced": force},
        )
        transaction.on_commit(lambda: _queue(run.pk))
    return run, True


def _queue(run_id: int) -> None:
    enqueue("audits.run_audit", run_id)  # audits.tasks runs it (by name: that module imports this one)


# --- leases: runs whose worker died (see the module docstring) -------------------------------------------------

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# A queue may hold work for a long time; a queued run's message is sent again only after this many leases.
QUEUED_LEASES = 10


def last_sign_of_life(run: AuditRun) -> dt.datetime | None:
    """When the run's worker last said it was alive (its heartbeat, else when it started)."""
    return max(filter(None, (run.started_at, run.heartbeat_at)), default=None)


def is_stale(run: AuditRun, now: dt.datetime | None = None) -> bool:
    """Whether ``run`` lost its worker: running without a heartbeat for ``AUDIT_LEASE_SECONDS`` (or its worker's
    process is gone from this machine), or queued for ``QUEUED_LEASES`` leases (its message was lost)."""
    now = now or timezone.now()
    lease = settings.AUDIT_LEASE_SECONDS
    if run.status == RunStatus.RUNNING:
        return lease_is_stale(last_sign_of_life(run), run.worker, lease_seconds=lease, now=now)
    if run.status == RunStatus.QUEUED:
        queued_since = max(filter(None, (run.created_at, run.heartbeat_at)))
        return lease_expired(queued_since, lease_seconds=lease * QUEUED_LEASES, now=now)
    return False


def _stopped_answering(run: AuditRun) -> str:
    last = last_sign_of_life(run)
    when = last.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if last else "an unknown time"
    return f"The worker stopped answering at {when} (attempt {run.attempts} of {settings.AUDIT_MAX_ATTEMPTS})."


def end_lost_run(run: AuditRun, *, why: str, now: dt.datetime | None = None) -> AuditRun:
    """End a stale run (locked by the caller, inside its transaction) as ``error``: "The worker stopped answering at
    <time>", then ``why``; recorded like every run's end (``audit.completed``)."""
    return _complete(run, now=now or timezone.now(), error=f"{_stopped_answering(run)} {why}".strip())


def replace_lost_runs(inputs_sha256: str, *, why: str, now: dt.datetime | None = None) -> list[int]:
    """Inside a transaction: end every stale live run of these inputs as ``error`` (``why`` says what replaced it)
    so that a new run, or an older answer, can take its place. Returns their ids."""
    ended = []
    for run in AuditRun.objects.select_for_update().filter(inputs_sha256=inputs_sha256, status__in=LIVE):
        if is_stale(run, now):
            end_lost_run(run, why=why, now=now)
            ended.append(run.pk)
    return ended


def end_if_stale(run: AuditRun, *, why: str, now: dt.datetime | None = None) -> bool:
    """End ``run`` as ``error`` if it is stale (see :func:`end_lost_run`); True when it was."""
    if run.status not in LIVE:
        return False
    with transaction.atomic():
        return run.pk in replace_lost_runs(
            AuditRun.objects.values_list("inputs_sha256", flat=True).get(pk=run.pk), why=why, now=now
        )


def recover_stale_runs(now: dt.datetime | None = None) -> list[int]:
    """The periodic sweep: queue again every stale run (its job takes it over, or ends it after the last attempt).
    A running run goes back to ``queued`` with a note saying when its worker stopped answering. Returns the ids."""
    now = now or timezone.now()
    recovered = []
    for run_id in AuditRun.objects.filter(status__in=LIVE).order_by("id").values_list("pk", flat=True):
        with transaction.atomic():
            run = AuditRun.objects.select_for_update().get(pk=run_id)
            if not is_stale(run, now):
                continue
            if run.status == RunStatus.RUNNING:
                run.status = RunStatus.QUEUED
                run.progress_note = f"{_stopped_answering(run)} Queued again."[:200]
            run.heartbeat_at = now  # a queued run's message was (re)sent now
            run.worker = ""
            run.save(update_fields=["status", "progress_note", "heartbeat_at", "worker"])
            transaction.on_commit(partial(_queue, run_id))
            recovered.append(run_id)
    return recovered


class _Beat:
    """A run's heartbeat and progress, written only while the run is still this job's (the same attempt)."""

    def __init__(self, run: AuditRun) -> None:
        self.run_id, self.attempt = run.pk, run.attempts

    def __call__(self, percent: int | None = None, note: str = "") -> None:
        fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if percent is not None:
            fields.update(progress=percent, progress_note=note[:200])
        AuditRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING, attempts=self.attempt).update(**fields)


def execute_audit(run_id: int, *, now: dt.datetime | None = None) -> AuditRun:
    """The job: read the data, score the model if needed, run the policy's checks, store everything, and record
    the completion event with the results' hash. A run that cannot proceed ends in ``error`` with the reason.

    Idempotent on redelivery: a run another live worker holds, or that has ended, is left as it is; a stale one is
    taken over (see the module docstring)."""
    with transaction.atomic():
        run = (
            AuditRun.objects.select_for_update()
            .select_related("model_version__model", "dataset_version__dataset", "policy_version__policy")
            .get(pk=run_id)
        )
        lost = run.status == RunStatus.RUNNING and is_stale(run, now)
        if run.status != RunStatus.QUEUED and not lost:
            return run  # a redelivered job (acks late) finds the run held by a live worker, or ended
        if run.attempts >= settings.AUDIT_MAX_ATTEMPTS:
            return end_lost_run(
                run,
                why="It is not started again: look for the cause in the worker's log (memory, a hostile input), "
                'then start the audit again with "force": true.',
                now=now,
            )
        if lost:
            run.progress_note = f"{_stopped_answering(run)} Taken over: running again from the start."[:200]
        # (a run the sweep queued again keeps its note: why it runs again)
        run.status = RunStatus.RUNNING
        run.started_at = run.heartbeat_at = timezone.now()
        run.worker = worker_identity()[:200]
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker", "attempts", "progress_note"])
    beat = _Beat(run)
    # Progress reports beat; a thread beats between them (one check may run for minutes). Inside a caller's
    # transaction (the gate's in-process path) another connection could not see the row: progress alone beats.
    beating = (
        nullcontext() if connection.in_atomic_block else Heartbeat(beat, interval=settings.AUDIT_LEASE_SECONDS / 4)
    )
    began = time.perf_counter()
    try:
        with beating:
            outcome = run_policy(run, progress=beat)
    except AuditInputsError as exc:
        return _finish(run, began=began, error=str(exc))
    except Exception:  # a bug must end the run visibly, not leave it running forever
        logger.exception("audit %s failed", run_id)
        return _finish(run, began=began, error="The audit failed unexpectedly; the error is in the server log.")
    try:
        return _finish(run, began=began, outcome=outcome)
    except Exception:  # results that cannot be stored must still end the run, as an error
        logger.exception("audit %s results could not be stored", run_id)
        return _finish(
            run, began=began, error="The audit's results could not be stored; the error is in the server log."
        )


def _finish(run: AuditRun, *, began: float, outcome: Any = None, error: str = "") -> AuditRun:
    attempt = run.attempts
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.RUNNING or run.attempts != attempt:
            # Taken over or replaced while this job ran (it was judged lost): the other outcome stands.
            logger.warning(
                "audit %s attempt %s finished after it was taken over; its outcome is dropped", run.pk, attempt
            )
            return run
        return _complete(run, now=timezone.now(), outcome=outcome, error=error, duration=time.perf_counter() - began)


def _complete(
    run: AuditRun, *, now: dt.datetime, outcome: Any = None, error: str = "", duration: float | None = None
) -> AuditRun:
    """End ``run`` (locked by the caller, inside its transaction) as done with ``outcome``, or as error."""
    run.finished_at = now
    run.duration_seconds = duration
    run.progress = 100
    if outcome is None:
        run.status = RunStatus.ERROR
        run.error = error
        run.results = {}
    else:
        run.status = RunStatus.DONE
        run.verdict = outcome.verdict
        run.verdict_reasons = outcome.reasons
        run.results = outcome.results
        run.library_versions = outcome.library_versions
        run.seeds = outcome.seeds
        for check in outcome.checks:
            CheckResult.objects.create(
                run=run,
                check_name=check.name,
                outcome=check.outcome,
                required=check.required,
                reason=check.reason,
                details=check.details,
            )
    run.results_sha256 = canonical_sha256({"verdict": run.verdict, "results": run.results, "error": run.error})
    run.save()
    record_event(
        events.AUDIT_COMPLETED,
        actor=Actor.system(),
        obj=run,
        payload={
            "run": run.pk,
            "status": run.status,
            "verdict": run.verdict or None,
            "results_sha256": run.results_sha256,
            "duration_ms": round((run.duration_seconds or 0.0) * 1000),
        },
    )
    return run
