"""What every monitoring action shares: the refusal type, who may send data, the version's configuration and
policy, and opening (or adding to) a finding with its trail event."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from audits.policies.store import PolicyNotFound, resolve
from governance.access.actions import ActionError, require_scope
from governance.access.models import User
from governance.access.roles import roles_with_scope
from governance.data import events as data_events
from governance.data.models import DatasetVersion
from governance.storage import local_path
from governance.trail.log import Actor, record_event
from registry.models import (
    Finding,
    FindingStatus,
    ModelVersion,
    MonitorConfig,
)

logger = logging.getLogger("assay.monitoring")

# Sending data and configuring monitoring is writing to a model: the role-to-scope table's models:write.
WRITERS = roles_with_scope("models:write")
ERROR_KIND, UNDEPLOYED_KIND = "monitoring_error", "monitoring_undeployed"


class MonitoringError(ActionError):
    """A refused monitoring action (422 by default)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _ref(version: ModelVersion) -> dict[str, Any]:
    return {"model": version.model.name, "version": version.number}


def _require_writer(user: User, version: ModelVersion, what: str) -> None:
    require_scope(user, "models:write", what, error=MonitoringError)
    if not (user.is_organisation_wide or version.model.team_id in user.team_ids()):
        raise MonitoringError("You are not in this model's team.", code="not_in_team", status=403)


def _stored_path(dataset_version: DatasetVersion) -> Path:
    if not dataset_version.file:
        raise MonitoringError(f"{dataset_version} is registered by external URI; Assay cannot read it.")
    return local_path(str(dataset_version.file.name), sha256=dataset_version.sha256)


def _config(version: ModelVersion) -> MonitorConfig:
    config = MonitorConfig.objects.filter(version=version).select_related("reference", "batches_dataset").first()
    if config is None:
        raise MonitoringError(
            f"{version} has no monitoring configuration: PUT .../monitoring first (reference and column roles).",
            code="not_configured",
            status=409,
        )
    return config


def _policy_document(name: str) -> Any:
    try:
        return resolve(name)  # a built-in not stored yet is stored
    except PolicyNotFound as exc:
        raise MonitoringError(str(exc), field="policy") from None


def _open_finding(
    version: ModelVersion, *, kind: str, cause: str, title: str, details: dict[str, Any], actor: Actor
) -> tuple[Finding, bool]:
    """The open finding for ``cause`` (adding this batch to it), or a new one with its ``finding.opened`` event."""
    existing = Finding.objects.select_for_update().filter(version=version, cause=cause, status=FindingStatus.OPEN)
    found = existing.first()
    if found is not None:
        batches = sorted(set(found.details.get("batches", [])) | set(details.get("batches", [])))
        found.details = {**found.details, "batches": batches, "latest": details.get("latest")}
        found.save(update_fields=["details"])
        return found, False
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                version=version, kind=kind, cause=cause, title=title[:300], details=details
            )
    except IntegrityError:  # a concurrent check opened it first
        return Finding.objects.get(version=version, cause=cause, status=FindingStatus.OPEN), False
    record_event(
        data_events.FINDING_OPENED,
        actor=actor,
        obj=finding,
        payload={**_ref(version), "finding": finding.pk, "kind": kind, "cause": cause},
    )
    return finding, True
