"""Purposes of processing and consent events; a withdrawal or expiry opens findings downstream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access.models import User
from governance.data import crypto, events
from governance.data.actions.common import DataError, _require_scope, pseudonym_of
from governance.data.actions.subjects import open_impact_findings
from governance.data.models import ConsentEvent, ConsentKind, Purpose, Subject
from governance.trail.leaf import format_time, text_commitment
from governance.trail.log import Actor, record_event


def do_create_purpose(*, user: User, actor: Actor, code: str, description: str, legal_basis: str) -> Purpose:
    """Define a purpose of processing with its GDPR Art. 6 legal basis."""
    _require_scope(user, "consent:write", "define purposes")
    with transaction.atomic():
        if Purpose.objects.filter(code=code).exists():
            raise DataError(f"A purpose with code '{code}' already exists.", code="duplicate", status=409)
        try:
            with transaction.atomic():
                purpose = Purpose.objects.create(
                    code=code, description=description, legal_basis=legal_basis, created_by=user
                )
        except IntegrityError:
            raise DataError(f"A purpose with code '{code}' already exists.", code="duplicate", status=409) from None
        record_event(
            events.PURPOSE_CREATED, actor=actor, obj=purpose, payload={"code": code, "legal_basis": legal_basis}
        )
    return purpose


def do_record_consent(
    *,
    user: User,
    actor: Actor,
    purpose: Purpose,
    kind: str,
    occurred_at: datetime,
    external_id: str = "",
    subject_pseudonym: str = "",
    expires_at: datetime | None = None,
    source: str = "",
    notice_version: str = "",
    controller: str = "",
    pii_categories: Sequence[str] = (),
    collection_method: str = "",
    jurisdiction: str = "",
) -> ConsentEvent:
    """Record one consent event for a subject (by external id, hashed here, or by pseudonym). A withdrawal or
    expiry of a purpose the subject had consented to opens findings on the model versions trained on their data."""
    _require_scope(user, "consent:write", "record consent")
    if bool(external_id) == bool(subject_pseudonym):
        raise DataError("Give the subject as external_id or as pseudonym (one of them).", field="external_id")
    if timezone.is_naive(occurred_at) or (expires_at is not None and timezone.is_naive(expires_at)):
        raise DataError("Times need a timezone (e.g. 2026-05-01T09:30:00+02:00).", field="occurred_at")
    if expires_at is not None and kind != ConsentKind.GIVEN:
        raise DataError("Only a consent that is given can carry expires_at.", field="expires_at")
    pseudonym = pseudonym_of(external_id) if external_id else subject_pseudonym.lower()
    if not crypto.is_pseudonym(pseudonym):
        raise DataError("A pseudonym is 64 hexadecimal digits.", field="pseudonym")
    with transaction.atomic():
        subject = Subject.objects.filter(pseudonym=pseudonym).first()
        if kind != ConsentKind.GIVEN and (
            subject is None
            or not ConsentEvent.objects.filter(
                subject=subject, purpose=purpose, kind=ConsentKind.GIVEN, occurred_at__lte=occurred_at
            ).exists()
        ):
            # The same rule as the bulk import: a withdrawal or expiry needs a consent given at or before it.
            raise DataError(
                f"No consent for '{purpose.code}' was given by this subject at or before {occurred_at.isoformat()}, "
                f"so there is nothing to {kind} (record the consent first, or check the id and time).",
                code="unknown_subject",
                field="external_id" if external_id else "pseudonym",
            )
        if subject is None:
            subject, _ = Subject.objects.get_or_create(pseudonym=pseudonym)  # a concurrent first consent is no error
        if subject.erased_at is not None and kind == ConsentKind.GIVEN:
            raise DataError(
                "This subject's key was destroyed on an erasure request; new consent needs a new identity.",
                code="erased",
                status=409,
            )
        consent = ConsentEvent.objects.create(
            subject=subject,
            purpose=purpose,
            kind=kind,
            occurred_at=occurred_at,
            expires_at=expires_at,
            source=source,
            notice_version=notice_version,
            controller=controller,
            pii_categories=list(pii_categories),
            collection_method=collection_method,
            jurisdiction=jurisdiction,
        )
        record_event(
            events.CONSENT_RECORDED,
            actor=actor,
            obj=consent,
            payload={
                "subject": pseudonym,
                "purpose": purpose.code,
                "kind": kind,
                "occurred_at": format_time(occurred_at),
                "notice_version": notice_version or None,
                "source_sha256": text_commitment(source),
            },
        )
        if kind != ConsentKind.GIVEN:
            open_impact_findings(
                {pseudonym}, kind="consent_withdrawn", detail={"purpose": purpose.code, "change": kind}, actor=actor
            )
    return consent
