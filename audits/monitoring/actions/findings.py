"""What monitoring's alerts become: findings, webhook notifications and e-mails; and findings resolved by
retraining, linked to the version that replaces theirs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from audits.monitoring import events
from audits.monitoring.actions.common import (
    _open_finding,
    _ref,
    logger,
)
from audits.monitoring.judge import Alert
from governance.access.models import User
from governance.trail.log import Actor, record_event
from registry.models import (
    Finding,
    FindingStatus,
    ModelVersion,
    MonitoringBatch,
)
from registry.webhooks import queue_deliveries


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "level": alert.level,
        "kind": alert.kind,
        "subject": alert.subject,
        "statistic": alert.statistic,
        "value": alert.value,
        "threshold": alert.threshold,
        "basis": alert.basis,
        "title": alert.title,
        "cause": alert.cause,
        "details": alert.details,
    }


def _finding_for_alert(
    version: ModelVersion, batch: MonitoringBatch, alert: Alert, *, actor: Actor
) -> tuple[Finding, bool]:
    finding, new = _open_finding(
        version,
        kind=alert.kind,
        cause=alert.cause,
        title=alert.title,
        details={"batches": [batch.number], "latest": {"batch": batch.number, **_alert_json(alert)}},
        actor=actor,
    )
    event = record_event(
        events.ALERT_RAISED,
        actor=actor,
        obj=finding,
        payload={
            **_ref(version),
            "batch": batch.number,
            "finding": finding.pk,
            "kind": alert.kind,
            "subject": alert.subject,
            "statistic": alert.statistic,
            "value": alert.value,
            "threshold": alert.threshold,
            "new_finding": new,
        },
    )
    queue_deliveries(event, model_id=version.model_id)
    return finding, new


# --- notifications ------------------------------------------------------------------------------------------------


def _email(version: ModelVersion, findings: Sequence[Finding]) -> None:
    """Tell the owning team's people (those with an e-mail address) about new findings."""
    if not settings.MONITORING_EMAIL_ALERTS:
        return
    recipients = sorted(
        set(
            User.objects.filter(teams=version.model.team_id, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        return
    lines = [f"- {f.title} (finding {f.pk})" for f in findings]
    body = (
        f"Monitoring of {version.model.name} v{version.number} opened {len(findings)} finding(s):\n\n"
        + "\n".join(lines)
        + f"\n\nDecide on them: /api/v1/models/{version.model.name}/versions/{version.number}/findings/?status=open\n"
    )
    try:
        send_mail(
            f"[Assay] {version.model.name} v{version.number}: {len(findings)} monitoring finding(s)",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:  # mail is a courtesy: the findings, the trail and the webhooks already hold everything
        logger.exception("monitoring e-mail for %s could not be sent", version)


# --- retraining decisions ------------------------------------------------------------------------------------------


def link_retrained(new_version: ModelVersion, *, actor: Actor) -> list[Finding]:
    """Inside the registration's transaction: findings of the model resolved by retraining, not linked yet, are
    linked to ``new_version`` (the retrained version that arrived)."""
    linked = []
    pending = (
        Finding.objects.select_for_update()
        .filter(version__model_id=new_version.model_id, status=FindingStatus.RESOLVED, resolution="retrain")
        .exclude(version=new_version)
        .select_related("version")
    )
    for finding in pending:
        if "retrained_by_version" in (finding.details or {}):
            continue
        finding.details = {**finding.details, "retrained_by_version": new_version.number}
        finding.save(update_fields=["details"])
        record_event(
            events.RETRAIN_LINKED,
            actor=actor,
            obj=finding,
            payload={**_ref(finding.version), "finding": finding.pk, "new_version": new_version.number},
        )
        linked.append(finding)
    return linked
