"""The approval gate: one decision for a pipeline, from the stored state, bound to the exact artifact.

Decisions, in the order they are reached:

- ``fail``: the model is prohibited, or the required audit failed;
- ``insufficient_evidence``: no audit of these inputs exists and none can be run (no evaluation dataset given, no
  column roles known), or the audit could not judge (or could not run);
- ``pending``: the audit is still running (poll the run, or ask again); never a run whose worker died: the gate
  ends a stale run as ``error`` ("The worker stopped answering at <time>") and judges by what remains, the previous
  valid run of the same inputs (the evidence the version was approved on did not change), or, when there is none and
  an evaluation dataset is given, a new run it starts. It does not wait for a take-over: a pipeline asked for an
  answer now, and a dead run says nothing about the model (see ``audits.actions`` for the lease rule);
- ``pending_approval``: the audit passed, but the version lacks its approvals or has open findings;
- ``pass``: the audit under the policy the risk tier requires passed (or none is required), the version is approved,
  nothing is open: the answer carries a signed decision token.

Asking again with the same inputs gives the same decision and never starts a second audit (audit runs are keyed by
the hashes of their inputs).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from audits import events, policies
from audits.actions import AuditError, audit_inputs_sha256, do_start_audit, end_if_stale, execute_audit, run_of_inputs
from audits.checks.facts import group_facts
from audits.evidence.actions import judged_criteria
from audits.gate import reads
from audits.gate.token import issue_gate_token, signing_key
from audits.models import AuditRun, RunStatus, Verdict
from governance.access.models import User
from governance.trail.log import Actor, record_event
from governance.trail.models import PendingEvent
from registry import risk
from registry.models import Decision, FindingStatus, VersionState
from registry.signature_rules import signature_refusal

PASS = "pass"  # noqa: S105 - a decision, not a password
FAIL = "fail"
INSUFFICIENT = "insufficient_evidence"
PENDING = "pending"
PENDING_APPROVAL = "pending_approval"


@dataclass
class GateDecision:
    """What the gate answers: the decision, its reasons in words, and what it rests on."""

    decision: str
    reasons: list[str]
    version: Any
    environment: str
    policy_version: Any = None
    run: AuditRun | None = None
    approvers: list[int] = field(default_factory=list)
    open_findings: list[dict[str, Any]] = field(default_factory=list)
    token: str = ""
    # The groups the audit did not judge as such (unknown category, excluded, too small, undefined rate), as
    # audits.checks.facts.group_facts gives them: the report and monitoring show the same facts.
    group_facts: list[dict[str, Any]] = field(default_factory=list)
    # The decision's gate.decided event in the trail: its seq is the decision's id (audits.gate.proofs proves it).
    seq: int | None = None
    # Batched sequencing (TRAIL_SEQUENCING=batched): the event's queue id while it is committed to the queue but not
    # yet sequenced (seq is None then: the id comes with the sequencer's next batch, see _record).
    queued: int | None = None
    # The policy's criteria over imported evidence, as the audit judged them (audits.evidence.actions.judged_criteria).
    imported_evidence: list[dict[str, Any]] = field(default_factory=list)


def _known_roles(version: Any, policy_version: Any) -> dict[str, Any] | None:
    """The column roles of the latest audit of this model under this policy (any version): how it is audited."""
    previous = (
        AuditRun.objects.filter(model_version__model=version.model, policy_version__policy=policy_version.policy)
        .order_by("-id")
        .first()
    )
    return dict(previous.column_roles) if previous else None


@dataclass
class Clock:
    """The time the gate's wait reads and how it sleeps between looks (tests give it a clock of their own)."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


CLOCK = Clock()
POLL_SECONDS = 0.2  # how often a waiting gate looks at its run


def _wait(run: AuditRun, seconds: float) -> AuditRun:
    """``run`` once it ended, or as it stands after ``seconds`` (the caller's ``wait_seconds``, capped)."""
    clock = CLOCK
    deadline = clock.now() + seconds
    while run.status in (RunStatus.QUEUED, RunStatus.RUNNING) and clock.now() < deadline:
        clock.sleep(min(POLL_SECONDS, deadline - clock.now()))
        run.refresh_from_db()
    return run


def required_policy(version: Any, requested: str = "") -> Any:
    """The latest version of the policy the gate judges by: the one the risk tier requires, else the one asked for
    (None when neither names one). Asking for a different policy than the tier's is refused (422)."""
    name = _policy_name(version, requested)
    return _policy_version(name) if name else None


def _policy_name(version: Any, requested: str) -> str:
    """The name of the policy the gate judges by ("" for none); refuses (422) one other than the tier's."""
    tier = version.model.risk_tier
    required = settings.AUDIT_REQUIRED_POLICIES.get(tier, "")
    if requested and required and requested != required:
        _policy_version(requested)  # an unknown name is refused as such first
        # The tier's policy always decides when the tier has one: a caller cannot swap in another (weaker) one, and
        # is told so rather than judged silently by a policy they did not name.
        raise AuditError(
            f"{version.model.name} is {tier}-risk, so the gate judges it by '{required}' "
            f"(AUDIT_REQUIRED_POLICIES), not '{requested}': leave policy out, or ask for '{required}'.",
            field="policy",
        )
    return required or requested


def _policy_version(name: str) -> Any:
    """The latest version of the policy named ``name``; refuses (422) a name no policy has."""
    latest = reads.latest_policy_version(name)  # the common case, in one cheap query
    if latest is not None:
        return latest
    try:
        return policies.resolve(name)  # stores a built-in not stored yet (install_policies not run)
    except policies.PolicyNotFound as exc:
        raise AuditError(str(exc), field="policy") from None


def decide(
    *,
    user: User,
    actor: Actor,
    version: Any,
    environment: str,
    dataset_version: Any = None,
    policy: str = "",
    column_roles: dict[str, Any] | None = None,
    wait_seconds: float | None = None,
) -> GateDecision:
    """The gate's decision for ``version`` in ``environment`` (see the module docstring); recorded in the trail."""
    wait = settings.GATE_MAX_WAIT_SECONDS if wait_seconds is None else min(wait_seconds, settings.GATE_MAX_WAIT_SECONDS)
    result = GateDecision(decision=PASS, reasons=[], version=version, environment=environment)
    model = version.model
    if model.risk_tier == "prohibited":
        result.decision = FAIL
        result.reasons = [f"{model.name} is classified as a prohibited practice (EU AI Act Art. 5)."]
        return _record(result, actor=actor)
    name = _policy_name(version, policy)
    key = signing_key()
    # Everything the common decision reads, in one query (reads.decision_reads); a slow path reads again what it
    # may have changed.
    known = reads.decision_reads(
        version,
        policy=name,
        dataset_version=dataset_version,
        approval=Decision.APPROVE,
        finding_status=FindingStatus.OPEN,
        key_id=key.key_id.hex(),
    )
    if name:
        result.policy_version = known.policy_version or _policy_version(name)  # a built-in not stored yet: store it
    # Open findings are shown with every decision: a person must decide on them whatever the audit says.
    result.open_findings = known.findings
    still = True  # nothing read after the one query: its approvals are current
    if result.policy_version is not None:
        prefetched = known.run if known.policy_version is not None else _UNREAD
        still = _judge_audit(
            result,
            user=user,
            actor=actor,
            dataset_version=dataset_version,
            roles=column_roles,
            wait=wait,
            prefetched=prefetched,
        )
    if unsigned := signature_refusal(version):  # the signer the tier requires (MODEL_SIGNING_REQUIRED_SIGNERS)
        result.decision = FAIL  # a version's artifact and signature never change: no later answer can differ
        result.reasons.insert(0, unsigned)
    if result.decision == PASS:
        _judge_approvals(result, known.approvers if still else None)
    elif result.open_findings:
        result.reasons.append(_open_findings_reason(result))
    result.reasons.extend(_group_fact_reason(result.run, fact) for fact in result.group_facts)
    if result.decision == PASS:
        result.token = _token(result, key=key, key_published=known.key_published)
    return _record(result, actor=actor)


_UNREAD = object()  # the run was not read with the decision's other reads


def _judge_audit(
    result: GateDecision,
    *,
    user: User,
    actor: Actor,
    dataset_version: Any,
    roles: dict | None,
    wait: float,
    prefetched: Any = _UNREAD,
) -> bool:
    """The required audit's part of the decision: find (or run) it, wait for it, read its verdict. ``prefetched``
    is the latest run as the decision's one query read it; True when the run came from there, ended, and nothing
    was started or waited for (so the rest of that query's answer is still the current state)."""
    version, policy_version = result.version, result.policy_version
    name = policy_version.policy.name

    def find() -> AuditRun | None:
        if dataset_version is not None and roles:
            # Column roles are inputs: the run of exactly these (a new one if none), never one audited otherwise.
            return run_of_inputs(audit_inputs_sha256(version, dataset_version, policy_version, roles), or_error=True)
        return reads.latest_run(version, policy_version, dataset_version)

    quick = prefetched is not _UNREAD and not (dataset_version is not None and roles)
    run = prefetched if quick else find()
    if run is not None and end_if_stale(run, why="The approval gate does not wait on a run no worker holds."):
        quick = False
        ended, run = run.pk, find()  # the gate never waits on a dead run (module docstring)
        if run is not None and run.pk == ended and dataset_version is not None:
            run = None  # no other run to judge by: start a new one below
    started = False
    if dataset_version is not None and run is None:
        roles = roles or _known_roles(version, policy_version)
        if roles is None:
            result.decision = INSUFFICIENT
            result.reasons = [
                f"No audit of {version} under '{name}' exists, and no column roles were given to run one "
                "(send column_roles)."
            ]
            return False
        run, _ = do_start_audit(
            user=user,
            actor=actor,
            model_version=version,
            dataset_version=dataset_version,
            policy_version=policy_version,
            column_roles=roles,
        )
        started = True
    if run is None:
        result.decision = INSUFFICIENT
        result.reasons = [
            f"{version} has no audit under '{name}', which {version.model.risk_tier}-risk models need: send an "
            "evaluation dataset (dataset, dataset_version) to run one."
        ]
        return quick
    quick = quick and run.status in (RunStatus.DONE, RunStatus.ERROR)
    if started:
        run.refresh_from_db()  # the in-process job may have run it as its transaction committed
    if run.status == RunStatus.QUEUED and settings.CELERY_TASK_ALWAYS_EAGER:
        # In process, inside a caller's transaction the commit hook has not run yet: run the job here (it claims
        # the run under a lock, so the hook finds it taken).
        run = execute_audit(run.pk)
    run = _wait(run, wait)
    result.run = run
    result.group_facts, result.imported_evidence = _run_facts(run)
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        result.decision = PENDING
        result.reasons = [f"Audit run {run.pk} is {run.status} ({run.progress}%): ask again, or poll the run."]
    elif run.status == RunStatus.ERROR:
        result.decision = INSUFFICIENT
        result.reasons = [
            f"Audit run {run.pk} could not run: {run.error}",
            "Asking again with the same inputs gives the same answer: send corrected column_roles, or start the "
            'audit again with POST /api/v1/audits/ and "force": true.',
        ]
    elif run.verdict == Verdict.FAIL:
        result.decision = FAIL
        result.reasons = [f"Audit run {run.pk} failed: {reason}" for reason in run.verdict_reasons]
    elif run.verdict != Verdict.PASS:
        result.decision = INSUFFICIENT
        result.reasons = [f"Audit run {run.pk} lacks evidence: {reason}" for reason in run.verdict_reasons]
    return quick


# What the gate's answer carries of an ended run (its group facts and judged criteria), by run and results hash: an
# ended run's results, check results and their hash never change (audits.actions._complete writes them together),
# and the hash covers the results, so an entry cannot go stale. Bounded; per process.
_FACTS: dict[tuple[int, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
_FACTS_LOCK = threading.Lock()
_FACTS_MAX = 512


def _run_facts(run: AuditRun) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The group facts (of a done run) and the judged criteria of ``run``; each call gets its own copy."""
    ended = run.status in (RunStatus.DONE, RunStatus.ERROR) and bool(run.results_sha256)
    cache_key = (run.pk, run.results_sha256)
    facts = _FACTS.get(cache_key) if ended else None
    if facts is None:
        facts = (group_facts(run.results or {}) if run.status == RunStatus.DONE else [], judged_criteria(run))
        if ended:
            with _FACTS_LOCK:
                if len(_FACTS) >= _FACTS_MAX:
                    _FACTS.clear()
                _FACTS[cache_key] = facts
    return copy.deepcopy(facts)


def _judge_approvals(result: GateDecision, approvers: list[int] | None = None) -> None:
    """The people's part: the version approved by enough distinct approvers, and no open finding. ``approvers``:
    as the decision's one query read them, when still current (else read here)."""
    version = result.version  # read in this request: its state is current
    tier = version.model.risk_tier
    required = risk.required_approvals(tier)
    approvals = approvers if approvers is not None else reads.approvers(version, decision=Decision.APPROVE)
    result.approvers = approvals
    if version.state not in (VersionState.APPROVED, VersionState.DEPLOYED) or len(approvals) < required:
        result.decision = PENDING_APPROVAL
        result.reasons.append(
            f"{version} is {version.state} with {len(approvals)} of the {required} approval(s) a {tier}-risk model "
            "needs."
        )
    if result.open_findings:
        result.decision = PENDING_APPROVAL
        result.reasons.append(_open_findings_reason(result))
    if result.decision == PASS:
        audit = (
            f"Audit run {result.run.pk} under '{result.policy_version.policy.name}' passed"
            if result.run
            else f"No audit is required for {tier}-risk models"
        )
        result.reasons = [audit, f"{version} is {version.state} with {len(approvals)} approval(s)"]


def _group_fact_reason(run: AuditRun | None, fact: dict[str, Any]) -> str:
    where = f"Audit run {run.pk}" if run is not None else "The audit"
    return f"{where}, {fact['check']}, group not judged ({fact['kind']}): {fact['reason'].rstrip('.')}."


def _open_findings_reason(result: GateDecision) -> str:
    return f"{len(result.open_findings)} open finding(s) on {result.version} need a decision first."


def _token(result: GateDecision, *, key: Any = None, key_published: bool = False) -> str:
    version, run = result.version, result.run
    dataset = "-"
    if run is not None:
        dataset_version = run.dataset_version
        dataset = f"{dataset_version.dataset.name}/v{dataset_version.number} {dataset_version.sha256 or '-'}"
    policy = "-"
    if result.policy_version is not None:
        pv = result.policy_version
        policy = f"{pv.policy.name}/v{pv.number} {pv.canonical_sha256}"
    return issue_gate_token(
        model=version.model.name,
        version=version.number,
        artifact_sha256=version.artifact_sha256 or "-",
        dataset=dataset,
        policy=policy,
        audit=f"{run.pk} {run.results_sha256 or '-'}" if run is not None else "-",
        environment=result.environment,
        approvers=tuple(str(a) for a in result.approvers),
        key=key,
        key_published=key_published,
    )


# Batched sequencing: answer once the decision is queued (True), or wait for its seq first (False: the dedicated
# sequencer's next batch, sequencer.wait_sequenced). Only benchmarks/bench_gate.py's "live-wait" arrangement sets
# False, to measure the alternative against the answer given (docs/performance.md).
ANSWER_WHEN_QUEUED = True


def _record(result: GateDecision, *, actor: Actor) -> GateDecision:
    with transaction.atomic():
        event = record_event(
            events.GATE_DECIDED,
            actor=actor,
            obj=result.version,
            payload={
                "model": result.version.model.name,
                "version": result.version.number,
                "artifact_sha256": result.version.artifact_sha256 or None,
                "environment": result.environment,
                "decision": result.decision,
                "policy": (
                    f"{result.policy_version.policy.name}/v{result.policy_version.number}"
                    if result.policy_version
                    else None
                ),
                "run": result.run.pk if result.run else None,
                "token_sha256": _sha256(result.token) if result.token else None,
            },
        )
    # The decision is durably recorded now: committed as a trail event (inline), or to the trail's queue (batched),
    # which the sequencer turns into the next leaves as they were validated here. Reading a queued event's seq would
    # sequence it in this request, under the trail's lock, which is what batched mode is for not doing: the answer
    # gives the queue id instead, and says the decision is not provable until it is sequenced (docs/gate.md).
    if ANSWER_WHEN_QUEUED and isinstance(event, PendingEvent) and not event.is_sequenced:
        result.queued = event.queued_id
    else:
        result.seq = event.seq
    return result


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
