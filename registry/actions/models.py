"""Registering models and changing their risk classification (by an officer, or re-classified by the rules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from governance.access.models import Team, User
from governance.data import events as data_events
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event
from registry import events, risk
from registry.actions.common import (
    DESCRIPTIVE_FIELDS,
    RegistryError,
    _in_team,
    _ref,
    _require_scope,
    _transition_event,
)
from registry.models import Decision, Finding, FindingStatus, ModelVersion, RegisteredModel, VersionState


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
    _require_scope(user, "models:write", "register models")
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
    _require_scope(user, "models:write", "edit models")
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
    _require_scope(user, "models:classify", "change a risk classification")
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
