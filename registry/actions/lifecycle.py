"""The version lifecycle: submit, approve, reject, deploy and retire, and why each step is refused.

Each transition locks the version row first and re-reads its state, so two concurrent transitions cannot both
succeed from the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access.models import User
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor
from registry import events, risk
from registry.actions.common import (
    TRANSITIONS,
    RegistryError,
    _check_transition,
    _in_team,
    _locked,
    _ref,
    _refuse,
    _require_scope,
    _team_refusal,
    _transition_event,
)
from registry.hooks import DEPLOY_TOKEN_CHECKS, deployment_blockers
from registry.models import Decision, Deployment, Environment, ModelVersion, Review, VersionState

# --- why a step is refused -------------------------------------------------------------------------------------
# Each returns the refusal its action raises (message, code and status), or None when the action would go ahead.
# The actions raise exactly these, so what the portal says beside a missing button is the action's own rule in the
# action's own words. Read-only: call them on a locked row inside the action, or on a fresh one to explain a page.


def submit_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not submit ``version`` for review now (role, team, state, a prohibited tier), or None."""
    try:
        _require_scope(user, "models:write", "submit versions")
        _team_refusal(user, version.model)
        _check_transition(version, "submit")
    except RegistryError as exc:
        return exc
    if version.model.risk_tier == "prohibited":
        return RegistryError(
            f"{version.model.name} is classified as a prohibited practice (EU AI Act Art. 5): it cannot be "
            "submitted for deployment.",
            code="prohibited",
        )
    return None


def approval_refusal(user: User, version: ModelVersion, *, transition: str = "approve") -> RegistryError | None:
    """Why ``user`` may not approve (or, with ``transition="reject"``, reject) ``version`` now: its state, the
    reviewer's role and team, separation of duties, a second review by the same person. None when they may."""
    try:
        _check_transition(version, transition)
        _check_reviewer(version, user)
    except RegistryError as exc:
        return exc
    return None


def deploy_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not deploy ``version`` now (role, state, tier, approvals, the deployment checks), or None.

    What depends on the request (the environment, the gate token, what is live there) the action checks itself."""
    try:
        _require_scope(user, "models:deploy", "deploy versions")
        _check_transition(version, "deploy")
    except RegistryError as exc:
        return exc
    if version.model.risk_tier == "prohibited":
        return RegistryError("A prohibited-practice model can never be deployed.", code="prohibited")
    # The tier may have been raised since approval: the approvals must satisfy the tier as it is now.
    required = risk.required_approvals(version.model.risk_tier)
    approvals = Review.objects.filter(version=version, decision=Decision.APPROVE).count()
    if approvals < required:
        return RegistryError(
            f"{version} has {approvals} approval(s) but a {version.model.risk_tier}-risk model needs {required} "
            "distinct approvers; resubmit it for review.",
            code="approvals_missing",
        )
    blockers = deployment_blockers(version)
    if blockers:
        return RegistryError("Deployment blocked: " + " ".join(blockers), code="deployment_blocked")
    return None


def retire_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not retire ``version`` now (role, state), or None."""
    try:
        _require_scope(user, "models:deploy", "retire versions")
        _check_transition(version, "retire")
    except RegistryError as exc:
        return exc
    return None


def transition_refusal(user: User, version: ModelVersion, action: str) -> RegistryError | None:
    """Why ``user`` may not take lifecycle step ``action`` (submit, approve, reject, deploy, retire) now, or None."""
    if action == "submit":
        return submit_refusal(user, version)
    if action in ("approve", "reject"):
        return approval_refusal(user, version, transition=action)
    if action == "deploy":
        return deploy_refusal(user, version)
    if action == "retire":
        return retire_refusal(user, version)
    raise ValueError(f"unknown lifecycle step {action!r}")


def do_submit(*, version: ModelVersion, user: User, actor: Actor, reason: str = "") -> ModelVersion:
    """Submit a draft for review (owning team or CI)."""
    _require_scope(user, "models:write", "submit versions")
    with transaction.atomic():
        locked = _locked(version)
        _refuse(submit_refusal(user, locked))
        target = TRANSITIONS[locked.state]["submit"]
        locked.state = target
        locked.submitted_by = user
        locked.submitted_at = timezone.now()
        locked.submit_reason = reason
        locked.save(update_fields=["state", "submitted_by", "submitted_at", "submit_reason"])
        _transition_event(
            events.VERSION_SUBMITTED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(locked),
                "required_approvals": risk.required_approvals(locked.model.risk_tier),
                "reason_sha256": text_commitment(reason),
            },
        )
    return locked


def _check_reviewer(version: ModelVersion, user: User) -> None:
    _require_scope(user, "models:approve", "approve or reject versions")
    if not _in_team(user, version.model):
        raise RegistryError("You are not a reviewer of this model's team.", code="not_in_team", status=403)
    if user.pk in (version.submitted_by_id, version.created_by_id):
        raise RegistryError(
            "You registered or submitted this version, so you cannot review it (separation of duties).",
            code="self_review",
            status=403,
        )
    if Review.objects.filter(version=version, reviewer=user).exists():
        raise RegistryError(
            "You have already reviewed this version; a second approval must come from someone else.",
            code="duplicate_review",
        )


def do_approve(
    *, version: ModelVersion, user: User, actor: Actor, reason: str = "", overrides: Mapping[str, Any] | None = None
) -> ModelVersion:
    """Record an approval; the version is approved once enough distinct reviewers have approved it.

    ``overrides``: the evidence against the version the reviewer acknowledged approving over (failing or missing
    audits, open findings, the gate's refusals, as the portal showed them); recorded in the event, with a reason."""
    if overrides and not reason.strip():
        raise RegistryError(
            "Approving over failing or missing evidence needs a reason.", code="reason_required", status=422
        )
    with transaction.atomic():
        locked = _locked(version)
        _refuse(approval_refusal(user, locked))
        target = TRANSITIONS[locked.state]["approve"]
        try:
            with transaction.atomic():
                Review.objects.create(version=locked, reviewer=user, decision=Decision.APPROVE, reason=reason)
        except IntegrityError:
            raise RegistryError("You have already reviewed this version.", code="duplicate_review") from None
        approvers = list(
            Review.objects.filter(version=locked, decision=Decision.APPROVE)
            .order_by("decided_at")
            .values_list("reviewer_id", flat=True)
        )
        required = risk.required_approvals(locked.model.risk_tier)
        _transition_event(
            events.VERSION_APPROVAL_ADDED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(locked),
                "approvals": len(approvers),
                "required_approvals": required,
                "reason_sha256": text_commitment(reason),
                **({"overrides": dict(overrides)} if overrides else {}),
            },
        )
        if len(approvers) >= required:
            locked.state = target
            locked.save(update_fields=["state"])
            _transition_event(
                events.VERSION_APPROVED, actor=actor, obj=locked, payload={**_ref(locked), "approvers": approvers}
            )
    return locked


def do_reject(*, version: ModelVersion, user: User, actor: Actor, reason: str) -> ModelVersion:
    """Reject a submitted version; a reason is required."""
    if not reason.strip():
        raise RegistryError("A rejection needs a reason.", code="reason_required", status=422)
    with transaction.atomic():
        locked = _locked(version)
        _refuse(approval_refusal(user, locked, transition="reject"))
        target = TRANSITIONS[locked.state]["reject"]
        Review.objects.create(version=locked, reviewer=user, decision=Decision.REJECT, reason=reason)
        locked.state = target
        locked.save(update_fields=["state"])
        _transition_event(
            events.VERSION_REJECTED,
            actor=actor,
            obj=locked,
            payload={**_ref(locked), "reason_sha256": text_commitment(reason)},
        )
    return locked


def _retire_deployment(
    deployment: Deployment, *, user: User, actor: Actor, reason: str, replaced_by: int | None
) -> None:
    deployment.retired_at = timezone.now()
    deployment.retired_by = user
    deployment.retire_reason = reason
    deployment.save(update_fields=["retired_at", "retired_by", "retire_reason"])
    old = deployment.version
    if not old.deployments.filter(retired_at__isnull=True).exists():
        old.state = VersionState.RETIRED
        old.save(update_fields=["state"])
    _transition_event(
        events.VERSION_RETIRED,
        actor=actor,
        obj=old,
        payload={
            **_ref(old),
            "environment": deployment.environment,
            "replaced_by": replaced_by,
            "reason_sha256": text_commitment(reason),
        },
    )


def do_deploy(
    *, version: ModelVersion, user: User, actor: Actor, environment: str, reason: str = "", gate_token: str = ""
) -> Deployment:
    """Put an approved version live in ``environment``, retiring the version live there, in one transaction.

    With ``GATE_REQUIRE_TOKEN_FOR_DEPLOY`` on, ``gate_token`` must be a valid pass token of the approval gate for
    this version's artifact and this environment."""
    _require_scope(user, "models:deploy", "deploy versions")
    if environment not in Environment.values:
        raise RegistryError(f"Unknown environment '{environment}'; use {', '.join(Environment.values)}.", status=422)
    if settings.GATE_REQUIRE_TOKEN_FOR_DEPLOY:
        if not gate_token:
            raise RegistryError(
                "Deployments need the approval gate's pass token (gate_token): ask POST /api/v1/gates/check first.",
                code="gate_token_required",
                status=422,
            )
        refusals = [why for check in DEPLOY_TOKEN_CHECKS if (why := check(version, environment, gate_token))]
        if refusals or not DEPLOY_TOKEN_CHECKS:
            raise RegistryError(
                "The gate token does not allow this deployment: " + (" ".join(refusals) or "no verifier is installed."),
                code="gate_token_invalid",
                status=422,
            )
    with transaction.atomic():
        locked = _locked(version)
        _refuse(deploy_refusal(user, locked))
        live = (
            Deployment.objects.select_for_update()
            .select_related("version", "version__model")
            .filter(model=locked.model, environment=environment, retired_at__isnull=True)
            .first()
        )
        if live is not None and live.version_id == locked.pk:
            raise RegistryError(f"{locked} is already live in {environment}.", code="already_deployed")
        if live is not None:
            _retire_deployment(
                live, user=user, actor=actor, reason=f"replaced by v{locked.number}", replaced_by=locked.number
            )
        try:
            with transaction.atomic():
                deployment = Deployment.objects.create(
                    model=locked.model, version=locked, environment=environment, deployed_by=user, reason=reason
                )
        except IntegrityError:
            raise RegistryError(
                f"Another deployment to {environment} happened at the same time; retry.", code="concurrent_deploy"
            ) from None
        locked.state = VersionState.DEPLOYED
        locked.save(update_fields=["state"])
        _transition_event(
            events.VERSION_DEPLOYED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(locked),
                "environment": environment,
                "artifact_sha256": locked.artifact_sha256 or None,
                "replaced_version": live.version.number if live else None,
                "reason_sha256": text_commitment(reason),
            },
        )
    return deployment


def do_retire(
    *, version: ModelVersion, user: User, actor: Actor, reason: str, environment: str | None = None
) -> ModelVersion:
    """Take a deployed version out of one environment (or all); a reason is required."""
    _require_scope(user, "models:deploy", "retire versions")
    if not reason.strip():
        raise RegistryError("Retiring a version needs a reason.", code="reason_required", status=422)
    with transaction.atomic():
        locked = _locked(version)
        _refuse(retire_refusal(user, locked))
        live = Deployment.objects.select_for_update().filter(version=locked, retired_at__isnull=True)
        if environment is not None:
            live = live.filter(environment=environment)
        deployments = list(live.select_related("version", "version__model"))
        if not deployments:
            where = f"in {environment}" if environment else "anywhere"
            raise RegistryError(f"{locked} is not live {where}.", code="not_deployed")
        for deployment in deployments:
            _retire_deployment(deployment, user=user, actor=actor, reason=reason, replaced_by=None)
        locked.refresh_from_db(fields=["state"])
    return locked
