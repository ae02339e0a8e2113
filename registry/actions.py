"""Registry actions: every change to a model or version, with its rules, in one transaction with its event.

The lifecycle is an explicit state machine (``TRANSITIONS``). Separation of duties lives here, not in the views,
so the API, the portal, the admin and management commands all obey it:

- only the owning team (owners) or a pipeline (CI) registers and submits versions;
- nobody approves or rejects a version they registered or submitted;
- approvals come from reviewers (of the model's team) or officers, each person once;
- high-risk models need two distinct approvers;
- only officers and admins deploy and retire, and only approved versions of non-prohibited models, when every
  registered deployment check (the audit engine's) passes.

Each transition locks the version row first and re-reads its state, so two concurrent transitions cannot both
succeed from the same state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from governance.access.actions import ActionError, require_role
from governance.access.models import Team, User
from governance.access.roles import Role
from governance.data import events as data_events
from governance.data.actions import DataError, link_training_run, training_datasets_of
from governance.storage import store_by_hash
from governance.trail.events import EventType
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event
from registry import events, risk
from registry.hooks import deployment_blockers
from registry.models import (
    MODEL_CARD_SECTIONS,
    Decision,
    Deployment,
    Environment,
    Finding,
    FindingResolution,
    FindingStatus,
    Framework,
    ModelVersion,
    RegisteredModel,
    Review,
    VersionState,
    Webhook,
)
from registry.webhooks import WebhookURLError, check_url, queue_deliveries


class RegistryError(ActionError):
    """A refused registry action (409 by default: the request conflicts with the version's state)."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 409) -> None:
        super().__init__(message, code=code, status=status)


# state -> transition -> target state. Anything not listed is an illegal transition.
TRANSITIONS: dict[str, dict[str, str]] = {
    VersionState.DRAFT: {"submit": VersionState.SUBMITTED},
    VersionState.SUBMITTED: {"approve": VersionState.APPROVED, "reject": VersionState.REJECTED},
    VersionState.APPROVED: {"deploy": VersionState.DEPLOYED},
    VersionState.REJECTED: {},
    VersionState.DEPLOYED: {"deploy": VersionState.DEPLOYED, "retire": VersionState.RETIRED},
    VersionState.RETIRED: {},
}

# Administrators run the system; they neither register, submit nor approve models (separation of duties).
SUBMITTERS = frozenset({Role.OWNER, Role.CI})
APPROVERS = frozenset({Role.REVIEWER, Role.OFFICER})
DEPLOYERS = frozenset({Role.OFFICER, Role.ADMIN})
EDITABLE_CARD_STATES = frozenset({VersionState.DRAFT, VersionState.SUBMITTED})
DESCRIPTIVE_FIELDS = ("purpose", "intended_use", "out_of_scope_uses", "business_kpis")


def _check_transition(version: ModelVersion, transition: str) -> str:
    target = TRANSITIONS[version.state].get(transition)
    if target is None:
        allowed = ", ".join(TRANSITIONS[version.state]) or "none: this state is final"
        raise RegistryError(
            f"Cannot {transition} {version}: it is {version.state}. Allowed from {version.state}: {allowed}.",
            code="illegal_transition",
        )
    return target


def _in_team(user: User, model: RegisteredModel) -> bool:
    return user.is_organisation_wide or model.team_id in user.team_ids()


def _require_role(user: User, roles: frozenset[str], what: str) -> None:
    require_role(user, roles, what, error=RegistryError)


def _locked(version: ModelVersion) -> ModelVersion:
    # Re-read under a row lock (PostgreSQL) / the write lock (SQLite): the state we check is the state we change.
    return ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)


def _transition_event(event_type: EventType, *, actor: Actor, obj: ModelVersion, payload: dict[str, Any]) -> None:
    """Record a lifecycle event and queue its webhook notifications, in the caller's transaction."""
    event = record_event(event_type, actor=actor, obj=obj, payload=payload)
    queue_deliveries(event, model_id=obj.model_id)


def _ref(version: ModelVersion) -> dict[str, Any]:
    return {"model": version.model.name, "version": version.number}


# --- models ----------------------------------------------------------------------------------------------------


def _classify(risk_answers: Mapping[str, Any]) -> risk.Classification:
    try:
        return risk.classify(risk_answers)
    except risk.QuestionnaireError as exc:
        raise RegistryError(
            f"The risk questionnaire is incomplete: {exc}", code="invalid_risk_answers", status=422
        ) from None


def do_register_model(
    *,
    user: User,
    actor: Actor,
    name: str,
    team: Team,
    purpose: str,
    risk_answers: Mapping[str, Any],
    intended_use: str = "",
    out_of_scope_uses: str = "",
    business_kpis: Sequence[str] = (),
) -> RegisteredModel:
    """Register a model for one of the user's teams, classified from the risk questionnaire."""
    _require_role(user, SUBMITTERS, "register models")
    if not (user.is_organisation_wide or team.pk in user.team_ids()):
        raise RegistryError(f"You are not in team '{team.slug}'.", code="not_in_team", status=403)
    classification = _classify(risk_answers)
    with transaction.atomic():
        # Model names are global (they are URLs); a name taken by another team is reported as taken, which is
        # the one thing about that model a caller learns.
        if RegisteredModel.objects.filter(name=name).exists():
            raise RegistryError(f"A model named '{name}' already exists.", code="duplicate")
        try:
            with transaction.atomic():  # a concurrent registration of the same name loses cleanly
                model = RegisteredModel.objects.create(
                    name=name,
                    team=team,
                    purpose=purpose,
                    intended_use=intended_use,
                    out_of_scope_uses=out_of_scope_uses,
                    business_kpis=list(business_kpis),
                    risk_tier=classification.tier,
                    risk_answers=classification.answers,
                    risk_rationale=classification.rationale,
                    risk_basis=classification.basis(),
                    created_by=user,
                )
        except IntegrityError:
            raise RegistryError(f"A model named '{name}' already exists.", code="duplicate") from None
        record_event(
            events.MODEL_REGISTERED,
            actor=actor,
            obj=model,
            payload={"name": name, "team": team.slug, "risk_tier": classification.tier},
        )
    return model


def do_update_model(*, model: RegisteredModel, user: User, actor: Actor, changes: Mapping[str, Any]) -> RegisteredModel:
    """Change a model's descriptive fields (not its name, team or risk tier)."""
    _require_role(user, SUBMITTERS, "edit models")
    if not _in_team(user, model):
        raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
    unknown = set(changes) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise RegistryError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.", status=422)
    with transaction.atomic():
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        changed = sorted(k for k, v in changes.items() if getattr(locked, k) != v)
        for key in changed:
            setattr(locked, key, changes[key])
        if changed:
            locked.save(update_fields=changed)
            record_event(
                events.MODEL_UPDATED, actor=actor, obj=locked, payload={"name": locked.name, "changed": changed}
            )
    return locked


def _return_to_review(model: RegisteredModel, *, actor: Actor) -> None:
    """Approved (not yet deployed) versions whose approvals no longer meet the model's tier go back to review.

    Their approvals are kept; the missing approvers complete them through the usual approve action.
    """
    required = risk.required_approvals(model.risk_tier)
    for version in ModelVersion.objects.select_for_update().filter(model=model, state=VersionState.APPROVED):
        approvals = version.reviews.filter(decision=Decision.APPROVE).count()
        if approvals < required:
            version.state = VersionState.SUBMITTED
            version.save(update_fields=["state"])
            _transition_event(
                events.VERSION_RETURNED_TO_REVIEW,
                actor=actor,
                obj=version,
                payload={**_ref(version), "approvals": approvals, "required_approvals": required},
            )


def do_change_risk(
    *, model: RegisteredModel, user: User, actor: Actor, risk_answers: Mapping[str, Any], reason: str
) -> RegisteredModel:
    """Re-classify a model from new questionnaire answers; officers only, and always with a reason."""
    _require_role(user, frozenset({Role.OFFICER}), "change a risk classification")
    if not reason.strip():
        raise RegistryError("Changing a risk classification needs a reason.", code="reason_required", status=422)
    classification = _classify(risk_answers)
    with transaction.atomic():
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        old = locked.risk_tier
        _store_classification(locked, classification, reason=reason, actor=actor, old_tier=old)
    return locked


def _store_classification(
    locked: RegisteredModel, classification: risk.Classification, *, reason: str, actor: Actor, old_tier: str
) -> None:
    """Inside the caller's transaction: the new tier, answers, rationale and basis, with the trail event."""
    locked.risk_tier = classification.tier
    locked.risk_answers = classification.answers
    locked.risk_rationale = classification.rationale
    locked.risk_basis = classification.basis()
    locked.risk_change_reason = reason
    locked.save(update_fields=["risk_tier", "risk_answers", "risk_rationale", "risk_basis", "risk_change_reason"])
    _return_to_review(locked, actor=actor)
    record_event(
        events.MODEL_RISK_CHANGED,
        actor=actor,
        obj=locked,
        payload={
            "name": locked.name,
            "old_tier": old_tier,
            "new_tier": classification.tier,
            "answers": classification.answers,
            "reason_sha256": text_commitment(reason),
            "text_version": classification.text_version,
        },
    )


RISK_RECLASSIFIED = "risk_reclassified"  # the kind of finding a re-classification by the rules opens


def do_reclassify_stored_risk(*, model: RegisteredModel, actor: Actor, reason: str) -> RegisteredModel:
    """Re-classify a model from its stored answers under the current rules and text of the Act (run by a
    migration or a command, not by a person). Where the tier changes, a finding opens on each version that is not
    retired or rejected, for an officer to confirm or correct the answers (do_change_risk)."""
    classification = _classify(model.risk_answers)
    with transaction.atomic():
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        old = locked.risk_tier
        _store_classification(locked, classification, reason=reason, actor=actor, old_tier=old)
        if classification.tier != old:
            versions = ModelVersion.objects.filter(model=locked).exclude(
                state__in=[VersionState.RETIRED, VersionState.REJECTED]
            )
            for version in versions:
                _open_reclassification_finding(version, old_tier=old, classification=classification, actor=actor)
    return locked


def _open_reclassification_finding(
    version: ModelVersion, *, old_tier: str, classification: risk.Classification, actor: Actor
) -> None:
    cause = f"{RISK_RECLASSIFIED}:{old_tier}->{classification.tier}"
    if Finding.objects.filter(version=version, cause=cause, status=FindingStatus.OPEN).exists():
        return
    finding = Finding.objects.create(
        version=version,
        kind=RISK_RECLASSIFIED,
        cause=cause,
        title=f"Risk tier changed from {old_tier} to {classification.tier} when re-classified under the EU AI Act "
        "as written: an officer confirms the answers or corrects them",
        details={
            "old_tier": old_tier,
            "new_tier": classification.tier,
            "rationale": classification.rationale,
            "text_version": classification.text_version,
        },
    )
    record_event(
        data_events.FINDING_OPENED,
        actor=actor,
        obj=finding,
        payload={**_ref(version), "finding": finding.pk, "kind": RISK_RECLASSIFIED, "cause": cause},
    )


# --- versions ----------------------------------------------------------------------------------------------------


def store_artifact(path: Path, *, sha256: str, framework: str) -> str:
    """Save an inspected artifact under a content-addressed name; returns the storage name.

    Runs before the version's transaction: if that transaction fails, an unreferenced file is left behind,
    never a version whose file is missing. Identical bytes share one stored file.
    """
    suffix = ".onnx" if framework == Framework.ONNX else ".skops"
    return store_by_hash(path, folder="artifacts", sha256=sha256, suffix=suffix)


def do_register_version(
    *,
    model: RegisteredModel,
    user: User,
    actor: Actor,
    artifact_path: Path | None = None,
    artifact_name: str = "",
    hyperparameters: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    code_repository: str = "",
    code_commit: str = "",
    training_datasets: Sequence[Any] = (),
    model_card: Mapping[str, str] | None = None,
    input_schema: Sequence[Mapping[str, Any]] | None = None,
) -> ModelVersion:
    """Register the next version of ``model``: an inspected ONNX/skops artifact, or predictions only (no path)."""
    from registry.artifacts import ArtifactError, inspect_artifact

    _require_role(user, SUBMITTERS, "register versions")
    if not _in_team(user, model):
        raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
    card = _clean_card(model_card or {})
    training = _training_datasets(user, training_datasets)
    framework: str = Framework.PREDICTIONS
    stored, inspected = "", None
    if artifact_path is not None:
        try:
            inspected = inspect_artifact(
                artifact_path, filename=artifact_name or artifact_path.name, max_bytes=settings.ARTIFACT_MAX_BYTES
            )
        except ArtifactError as exc:
            raise RegistryError(str(exc), code=exc.code, status=413 if exc.code == "too_large" else 422) from None
        framework = inspected.framework
        stored = store_artifact(artifact_path, sha256=inspected.sha256, framework=framework)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)  # serialise numbering per model
        number = (ModelVersion.objects.filter(model=model).aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            framework=framework,
            artifact=stored,
            artifact_name=artifact_name[:255],
            artifact_sha256=inspected.sha256 if inspected else "",
            artifact_size=inspected.size if inspected else None,
            artifact_details=inspected.details if inspected else {},
            input_schema=inspected.input_schema if inspected else list(input_schema or []),
            output_schema=inspected.output_schema if inspected else [],
            hyperparameters=dict(hyperparameters or {}),
            metrics=dict(metrics or {}),
            code_repository=code_repository,
            code_commit=code_commit,
            training_datasets=[{"dataset": v.dataset.name, "version": v.number} for v in training],
            model_card=card,
            created_by=user,
        )
        record_event(
            events.VERSION_REGISTERED,
            actor=actor,
            obj=version,
            payload={
                **_ref(version),
                "framework": framework,
                "artifact_sha256": version.artifact_sha256 or None,
                "artifact_size": version.artifact_size,
            },
        )
        link_training_run(model_version=version, user=user, actor=actor, datasets=training)
        # Findings resolved by "retrain" are linked to the version that replaces theirs (monitoring decisions).
        from registry.monitoring.actions import link_retrained

        link_retrained(version, actor=actor)
    return version


def _training_datasets(user: User, references: Sequence[Any]) -> list[Any]:
    """The dataset versions a new version was trained on, resolved (and access-checked) before anything is written."""
    try:
        return training_datasets_of(user, references)
    except DataError as exc:
        raise RegistryError(str(exc), code="invalid_training_datasets", status=422) from None


def _clean_card(card: Mapping[str, Any]) -> dict[str, str]:
    unknown = set(card) - set(MODEL_CARD_SECTIONS)
    if unknown:
        raise RegistryError(
            f"Unknown model card sections: {', '.join(sorted(unknown))}. Sections: {', '.join(MODEL_CARD_SECTIONS)}.",
            code="invalid_model_card",
            status=422,
        )
    not_text = sorted(k for k, v in card.items() if not isinstance(v, str))
    if not_text:
        raise RegistryError(f"Model card sections must be text: {', '.join(not_text)}.", status=422)
    return {key: card[key] for key in MODEL_CARD_SECTIONS if key in card}


def do_edit_model_card(*, version: ModelVersion, user: User, actor: Actor, card: Mapping[str, Any]) -> ModelVersion:
    """Replace sections of a version's model card while it is a draft or under review."""
    _require_role(user, SUBMITTERS, "edit model cards")
    cleaned = _clean_card(card)
    with transaction.atomic():
        locked = _locked(version)
        _refuse(card_refusal(user, locked))
        sections = sorted(k for k, v in cleaned.items() if locked.model_card.get(k) != v)
        if sections:
            locked.model_card = {**locked.model_card, **cleaned}
            locked.save(update_fields=["model_card"])
            digest = hashlib.sha256(json.dumps(locked.model_card, sort_keys=True).encode()).hexdigest()
            record_event(
                events.MODEL_CARD_EDITED,
                actor=actor,
                obj=locked,
                payload={**_ref(locked), "sections": sections, "card_sha256": digest},
            )
    return locked


# --- why a step is refused -------------------------------------------------------------------------------------
# Each returns the refusal its action raises (message, code and status), or None when the action would go ahead.
# The actions raise exactly these, so what the portal says beside a missing button is the action's own rule in the
# action's own words. Read-only: call them on a locked row inside the action, or on a fresh one to explain a page.


def _team_refusal(user: User, model: RegisteredModel, message: str = "You are not in this model's team.") -> None:
    if not _in_team(user, model):
        raise RegistryError(message, code="not_in_team", status=403)


def submit_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not submit ``version`` for review now (role, team, state, a prohibited tier), or None."""
    try:
        _require_role(user, SUBMITTERS, "submit versions")
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
        _require_role(user, DEPLOYERS, "deploy versions")
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
        _require_role(user, DEPLOYERS, "retire versions")
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


def card_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not edit ``version``'s model card now (role, team, state, a review already made), or None."""
    try:
        _require_role(user, SUBMITTERS, "edit model cards")
        _team_refusal(user, version.model)
    except RegistryError as exc:
        return exc
    if version.state not in EDITABLE_CARD_STATES:
        return RegistryError(
            f"The model card of {version} can no longer change: it is {version.state} (editable while draft or "
            "submitted).",
            code="illegal_transition",
        )
    if version.reviews.exists():
        # An approval applies to the card as it was read; changing it afterwards would let two approvers
        # approve two different cards.
        return RegistryError(
            f"The model card of {version} is frozen: a reviewer has already decided on it.", code="card_frozen"
        )
    return None


def resolve_refusal(user: User, finding: Finding) -> RegistryError | None:
    """Why ``user`` may not resolve ``finding`` now (role, team, separation of duties, already resolved), or None."""
    version = finding.version
    try:
        _require_role(user, APPROVERS, "resolve findings")
        _team_refusal(user, version.model, "You are not a reviewer of this model's team.")
    except RegistryError as exc:
        return exc
    if user.pk in (version.submitted_by_id, version.created_by_id):
        return RegistryError(
            "You registered or submitted this version, so you cannot resolve its findings (separation of duties).",
            code="self_review",
            status=403,
        )
    if finding.status != FindingStatus.OPEN:
        return RegistryError(f"Finding {finding.pk} is already resolved ({finding.resolution}).", code="resolved")
    return None


def retire_resolution_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not resolve a finding on ``version`` by retiring it (the version is not deployed, or
    retiring is not theirs to do), or None. The other resolutions need only ``resolve_refusal``."""
    if version.state != VersionState.DEPLOYED:
        return RegistryError(
            f"{version} is {version.state}, not deployed, so there is nothing to retire: accept or retrain "
            "(or reject it in review).",
            code="not_deployed",
        )
    return retire_refusal(user, version)


def _refuse(refusal: RegistryError | None) -> None:
    if refusal is not None:
        raise refusal


# --- the lifecycle -------------------------------------------------------------------------------------------------


def do_submit(*, version: ModelVersion, user: User, actor: Actor, reason: str = "") -> ModelVersion:
    """Submit a draft for review (owning team or CI)."""
    _require_role(user, SUBMITTERS, "submit versions")
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
    _require_role(user, APPROVERS, "approve or reject versions")
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


def do_approve(*, version: ModelVersion, user: User, actor: Actor, reason: str = "") -> ModelVersion:
    """Record an approval; the version is approved once enough distinct reviewers have approved it."""
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
    _require_role(user, DEPLOYERS, "deploy versions")
    if environment not in Environment.values:
        raise RegistryError(f"Unknown environment '{environment}'; use {', '.join(Environment.values)}.", status=422)
    if settings.GATE_REQUIRE_TOKEN_FOR_DEPLOY:
        from registry.hooks import DEPLOY_TOKEN_CHECKS

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
    _require_role(user, DEPLOYERS, "retire versions")
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


# --- findings ------------------------------------------------------------------------------------------------------


def do_resolve_finding(*, finding: Finding, user: User, actor: Actor, resolution: str, reason: str) -> Finding:
    """Resolve an open finding on a version: retrain, accept (reason recorded) or retire the version (a deployed
    version is retired everywhere, by an officer). Reviewers of the model's team and officers resolve findings;
    never someone who registered or submitted the version (separation of duties)."""
    _require_role(user, APPROVERS, "resolve findings")
    if resolution not in FindingResolution.values:
        raise RegistryError(
            f"resolution must be one of {', '.join(FindingResolution.values)}.", code="validation_failed", status=422
        )
    if not reason.strip():
        raise RegistryError("Resolving a finding needs a reason.", code="reason_required", status=422)
    with transaction.atomic():
        locked = Finding.objects.select_for_update().select_related("version__model").get(pk=finding.pk)
        version = locked.version
        _refuse(resolve_refusal(user, locked))
        if resolution == FindingResolution.RETIRE:
            _refuse(retire_resolution_refusal(user, version))
            do_retire(version=version, user=user, actor=actor, reason=reason)
        locked.status = FindingStatus.RESOLVED
        locked.resolution = resolution
        locked.resolution_reason = reason
        locked.resolved_by = user
        locked.resolved_at = timezone.now()
        locked.save()
        record_event(
            data_events.FINDING_RESOLVED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(version),
                "finding": locked.pk,
                "resolution": resolution,
                "reason_sha256": text_commitment(reason),
            },
        )
    return locked


# --- webhooks ------------------------------------------------------------------------------------------------------


def do_add_webhook(*, model: RegisteredModel, user: User, actor: Actor, url: str) -> tuple[Webhook, str]:
    """Register a webhook for a model's transitions; returns it with its signing secret (shown once)."""
    import secrets

    _require_role(user, SUBMITTERS | {Role.OFFICER}, "add webhooks")
    if not _in_team(user, model):
        raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
    try:
        check_url(url)
    except WebhookURLError as exc:
        raise RegistryError(str(exc), code="invalid_webhook_url", status=422) from None
    secret = secrets.token_hex(32)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        if Webhook.objects.filter(model=model, active=True).count() >= settings.WEBHOOK_MAX_PER_MODEL:
            # Each webhook is called on every transition: a bounded number keeps transitions prompt.
            raise RegistryError(
                f"A model can have at most {settings.WEBHOOK_MAX_PER_MODEL} active webhooks.", code="too_many_webhooks"
            )
        webhook = Webhook.objects.create(model=model, url=url, secret=secret, created_by=user)
        # The host only: a URL may carry credentials in its path or query.
        record_event(events.WEBHOOK_ADDED, actor=actor, obj=webhook, payload={"model": model.name, "host": _host(url)})
    return webhook, secret


def do_remove_webhook(*, webhook: Webhook, user: User, actor: Actor) -> Webhook:
    """Stop notifying a webhook (kept, with its deliveries, for the record)."""
    _require_role(user, SUBMITTERS | {Role.OFFICER}, "remove webhooks")
    with transaction.atomic():
        locked = Webhook.objects.select_for_update().select_related("model").get(pk=webhook.pk)
        if not _in_team(user, locked.model):
            raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
        if not locked.active:
            raise RegistryError("This webhook is already removed.", code="already_removed")
        locked.active = False
        locked.save(update_fields=["active"])
        record_event(
            events.WEBHOOK_REMOVED,
            actor=actor,
            obj=locked,
            payload={"model": locked.model.name, "host": _host(locked.url)},
        )
    return locked


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""
