"""Every change the obligations app makes, each in its transaction with its trail event (STYLE.md).

Storing a catalogue version is as storing a policy version; setting a model's obligation scope, attesting an
obligation and declaring one not applicable are an officer's decisions (scope ``models:classify``: the officer who
classifies a model's risk is the one who says what follows from it). The trail holds hashes of free text only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from governance.access.actions import ActionError, require_scope
from governance.trail.log import Actor, record_event
from obligations import events
from obligations.catalogues.loader import CatalogueError, builtin_catalogues, load_catalogue
from obligations.catalogues.schema import ROLES
from obligations.models import Catalogue, CatalogueVersion, DecisionKind, ObligationDecision, ObligationScope
from registry.models import ModelVersion, RegisteredModel

DECIDE_SCOPE = "models:classify"
MAX_REASON_CHARS = 5000
SHA256_HEX = frozenset("0123456789abcdef")


class ObligationError(ActionError):
    """A refused obligations action (422 by default: the request is well-formed but its content is wrong)."""

    def __init__(self, message: str, *, code: str = "invalid", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def do_save_catalogue(
    *, user: Any, actor: Actor, text: str | bytes, reason: str = "", builtin: bool = False
) -> CatalogueVersion:
    """Validate and store a new version of a catalogue (a no-op returning the latest when the text is unchanged)."""
    if user is not None:
        require_scope(user, "policies:write", "change an obligation catalogue", error=ObligationError)
    try:
        parsed = load_catalogue(text)
    except CatalogueError as error:
        raise ObligationError(error.message, code="invalid_catalogue", field=error.field) from None
    with transaction.atomic():
        catalogue, _ = Catalogue.objects.select_for_update().get_or_create(
            name=parsed.name, defaults={"title": parsed.title, "builtin": builtin}
        )
        latest = catalogue.versions.order_by("-number").first()
        if latest is not None and latest.sha256 == parsed.text_sha256:
            return latest
        number = 1 if latest is None else latest.number + 1
        version = CatalogueVersion.objects.create(
            catalogue=catalogue,
            number=number,
            text=parsed.text,
            document=parsed.document,
            sha256=parsed.text_sha256,
            canonical_sha256=parsed.sha256,
            change_reason=reason,
            created_by=user,
        )
        if catalogue.title != parsed.title:
            catalogue.title = parsed.title
            catalogue.save(update_fields=["title"])
        record_event(
            events.CATALOGUE_SAVED,
            actor=actor,
            obj=version,
            payload={
                "catalogue": catalogue.name,
                "version": number,
                "sha256": parsed.text_sha256,
                "canonical_sha256": parsed.sha256,
                "reason_sha256": _sha256_text(reason) if reason else None,
            },
        )
    return version


def ensure_builtin_catalogues() -> None:
    """Store each shipped catalogue text not stored yet (a new Assay release with a changed text adds a version).

    A text stored before is never stored again, so an officer's own later version of a built-in stays the latest.
    Idempotent and cheap: views call it on every request."""
    stored = set(CatalogueVersion.objects.values_list("catalogue__name", "sha256"))
    for name, text in sorted(builtin_catalogues().items()):
        if (name, _sha256_text(text)) in stored:
            continue
        do_save_catalogue(user=None, actor=Actor.system(), text=text, builtin=True)


def _clean_reason(reason: Any, *, required: bool) -> str:
    if not isinstance(reason, str):
        raise ObligationError("reason must be text.", field="reason")
    reason = reason.strip()
    if required and not reason:
        raise ObligationError("Give a reason.", field="reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ObligationError(f"reason is longer than {MAX_REASON_CHARS} characters.", field="reason")
    return reason


def do_set_scope(
    *, user: Any, actor: Actor, model: RegisteredModel, roles: Sequence[str], catalogues: Sequence[str], reason: str
) -> ObligationScope:
    """Set the roles the organisation holds for ``model`` and the catalogues that apply to it (an officer's call)."""
    require_scope(user, DECIDE_SCOPE, "set a model's obligation scope", error=ObligationError)
    reason = _clean_reason(reason, required=True)
    ensure_builtin_catalogues()  # the shipped catalogues are choosable before anyone asked for a status
    if not roles or any(r not in ROLES for r in roles) or len(set(roles)) != len(roles):
        raise ObligationError(f"roles must be distinct values among {', '.join(ROLES)}.", field="roles")
    known = set(Catalogue.objects.values_list("name", flat=True))
    unknown = [c for c in catalogues if c not in known]
    if not catalogues or unknown or len(set(catalogues)) != len(catalogues):
        raise ObligationError(
            f"catalogues must be distinct names among {', '.join(sorted(known)) or 'none'}.", field="catalogues"
        )
    with transaction.atomic():
        event = record_event(
            events.SCOPE_SET,
            actor=actor,
            obj=model,
            payload={
                "model": model.name,
                "roles": sorted(roles),
                "catalogues": sorted(catalogues),
                "reason_sha256": _sha256_text(reason),
            },
        )
        scope, _ = ObligationScope.objects.update_or_create(
            model=model,
            defaults={
                "roles": sorted(roles),
                "catalogues": sorted(catalogues),
                "reason": reason,
                "set_by": user,
                "event_seq": event.seq,
            },
        )
    return scope


def do_decide(
    *,
    user: Any,
    actor: Actor,
    version: ModelVersion,
    catalogue: str,
    obligation: str,
    kind: str,
    reason: str,
    document_name: str = "",
    document_sha256: str = "",
) -> ObligationDecision:
    """Record an officer's decision on one obligation of ``version``: attested (naming a document and its SHA-256)
    or not applicable (with a reason). Refused for an obligation the catalogue does not hold, and an attestation is
    refused where the catalogue does not accept one as evidence for that obligation."""
    require_scope(user, DECIDE_SCOPE, "decide on an obligation", error=ObligationError)
    reason = _clean_reason(reason, required=True)
    if kind not in DecisionKind.values:
        raise ObligationError(f"decision must be one of {', '.join(DecisionKind.values)}.", field="decision")
    ensure_builtin_catalogues()
    stored = CatalogueVersion.objects.filter(catalogue__name=catalogue).order_by("-number").first()
    if stored is None:
        raise ObligationError(f"No catalogue named {catalogue!r}.", field="catalogue", status=404, code="not_found")
    parsed = load_catalogue(stored.text)
    item = parsed.obligation(obligation)
    if item is None:
        raise ObligationError(
            f"{catalogue} has no obligation {obligation!r}.", field="obligation", status=404, code="not_found"
        )
    if kind == DecisionKind.ATTESTED:
        if not any(e.kind == "attestation" for e in item.evidence):
            raise ObligationError(
                f"{catalogue} does not accept an attestation as evidence for {obligation}.", field="decision"
            )
        digest = document_sha256.strip().lower() if isinstance(document_sha256, str) else ""
        if len(digest) != 64 or not set(digest) <= SHA256_HEX:
            raise ObligationError(
                "document_sha256 must be the document's SHA-256, 64 hex digits.", field="document_sha256"
            )
        name = document_name.strip() if isinstance(document_name, str) else ""
        if not name or len(name) > 255:
            raise ObligationError("Name the document (at most 255 characters).", field="document_name")
    else:
        digest, name = "", ""
    with transaction.atomic():
        payload: dict[str, Any] = {
            "model": version.model.name,
            "version": version.number,
            "catalogue": catalogue,
            "catalogue_version": stored.number,
            "obligation": obligation,
            "reason_sha256": _sha256_text(reason),
        }
        if kind == DecisionKind.ATTESTED:
            event = record_event(
                events.OBLIGATION_ATTESTED, actor=actor, obj=version, payload={**payload, "document_sha256": digest}
            )
        else:
            event = record_event(events.OBLIGATION_NOT_APPLICABLE, actor=actor, obj=version, payload=payload)
        return ObligationDecision.objects.create(
            version=version,
            catalogue=catalogue,
            catalogue_version=stored.number,
            obligation=obligation,
            kind=kind,
            reason=reason,
            document_name=name,
            document_sha256=digest,
            decided_by=user,
            event_seq=event.seq,
        )
