"""Deciding on findings: who may resolve one, and the resolution (retrain, accept, or retire the version)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.access.models import User
from governance.data import events as data_events
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event
from registry.actions.common import RegistryError, _ref, _refuse, _require_scope, _team_refusal
from registry.actions.lifecycle import do_retire, retire_refusal
from registry.models import Finding, FindingResolution, FindingStatus, ModelVersion, VersionState


def resolve_refusal(user: User, finding: Finding) -> RegistryError | None:
    """Why ``user`` may not resolve ``finding`` now (role, team, separation of duties, already resolved), or None."""
    version = finding.version
    try:
        _require_scope(user, "findings:resolve", "resolve findings")
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


def do_resolve_finding(*, finding: Finding, user: User, actor: Actor, resolution: str, reason: str) -> Finding:
    """Resolve an open finding on a version: retrain, accept (reason recorded) or retire the version (a deployed
    version is retired everywhere, by an officer). Reviewers of the model's team and officers resolve findings;
    never someone who registered or submitted the version (separation of duties)."""
    _require_scope(user, "findings:resolve", "resolve findings")
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
