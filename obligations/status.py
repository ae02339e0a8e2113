"""The compliance status of one model version: every obligation of the catalogues that apply to its model, as met
(each piece of evidence linked to its trail event, whose inclusion proof anyone can check), attested (an officer's
attestation with a document's hash, a trail event), not applicable (an officer's reason, a trail event) or missing
(what would satisfy it). Computed on every request from what Assay holds, so it cannot go stale.

Which obligations apply follows the catalogue's ``applies_to``: the model's risk tier, the roles the organisation
holds for it and, where the catalogue names Annex III points, the points its classification cites. A classification
that cites an Annex III area without its letter (the first questionnaire asked for areas) is read conservatively:
an obligation for a letter of that area applies, and the status says why, until an officer declares otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone

from audits.models import AuditRun, RunStatus, Verdict
from governance.data.models import LineageLink
from governance.trail.log import tree_size
from governance.trail.models import Checkpoint, Event
from obligations.actions import ensure_builtin_catalogues
from obligations.catalogues.loader import Catalogue, Obligation, load_catalogue
from obligations.models import CatalogueVersion, DecisionKind, ObligationDecision, ObligationScope
from registry.models import ModelVersion, MonitorConfig, RegisteredModel, VersionState

# Until an officer sets a model's scope: an organisation that registers a model in Assay builds it and uses it, so it
# holds both roles; the EU AI Act and the NIST AI RMF catalogues apply. NYC LL144 and ISO/IEC 42001 are chosen.
DEFAULT_ROLES = ("deployer", "provider")
DEFAULT_CATALOGUES = ("eu-ai-act-high-risk", "nist-ai-rmf")
ANNEX_III = "eu-ai-act/annex-iii"  # the catalogue's id of the annex; its points are ids below it
APPROVED_STATES = frozenset({VersionState.APPROVED, VersionState.DEPLOYED, VersionState.RETIRED})


@dataclass
class Found:
    """One evidence item judged: satisfied or not, the trail event behind it, and what it is in words."""

    kind: str
    settings: dict[str, Any]
    satisfied: bool
    description: str
    event: Event | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind, **self.settings, "satisfied": self.satisfied}
        body["description"] = self.description
        if self.event is not None:
            body["event"] = event_ref(self.event)
        return body


@dataclass
class Line:
    """One obligation's status for the version."""

    catalogue: str
    catalogue_version: int
    obligation: Obligation
    status: str  # met, attested, not_applicable, missing
    evidence: list[Found] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    decision: ObligationDecision | None = None

    def as_dict(self) -> dict[str, Any]:
        o = self.obligation
        body: dict[str, Any] = {
            "catalogue": self.catalogue,
            "catalogue_version": self.catalogue_version,
            "id": o.id,
            "title": o.title,
            "summary": o.summary,
            "citations": [{"id": c, "label": label} for c, label in zip(o.citations, o.labels(), strict=False)],
            "control": o.control,
            "status": self.status,
            "requires": "all" if o.requires_all else "any",
            "evidence": [f.as_dict() for f in self.evidence if f.satisfied],
            "missing": [f.description for f in self.evidence if not f.satisfied] if self.status == "missing" else [],
            "notes": self.notes,
        }
        if self.decision is not None:
            d = self.decision
            body["decision"] = {
                "kind": d.kind,
                "reason": d.reason,
                "document_name": d.document_name,
                "document_sha256": d.document_sha256,
                "decided_by": d.decided_by.get_username(),
                "decided_at": d.decided_at.isoformat(),
                "event": event_ref(Event.objects.get(seq=d.event_seq)),
            }
        return body


def event_ref(event: Event) -> dict[str, Any]:
    """The event, and where its inclusion proof is: against the latest signed checkpoint when that covers it, else
    against the trail's current size (``signed`` False: a root no checkpoint has signed yet)."""
    signed_size = Checkpoint.objects.order_by("-id").values_list("tree_size", flat=True).first() or 0
    signed = event.seq < signed_size
    size = signed_size if signed else tree_size()
    return {
        "seq": event.seq,
        "action": event.action,
        "recorded_at": event.recorded_at.isoformat(),
        "leaf_hash": bytes(event.leaf_hash).hex(),
        "inclusion_proof": f"{reverse('api:trail-proof-inclusion')}?seq={event.seq}&tree_size={size}",
        "signed": signed,
    }


def _latest_event(action: str, obj: Any) -> Event | None:
    return (
        Event.objects.filter(action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .order_by("-seq")
        .first()
    )


def scope_of(model: RegisteredModel) -> tuple[tuple[str, ...], tuple[str, ...], ObligationScope | None]:
    """(roles, catalogues, the stored scope or None when the defaults apply) of ``model``."""
    scope = ObligationScope.objects.filter(model=model).first()
    if scope is None:
        return DEFAULT_ROLES, DEFAULT_CATALOGUES, None
    return tuple(scope.roles), tuple(scope.catalogues), scope


def cited_annex_iii(version: ModelVersion) -> set[str]:
    """The Annex III ids the model's classification cites (registry.risk's basis)."""
    basis = version.model.risk_basis or {}
    cited = basis.get("citations", []) if isinstance(basis, dict) else []
    return {c["id"] for c in cited if isinstance(c, dict) and str(c.get("id", "")).startswith(f"{ANNEX_III}/")}


def applicability(
    obligation: Obligation, *, tier: str, roles: tuple[str, ...], annex: set[str]
) -> tuple[bool, list[str]]:
    """Whether ``obligation`` applies to a system of ``tier`` whose organisation holds ``roles`` and whose
    classification cites ``annex``; with the reason in words (why not, or a note on a conservative reading)."""
    if tier not in obligation.tiers:
        return False, [f"applies to the tiers {', '.join(sorted(obligation.tiers))}; the model's tier is {tier}"]
    held = obligation.roles & set(roles)
    if not held:
        return False, [f"applies to a {' or '.join(sorted(obligation.roles))}; the organisation is {', '.join(roles)}"]
    if not obligation.annex_iii:
        return True, []
    exact = [p for p in obligation.annex_iii if p in annex or any(c.startswith(p + "/") for c in annex)]
    if exact:
        return True, []
    wider = sorted(c for c in annex for p in obligation.annex_iii if p.startswith(c + "/"))
    if wider:
        return True, [
            f"the classification cites {', '.join(dict.fromkeys(wider))} without its point's letter; this applies "
            f"to {', '.join(obligation.annex_iii)}, so it is counted until an officer declares it not applicable"
        ]
    return False, [f"applies to systems under {', '.join(obligation.annex_iii)}; the classification cites none"]


def _audit_passed(settings: dict[str, Any], version: ModelVersion, _decision: Any, now: dt.datetime) -> Found:
    policy, days = settings["policy"], settings["within_days"]
    run = (
        AuditRun.objects.filter(
            model_version=version,
            status=RunStatus.DONE,
            verdict=Verdict.PASS,
            policy_version__policy__name=policy,
            finished_at__gte=now - dt.timedelta(days=days),
        )
        .order_by("-finished_at")
        .first()
    )
    if run is None or run.finished_at is None:
        return Found("audit_passed", settings, False, f"An audit under {policy} that passes, within {days} days.")
    return Found(
        "audit_passed",
        settings,
        True,
        f"Audit run {run.pk} under {policy} passed on {run.finished_at:%Y-%m-%d}.",
        _latest_event("audit.completed", run),
    )


def _approval(settings: dict[str, Any], version: ModelVersion, _decision: Any, _now: dt.datetime) -> Found:
    event = _latest_event("model_version.approved", version)
    if version.state not in APPROVED_STATES or event is None:
        return Found("approval", settings, False, "The version approved by its required reviewers.")
    return Found("approval", settings, True, "Approved by its required reviewers.", event)


def _card_section(settings: dict[str, Any], version: ModelVersion, _decision: Any, _now: dt.datetime) -> Found:
    section = settings["section"]
    value = (version.model_card or {}).get(section)
    if not (isinstance(value, str) and value.strip()):
        return Found("model_card_section", settings, False, f"The model card's {section} section, filled in.")
    # The event that last wrote the section: an edit naming it, else the registration that brought the card.
    edits = Event.objects.filter(
        action="model_card.edited", object_type=version._meta.label_lower, object_id=str(version.pk)
    ).order_by("-seq")
    event = next((e for e in edits if section in (e.payload or {}).get("sections", [])), None)
    event = event or _latest_event("model_version.registered", version)
    return Found("model_card_section", settings, True, f"The model card's {section} section is filled in.", event)


def _monitoring(settings: dict[str, Any], version: ModelVersion, _decision: Any, _now: dt.datetime) -> Found:
    config = MonitorConfig.objects.filter(version=version).first()
    if config is None:
        return Found("monitoring_configured", settings, False, "Monitoring configured for the version.")
    event = _latest_event("monitoring.configured", config)
    return Found("monitoring_configured", settings, True, "Monitoring is configured.", event)


def _lineage(settings: dict[str, Any], version: ModelVersion, _decision: Any, _now: dt.datetime) -> Found:
    link = LineageLink.objects.filter(model_version=version).select_related("run").order_by("-run_id").first()
    if link is None:
        return Found("lineage_recorded", settings, False, "A lineage run that records the version as its output.")
    return Found(
        "lineage_recorded",
        settings,
        True,
        f"Lineage run {link.run_id} records the version as its output.",
        _latest_event("lineage_run.recorded", link.run),
    )


def _attestation(
    settings: dict[str, Any], _version: ModelVersion, decision: ObligationDecision | None, _now: dt.datetime
) -> Found:
    if decision is None or decision.kind != DecisionKind.ATTESTED:
        return Found("attestation", settings, False, f"An officer's attestation: {settings['document']}")
    return Found(
        "attestation",
        settings,
        True,
        f"Attested with {decision.document_name} (sha256 {decision.document_sha256}).",
        Event.objects.filter(seq=decision.event_seq).first(),
    )


# One judge per evidence kind (obligations.catalogues.schema.EVIDENCE_KINDS; the tests check both lists agree).
JUDGES = {
    "audit_passed": _audit_passed,
    "approval": _approval,
    "model_card_section": _card_section,
    "monitoring_configured": _monitoring,
    "lineage_recorded": _lineage,
    "attestation": _attestation,
}


def _line(
    *,
    catalogue: Catalogue,
    number: int,
    obligation: Obligation,
    version: ModelVersion,
    decisions: dict[tuple[str, str], ObligationDecision],
    now: dt.datetime,
) -> Line:
    decision = decisions.get((catalogue.name, obligation.id))
    line = Line(catalogue.name, number, obligation, "missing", decision=decision)
    if decision is not None and decision.kind == DecisionKind.NOT_APPLICABLE:
        line.status = "not_applicable"
        return line
    line.evidence = [JUDGES[item.kind](dict(item.settings), version, decision, now) for item in obligation.evidence]
    satisfied = [f for f in line.evidence if f.satisfied]
    done = len(satisfied) == len(line.evidence) if obligation.requires_all else bool(satisfied)
    if done:
        line.status = "attested" if any(f.kind == "attestation" for f in satisfied) else "met"
        if not obligation.requires_all and line.status == "attested" and len(satisfied) > 1:
            line.status = "met"  # other evidence satisfies it too; the attestation stays listed
    return line


def compliance_status(
    version: ModelVersion, *, now: dt.datetime | None = None, catalogues: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Every obligation of the catalogues that apply to ``version``'s model (or of ``catalogues``, as the deployment
    gate asks), with its status (JSON-ready)."""
    now = now or timezone.now()
    ensure_builtin_catalogues()
    roles, names, scope = scope_of(version.model)
    names = names if catalogues is None else catalogues
    tier = version.model.risk_tier
    annex = cited_annex_iii(version)
    decisions: dict[tuple[str, str], ObligationDecision] = {}
    for d in (
        ObligationDecision.objects.filter(version=version).select_related("decided_by").order_by("decided_at", "id")
    ):
        decisions[(d.catalogue, d.obligation)] = d  # the latest decision on each obligation is in force
    found: list[dict[str, Any]] = []
    for name in names:
        stored = CatalogueVersion.objects.filter(catalogue__name=name).order_by("-number").first()
        if stored is None:
            continue
        parsed = load_catalogue(stored.text)
        lines, outside = [], []
        for obligation in parsed.obligations:
            applies, notes = applicability(obligation, tier=tier, roles=roles, annex=annex)
            if not applies:
                outside.append({"id": obligation.id, "title": obligation.title, "why": notes[0]})
                continue
            line = _line(
                catalogue=parsed,
                number=stored.number,
                obligation=obligation,
                version=version,
                decisions=decisions,
                now=now,
            )
            line.notes += notes
            lines.append(line.as_dict())
        counts = {
            s: sum(1 for line in lines if line["status"] == s) for s in ("met", "attested", "not_applicable", "missing")
        }
        found.append(
            {
                "name": name,
                "title": parsed.title,
                "framework": parsed.framework,
                "binding": parsed.binding,
                "version": stored.number,
                "sha256": stored.canonical_sha256,
                "counts": counts,
                "obligations": lines,
                "not_applicable_by_rule": outside,
            }
        )
    return {
        "model": version.model.name,
        "version": version.number,
        "risk_tier": tier,
        "annex_iii": sorted(annex),
        "roles": list(roles),
        "roles_declared": scope is not None,
        "computed_at": now.isoformat(),
        "catalogues": found,
    }
