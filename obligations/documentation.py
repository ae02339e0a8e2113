"""Generating a version's signed Annex IV document and its signed post-market monitoring plan: one action each, its
trail event in the same transaction, so that anyone holding the PDF can find its hash in the trail and prove that
Assay issued it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audits.reports.signing import sign_pdf
from governance.trail.log import Actor, record_event
from obligations import events
from obligations.annex_iv import technical_documentation
from obligations.annex_iv_pdf import annex_iv_pdf, monitoring_plan_pdf
from obligations.monitoring_plan import monitoring_plan
from obligations.status import compliance_status
from registry.models import ModelVersion


@dataclass(frozen=True)
class SignedDocumentation:
    """The signed PDF, the document it shows, and the trail event that records it."""

    pdf: bytes
    sha256: str
    document: dict[str, Any]
    event_seq: int


def do_generate_annex_iv(*, version: ModelVersion, actor: Actor) -> SignedDocumentation:
    """Build, sign and record the Annex IV document of ``version`` (whoever may see the version may ask for it)."""
    document = technical_documentation(version, compliance_status(version))
    unsigned = annex_iv_pdf(document)
    signed = sign_pdf(unsigned, reason=f"Annex IV technical documentation of {version.model.name} v{version.number}")
    with transaction.atomic():
        event = record_event(
            events.TECHNICAL_DOCUMENTATION_GENERATED,
            actor=actor,
            obj=version,
            payload={
                "model": version.model.name,
                "version": version.number,
                "sha256": signed.sha256,
                "unsigned_sha256": hashlib.sha256(unsigned).hexdigest(),
                "gaps": document["gaps"],
                "signer_certificate_sha256": signed.signer_certificate_sha256,
            },
        )
    return SignedDocumentation(pdf=signed.pdf, sha256=signed.sha256, document=document, event_seq=event.seq)


def do_generate_monitoring_plan(*, version: ModelVersion, actor: Actor) -> SignedDocumentation:
    """Build, sign and record the post-market monitoring plan of ``version`` (as the Annex IV document: whoever may
    see the version may ask for it). The event holds the signed PDF's hash and the hash of the plan's JSON."""
    document = monitoring_plan(version)
    signed = sign_pdf(
        monitoring_plan_pdf(document),
        reason=f"Post-market monitoring plan (Art. 72) of {version.model.name} v{version.number}",
    )
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with transaction.atomic():
        event = record_event(
            events.MONITORING_PLAN_GENERATED,
            actor=actor,
            obj=version,
            payload={
                "model": version.model.name,
                "version": version.number,
                "sha256": signed.sha256,
                "plan_sha256": hashlib.sha256(canonical).hexdigest(),
                "gaps": document["gaps"],
                "signer_certificate_sha256": signed.signer_certificate_sha256,
            },
        )
    return SignedDocumentation(pdf=signed.pdf, sha256=signed.sha256, document=document, event_seq=event.seq)
