"""The serious-incident register (Art. 73): record an incident, know its reporting deadline, be reminded before it,
and report it to the market surveillance authority with an evidence bundle of the model.

The clocks (Assay's reading of Art. 73(2)-(4), cited by id): 15 days after awareness in general; 10 days for the
death of a person; 2 days for a widespread infringement or a serious incident that is a serious and irreversible
disruption of critical infrastructure. Each clock counts from ``aware_at``, the moment the provider (or deployer)
became aware of the incident; "immediately" in the Act comes first, so the deadline is a latest date, never a target.

Reminders: one a day before the deadline ("1-day") and one once it has passed unreported ("overdue"), each sent
once and recorded in the trail. ``send_reminders(now=...)`` runs from ``manage.py incident_reminders`` (a cron job),
with the time given, so tests run it on a clock they control.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.access.actions import require_scope
from governance.citations import cite
from governance.exports.actions import do_create_export
from governance.trail.log import Actor, record_event
from obligations import events
from obligations.actions import DECIDE_SCOPE, MAX_REASON_CHARS, SHA256_HEX, ObligationError
from obligations.models import Incident, IncidentKind, IncidentStep, StepKind
from registry.models import ModelVersion, RegisteredModel

CLOCKS: dict[str, tuple[dt.timedelta, str]] = {
    IncidentKind.DEATH: (dt.timedelta(days=10), "eu-ai-act/art-73/4"),
    IncidentKind.CRITICAL_INFRASTRUCTURE: (dt.timedelta(days=2), "eu-ai-act/art-73/3"),
    IncidentKind.WIDESPREAD_INFRINGEMENT: (dt.timedelta(days=2), "eu-ai-act/art-73/3"),
    IncidentKind.OTHER: (dt.timedelta(days=15), "eu-ai-act/art-73/2"),
}
REMINDERS = (("1-day", dt.timedelta(days=1)), ("overdue", dt.timedelta(0)))


def deadline_for(kind: str, aware_at: dt.datetime) -> dt.datetime:
    """The latest time the report may reach the authority, for an incident of ``kind`` known since ``aware_at``."""
    return aware_at + CLOCKS[kind][0]


def clock_citation(kind: str) -> str:
    """The label of the provision whose clock applies (the catalogue's, by id)."""
    return cite(CLOCKS[kind][1]).label


def do_record_incident(
    *,
    user: Any,
    actor: Actor,
    model: RegisteredModel,
    kind: str,
    description: str,
    aware_at: dt.datetime,
    version: ModelVersion | None = None,
) -> Incident:
    """Record a serious incident of ``model`` (an officer's act) with the deadline its kind sets."""
    require_scope(user, DECIDE_SCOPE, "record a serious incident", error=ObligationError)
    if kind not in CLOCKS:
        raise ObligationError(f"kind must be one of {', '.join(CLOCKS)}.", field="kind")
    if not isinstance(description, str) or not description.strip() or len(description) > MAX_REASON_CHARS:
        raise ObligationError(f"Describe the incident (at most {MAX_REASON_CHARS} characters).", field="description")
    if timezone.is_naive(aware_at):
        raise ObligationError("aware_at needs a time zone.", field="aware_at")
    if aware_at > timezone.now():
        raise ObligationError("aware_at is in the future.", field="aware_at")
    if version is not None and version.model_id != model.pk:
        raise ObligationError(f"Version {version.number} is not a version of {model.name}.", field="version")
    with transaction.atomic():
        incident = Incident.objects.create(
            model=model,
            version=version,
            kind=kind,
            description=description.strip(),
            aware_at=aware_at,
            deadline=deadline_for(kind, aware_at),
            recorded_by=user,
        )
        record_event(
            events.INCIDENT_RECORDED,
            actor=actor,
            obj=incident,
            payload={
                "model": model.name,
                "version": version.number if version is not None else None,
                "incident": incident.pk,
                "kind": kind,
                "aware_at": aware_at.isoformat(),
                "deadline": incident.deadline.isoformat(),
                "description_sha256": hashlib.sha256(incident.description.encode("utf-8")).hexdigest(),
            },
        )
    return incident


def send_reminders(*, now: dt.datetime | None = None) -> list[tuple[Incident, str]]:
    """Record every reminder that is due at ``now`` for an unreported incident (each at most once)."""
    now = now or timezone.now()
    sent: list[tuple[Incident, str]] = []
    for incident in Incident.objects.filter(reported_at__isnull=True).select_related("model"):
        for label, before in REMINDERS:
            if label in incident.reminders or now < incident.deadline - before:
                continue
            with transaction.atomic():
                locked = Incident.objects.select_for_update().get(pk=incident.pk)
                if label in locked.reminders or locked.reported_at is not None:
                    continue
                locked.reminders = [*locked.reminders, label]
                locked.save(update_fields=["reminders"])
                record_event(
                    events.INCIDENT_REMINDER_DUE,
                    actor=Actor.system(),
                    obj=locked,
                    payload={
                        "model": incident.model.name,
                        "incident": incident.pk,
                        "reminder": label,
                        "deadline": incident.deadline.isoformat(),
                    },
                )
            sent.append((incident, label))
    return sent


def do_report_incident(*, user: Any, actor: Actor, incident: Incident) -> Incident:
    """Report ``incident`` to the authority: an evidence bundle of its model (and version) is built, and the
    report is a trail event naming that export and whether it was late."""
    require_scope(user, DECIDE_SCOPE, "report a serious incident", error=ObligationError)
    if incident.reported_at is not None:
        raise ObligationError("This incident was reported already.", code="already_reported", status=409)
    export = do_create_export(user=user, actor=actor, model=incident.model, version=incident.version)
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.reported_at is not None:
            raise ObligationError("This incident was reported already.", code="already_reported", status=409)
        locked.reported_at = timezone.now()
        locked.report_export = export
        locked.save(update_fields=["reported_at", "report_export"])
        record_event(
            events.INCIDENT_REPORTED,
            actor=actor,
            obj=locked,
            payload={
                "model": incident.model.name,
                "incident": incident.pk,
                "export": export.pk,
                "deadline": incident.deadline.isoformat(),
                "late": locked.reported_at > incident.deadline,
            },
        )
    return locked


def do_record_incident_step(
    *,
    user: Any,
    actor: Actor,
    incident: Incident,
    kind: str,
    note: str,
    document_name: str = "",
    document_sha256: str = "",
) -> IncidentStep:
    """Record a step taken about ``incident`` (an officer's act), before or after its report."""
    require_scope(user, DECIDE_SCOPE, "record a step of a serious incident", error=ObligationError)
    if kind not in StepKind.values:
        raise ObligationError(f"kind must be one of {', '.join(StepKind.values)}.", field="kind")
    note = note.strip() if isinstance(note, str) else ""
    if not note or len(note) > MAX_REASON_CHARS:
        raise ObligationError(f"Say what was done (at most {MAX_REASON_CHARS} characters).", field="note")
    digest = document_sha256.strip().lower()
    if digest and (len(digest) != 64 or not set(digest) <= SHA256_HEX):
        raise ObligationError("document_sha256 must be 64 hex digits.", field="document_sha256")
    if bool(digest) != bool(document_name.strip()):
        raise ObligationError("Give both the document's name and its SHA-256, or neither.", field="document_name")
    with transaction.atomic():
        locked = Incident.objects.select_for_update().select_related("model").get(pk=incident.pk)
        step_number = locked.steps.count() + 1
        event = record_event(
            events.INCIDENT_STEP_RECORDED,
            actor=actor,
            obj=locked,
            payload={
                "model": locked.model.name,
                "incident": locked.pk,
                "step": step_number,
                "kind": kind,
                "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(),
                "document_sha256": digest or None,
            },
        )
        return IncidentStep.objects.create(
            incident=locked,
            kind=kind,
            note=note,
            document_name=document_name.strip(),
            document_sha256=digest,
            recorded_by=user,
            event_seq=event.seq,
        )
