"""Data subjects: where they are held and what that reaches (the findings a withdrawal or erasure opens), their
personal data sealed under their own key, access requests and erasure by destroying that key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.access.models import User
from governance.data import crypto, events, hooks, subject_access
from governance.data.actions.common import DataError, _require_scope, pseudonym_key
from governance.data.consent import subject_states
from governance.data.lineage import downstream_model_versions, node_id
from governance.data.models import (
    ConsentEvent,
    DatasetSubject,
    DatasetVersion,
    PersonalRecord,
    RequestKind,
    Subject,
    SubjectKey,
    SubjectRequest,
)
from governance.trail.log import Actor, record_event


def datasets_holding(pseudonyms: Iterable[str]) -> dict[str, list[DatasetVersion]]:
    """The dataset versions whose subject index holds each pseudonym (an index lookup; no file is read)."""
    holding: dict[str, list[DatasetVersion]] = {}
    wanted = sorted(set(pseudonyms))
    for start in range(0, len(wanted), 900):  # below SQLite's parameter limit
        rows = DatasetSubject.objects.filter(pseudonym__in=wanted[start : start + 900]).select_related(
            "version__dataset__team"
        )
        for row in rows:
            holding.setdefault(row.pseudonym, []).append(row.version)
    return holding


def open_impact_findings(pseudonyms: Iterable[str], *, kind: str, detail: Mapping[str, Any], actor: Actor) -> list[Any]:
    """Inside the caller's transaction: a finding on every model version downstream (through lineage) of a
    dataset version holding any of ``pseudonyms``; one finding per model version and cause, never two."""
    holding = datasets_holding(pseudonyms)
    opened = []
    downstream_cache: dict[int, dict[int, Any]] = {}
    for pseudonym, versions in sorted(holding.items()):
        for dataset_version in versions:
            if dataset_version.pk not in downstream_cache:
                downstream_cache[dataset_version.pk] = downstream_model_versions([dataset_version])
            for model_version in downstream_cache[dataset_version.pk].values():
                cause = f"{kind}:{detail.get('purpose', '')}:{pseudonym}"
                finding = hooks.open_model_finding(  # the registry's findings (a floor above): through its hook
                    model_version,
                    kind=kind,
                    cause=cause,
                    title=_finding_title(kind, detail, dataset_version),
                    details={**detail, "subject": pseudonym, "dataset": node_id(dataset_version)},
                )
                if finding is None:  # one is open already (maybe opened by a concurrent request)
                    continue
                record_event(
                    events.FINDING_OPENED,
                    actor=actor,
                    obj=finding,
                    payload={
                        "model": model_version.model.name,
                        "version": model_version.number,
                        "finding": finding.pk,
                        "kind": kind,
                        "cause": cause,
                    },
                )
                opened.append(finding)
    return opened


def _finding_title(kind: str, detail: Mapping[str, Any], dataset_version: DatasetVersion) -> str:
    where = node_id(dataset_version)
    if kind == "consent_withdrawn":
        how = "consent expired" if detail.get("change") == "expired" else "withdrew consent"
        subject = "A subject's" if how == "consent expired" else "A subject"
        return f"{subject} in {where} {how} for '{detail.get('purpose')}'"
    return f"A subject in {where} asked for erasure (GDPR Art. 17): their key is destroyed, their rows remain here"


# --- personal data, access and erasure ---------------------------------------------------------------------------


def _data_key(subject: Subject, *, create: bool) -> bytes | None:
    master = pseudonym_key()
    key_row = SubjectKey.objects.filter(subject=subject).first()
    if key_row is None:
        if not create:
            return None
        data_key = crypto.new_data_key()
        SubjectKey.objects.create(
            subject=subject, wrapped_key=crypto.wrap_key(data_key, master=master, subject=subject.pseudonym)
        )
        return data_key
    return crypto.unwrap_key(bytes(key_row.wrapped_key), master=master, subject=subject.pseudonym)


def do_store_personal_data(
    *, subject: Subject, user: User, actor: Actor, category: str, data: Mapping[str, Any]
) -> PersonalRecord:
    """Store personal data about a subject, sealed with AES-GCM under the subject's own key."""
    _require_scope(user, "consent:write", "store personal data")
    plaintext = json.dumps(dict(data), sort_keys=True, ensure_ascii=False).encode("utf-8")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.erased_at is not None:
            raise DataError(
                "This subject's key was destroyed on an erasure request; nothing more is stored about them.",
                code="erased",
                status=409,
            )
        try:
            key = _data_key(subject, create=True)
        except crypto.SealError:
            raise DataError(
                "This subject's stored key does not open (it was changed or moved from another subject); nothing "
                "was stored. Investigate before storing more data about them.",
                code="key_unreadable",
                status=409,
            ) from None
        assert key is not None
        record = PersonalRecord.objects.create(
            subject=subject,
            category=category,
            ciphertext=crypto.seal(plaintext, key=key, associated_data=subject.pseudonym),
            created_by=user,
        )
        record_event(
            events.SUBJECT_DATA_STORED,
            actor=actor,
            obj=record,
            payload={"subject": subject.pseudonym, "category": category, "record": record.pk},
        )
    return record


def read_personal_records(subject: Subject) -> list[dict[str, Any]]:
    """Every personal record of a subject, opened; after erasure each says it can no longer be read."""
    key, why = None, "erased: the key is destroyed and this record cannot be read"
    if not subject.erased_at:
        try:
            key = _data_key(subject, create=False)
        except crypto.SealError:
            why = "unreadable: the subject's key does not open (it was changed or moved from another subject)"
    records = []
    for record in PersonalRecord.objects.filter(subject=subject):
        entry: dict[str, Any] = {
            "id": record.pk,
            "category": record.category,
            "created_at": record.created_at.isoformat(),
        }
        if key is None:
            entry["data"] = None
            entry["status"] = why
        else:
            try:
                entry["data"] = json.loads(
                    crypto.open_sealed(bytes(record.ciphertext), key=key, associated_data=subject.pseudonym)
                )
                entry["status"] = "readable"
            except crypto.SealError as exc:
                entry["data"] = None
                entry["status"] = f"unreadable: {exc}"
        records.append(entry)
    return records


def subject_report(subject: Subject) -> dict[str, Any]:
    """What Assay records about a subject, for an access request (GDPR Art. 15): consent history and states, personal
    data, the dataset versions and the file rows that hold the subject, the requests handled, and the information of
    Art. 15(1)-(2) from records and the controller's settings. ``scope`` says what the export does not include."""
    now = timezone.now()
    holding = datasets_holding([subject.pseudonym]).get(subject.pseudonym, [])
    consent_events = list(ConsentEvent.objects.filter(subject=subject).select_related("purpose"))
    rows = subject_access.dataset_rows(subject.pseudonym, holding, key=pseudonym_key())
    models = sorted(node_id(m) for m in downstream_model_versions(holding).values())
    personal_data = read_personal_records(subject)
    return {
        "pseudonym": subject.pseudonym,
        "scope": subject_access.EXPORT_SCOPE,
        "first_seen_at": subject.first_seen_at.isoformat(),
        "erased_at": subject.erased_at.isoformat() if subject.erased_at else None,
        "erasure": (
            subject_access.erasure_statement(key_destroyed=True, rows=rows, records=len(personal_data))
            if subject.erased_at
            else None
        ),
        "article_15": subject_access.article_15_information(
            subject, consent_events=consent_events, holding=holding, models=models
        ),
        "consent": subject_states(subject, now),
        "consent_events": [
            {
                "purpose": event.purpose.code,
                "kind": event.kind,
                "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.recorded_at.isoformat(),
                "expires_at": event.expires_at.isoformat() if event.expires_at else None,
                "source": event.source,
                "notice_version": event.notice_version,
                "controller": event.controller,
                "pii_categories": event.pii_categories,
                "collection_method": event.collection_method,
                "jurisdiction": event.jurisdiction,
            }
            for event in consent_events
        ],
        "personal_data": personal_data,
        "datasets": [node_id(version) for version in holding],
        "dataset_rows": rows,
        "requests": [
            {"kind": r.kind, "handled_at": r.handled_at.isoformat()}
            for r in SubjectRequest.objects.filter(subject=subject)
        ],
    }


def do_export_subject(*, subject: Subject, user: User, actor: Actor) -> dict[str, Any]:
    """Answer an access request with ``subject_report`` (what Assay records, and the Art. 15 information or the
    gaps the controller must fill), with the export's hash in the trail."""
    _require_scope(user, "consent:write", "answer access requests")
    with transaction.atomic():
        report = subject_report(subject)
        digest = hashlib.sha256(json.dumps(report, sort_keys=True).encode("utf-8")).hexdigest()
        SubjectRequest.objects.create(subject=subject, kind=RequestKind.ACCESS, handled_by=user)
        record_event(
            events.SUBJECT_ACCESS_EXPORTED,
            actor=actor,
            obj=subject,
            payload={"subject": subject.pseudonym, "sha256": digest},
        )
    return report


def do_erase_subject(*, subject: Subject, user: User, actor: Actor) -> tuple[Subject, bool]:
    """Answer an erasure request (GDPR Art. 17) by destroying the subject's key: their sealed data becomes
    unreadable and nothing more is stored about them, while the trail (pseudonyms only) still verifies. Rows in
    uploaded dataset files are not touched (``erasure_report`` lists them). Idempotent: a second request changes
    nothing. Returns (subject, whether this call destroyed the key)."""
    _require_scope(user, "consent:write", "erase subjects")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.erased_at is not None:
            return subject, False
        SubjectKey.objects.filter(subject=subject).delete()
        subject.erased_at = timezone.now()
        subject.save(update_fields=["erased_at"])
        SubjectRequest.objects.create(subject=subject, kind=RequestKind.ERASURE, handled_by=user)
        record_event(
            events.SUBJECT_ERASED,
            actor=actor,
            obj=subject,
            payload={
                "subject": subject.pseudonym,
                "records": PersonalRecord.objects.filter(subject=subject).count(),
            },
        )
        open_impact_findings({subject.pseudonym}, kind="subject_erased", detail={}, actor=actor)
    return subject, True


def erasure_report(subject: Subject) -> dict[str, Any]:
    """What an erasure request did for ``subject`` and what remains (rows in dataset files, the pseudonym), in the
    words of ``subject_access.erasure_statement``; never "erased" while anything remains."""
    holding = datasets_holding([subject.pseudonym]).get(subject.pseudonym, [])
    rows = subject_access.dataset_rows(subject.pseudonym, holding, key=pseudonym_key())
    records = PersonalRecord.objects.filter(subject=subject).count()
    return {
        "pseudonym": subject.pseudonym,
        "erased_at": subject.erased_at,  # when the key was destroyed (the field keeps its name for API clients)
        "key_destroyed_at": subject.erased_at,
        "erasure": subject_access.erasure_statement(
            key_destroyed=subject.erased_at is not None, rows=rows, records=records
        ),
        "datasets_holding_rows": [r["node"] for r in rows],
        "dataset_rows": rows,
        "model_versions_with_findings": sorted(node_id(m) for m in downstream_model_versions(holding).values()),
    }


def impact_of(pseudonym: str) -> dict[str, Any]:
    """Which dataset versions hold a subject, and which model versions are downstream of them."""
    holding = datasets_holding([pseudonym]).get(pseudonym, [])
    models = downstream_model_versions(holding)
    return {
        "subject": pseudonym,
        "datasets": [node_id(v) for v in holding],
        "model_versions": sorted(node_id(m) for m in models.values()),
    }
