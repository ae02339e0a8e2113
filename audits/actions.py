"""Audit actions: policy versions, starting audit runs, and the job that runs one.

Each action owns its transaction and records its trail event inside it. An audit's heavy work (reading the data,
scoring the model, the checks) runs in the job, outside any transaction; the run row carries its progress, and
its completion event carries the hash of its results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audits import events
from audits.models import AuditRun, CheckResult, Policy, PolicyVersion, RunStatus
from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
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
    from audits.policies import PolicyError, load_policy

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
    from audits.policies import builtin_policies

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
    }


def audit_inputs_sha256(
    model_version: Any, dataset_version: Any, policy_version: PolicyVersion, column_roles: Any
) -> str:
    """The key of an audit run: the canonical hash of its inputs' hashes (artifact, dataset, policy, column roles).
    Runs with the same key audit the same thing; :func:`do_start_audit` returns the existing run for a key."""
    from audits.evaluation import ColumnRoles

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
    from audits.evaluation import ColumnRoles, EvaluationError

    _require_role(user, AUDIT_RUNNERS, "run audits")
    if not (user.is_organisation_wide or model_version.model.team_id in user.team_ids()):
        raise AuditError("You are not in this model's team.", code="not_in_team", status=403)
    if not dataset_version.file:
        raise AuditError(
            "The evaluation dataset must be a file Assay stores (CSV or Parquet); an external URI cannot be read.",
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
        if not force:
            existing = run_of_inputs(inputs)
            if existing is not None:
                return existing, False
        elif AuditRun.objects.filter(inputs_sha256=inputs, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
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
    from audits.tasks import run_audit

    run_audit.delay(run_id)


def _progress(run: AuditRun, percent: int, note: str) -> None:
    AuditRun.objects.filter(pk=run.pk).update(progress=percent, progress_note=note[:200])


def execute_audit(run_id: int) -> AuditRun:
    """The job: read the data, score the model if needed, run the policy's checks, store everything, and record
    the completion event with the results' hash. A run that cannot proceed ends in ``error`` with the reason."""
    from audits.engine import AuditInputsError, run_policy

    with transaction.atomic():
        run = (
            AuditRun.objects.select_for_update()
            .select_related("model_version__model", "dataset_version__dataset", "policy_version__policy")
            .get(pk=run_id)
        )
        stale = run.status == RunStatus.RUNNING and (
            run.started_at is None
            or (timezone.now() - run.started_at).total_seconds() > settings.AUDIT_STALE_RUN_SECONDS
        )
        if run.status != RunStatus.QUEUED and not stale:
            return run  # a redelivered job (acks late) finds the run already taken
        # A run left "running" far longer than any audit takes lost its worker: it is taken over, not left blocking
        # its inputs for ever.
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    began = time.perf_counter()
    try:
        outcome = run_policy(run, progress=lambda percent, note: _progress(run, percent, note))
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
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        run.finished_at = timezone.now()
        run.duration_seconds = time.perf_counter() - began
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
