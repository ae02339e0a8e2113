"""A version's compliance status as an OSCAL assessment-results document (OSCAL 1.2.1, JSON).

Why assessment results: it is the OSCAL model for "what was assessed, what was observed, what was found", which is
what the status says: each applicable obligation is a reviewed control, each piece of evidence an observation (its
relevant-evidence link the inclusion proof of its trail event), and each obligation's status a finding (satisfied or
not-satisfied). An obligation an officer declared not applicable is excluded from the reviewed controls, and the
officer's reason is an observation. A component definition would describe what Assay offers, not what one system
shows; a system security plan describes implementation statements Assay does not hold.

Control ids are ``<catalogue>_<obligation>`` (an OSCAL token). UUIDs are version 5, derived from the model, version,
the status's time and the obligation, so the same status exports the same document. Assay has no separate
assessment plan: ``import-ap`` points at the status API, whose catalogues' obligations and evidence kinds are the plan.
The tests validate the output with compliance-trestle's OSCAL models (generated from NIST's OSCAL 1.2.1 JSON
schemas, extra fields forbidden); nothing here needs that package at run time.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from django.utils import timezone

from governance.citations import cite
from obligations.catalogues import load_catalogue
from obligations.models import CatalogueVersion
from registry.models import ModelVersion

OSCAL_VERSION = "1.2.1"
_NAMESPACE = uuid.UUID("5b0f6f7e-8f1e-5f55-9d36-0a55a7a0c0de")  # Assay's: any fixed UUID keeps ids stable


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def control_id(catalogue: str, obligation: str) -> str:
    """The OSCAL control id of an obligation: ``eu-ai-act-high-risk_art-9-risk-management``."""
    return f"{catalogue}_{obligation}"


def _observation(key: tuple[object, ...], description: str, method: str, collected: str, event: Any) -> dict:
    body: dict[str, Any] = {
        "uuid": _uuid(*key),
        "description": description,
        "methods": [method],
        "collected": collected,
    }
    if event:
        body["relevant-evidence"] = [
            {
                "href": event["inclusion_proof"],
                "description": (
                    f"Trail event {event['seq']} ({event['action']}, {event['recorded_at']}), leaf hash "
                    f"{event['leaf_hash']}: its inclusion proof against a signed checkpoint."
                ),
            }
        ]
    return body


def assessment_results(version: ModelVersion, status: dict[str, Any]) -> dict[str, Any]:
    """The OSCAL assessment-results document of ``status`` (obligations.status.compliance_status of ``version``)."""
    stamp = status["computed_at"]
    base = (status["model"], status["version"], stamp)
    included: list[dict[str, str]] = []
    excluded: list[dict[str, str]] = []
    observations: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for catalogue in status["catalogues"]:
        for line in catalogue["obligations"]:
            cid = control_id(catalogue["name"], line["id"])
            key = (*base, catalogue["name"], line["id"])
            related: list[str] = []
            if line["status"] == "not_applicable":
                excluded.append({"control-id": cid})
                decision = line["decision"]
                observations.append(
                    _observation(
                        (*key, "decision"),
                        f"Declared not applicable by {decision['decided_by']}: {decision['reason']}",
                        "INTERVIEW",
                        decision["decided_at"],
                        decision["event"],
                    )
                )
                continue
            included.append({"control-id": cid})
            for index, evidence in enumerate(line["evidence"]):
                method = "TEST" if evidence["kind"] == "audit_passed" else "EXAMINE"
                observation = _observation((*key, index), evidence["description"], method, stamp, evidence.get("event"))
                observations.append(observation)
                related.append(observation["uuid"])
            if line["status"] == "missing":
                observation = _observation(
                    (*key, "missing"),
                    "No evidence yet. Would satisfy it: " + "; ".join(line["missing"]),
                    "EXAMINE",
                    stamp,
                    None,
                )
                observations.append(observation)
                related.append(observation["uuid"])
            satisfied = line["status"] in ("met", "attested")
            finding: dict[str, Any] = {
                "uuid": _uuid(*key, "finding"),
                "title": f"{catalogue['title']}: {line['title']}",
                "description": line["summary"],
                "target": {
                    "type": "objective-id",
                    "target-id": cid,
                    "status": {
                        "state": "satisfied" if satisfied else "not-satisfied",
                        "reason": "pass" if satisfied else "fail",
                    },
                },
                "remarks": f"Assay status: {line['status']}. Cites: "
                + "; ".join(c["label"] for c in line["citations"])
                + (f" ({line['control']})" if line["control"] and not line["citations"] else ""),
            }
            if related:
                finding["related-observations"] = [{"observation-uuid": u} for u in related]
            findings.append(finding)
    selection: dict[str, Any] = {"include-controls": included} if included else {"include-all": {}}
    if excluded:
        selection["exclude-controls"] = excluded
    result: dict[str, Any] = {
        "uuid": _uuid(*base, "result"),
        "title": f"Obligations of {status['model']} v{status['version']}",
        "description": (
            f"Assay's compliance status of {status['model']} v{status['version']} (risk tier {status['risk_tier']}; "
            f"roles {', '.join(status['roles'])}) under the catalogues "
            + ", ".join(f"{c['name']} v{c['version']}" for c in status["catalogues"])
            + "."
        ),
        "start": stamp,
        "reviewed-controls": {"control-selections": [selection]},
    }
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    status_url = reverse("obligations-api:version-obligations", args=[version.model.name, version.number])
    return {
        "assessment-results": {
            "uuid": _uuid(*base),
            "metadata": {
                "title": f"Assay obligations assessment: {status['model']} v{status['version']}",
                "last-modified": timezone.now().isoformat(),
                "version": stamp,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {
                "href": status_url,
                "remarks": "No separate assessment plan: the catalogues' obligations and evidence kinds are the plan.",
            },
            "results": [result],
        }
    }


def catalog(version: CatalogueVersion) -> dict[str, Any]:
    """A stored catalogue version as an OSCAL catalog: one control per obligation (its id), the summary as the
    statement (Assay's words), each cited provision as a reference link, the standard's control id as a label."""
    parsed = load_catalogue(version.text)
    base = (parsed.name, version.number, version.canonical_sha256)
    controls = []
    for obligation in parsed.obligations:
        control: dict[str, Any] = {
            "id": obligation.id,
            "title": obligation.title,
            "parts": [{"id": f"{obligation.id}_smt", "name": "statement", "prose": obligation.summary}],
        }
        if obligation.control:
            control["props"] = [{"name": "label", "value": obligation.control}]
        if obligation.citations:
            control["links"] = [
                {"href": cite(c).url, "rel": "reference", "text": cite(c).label} for c in obligation.citations
            ]
        controls.append(control)
    return {
        "catalog": {
            "uuid": _uuid(*base),
            "metadata": {
                "title": parsed.title,
                "last-modified": version.created_at.isoformat(),
                "version": f"{parsed.name} v{version.number} (sha256 {version.canonical_sha256})",
                "oscal-version": OSCAL_VERSION,
                "remarks": f"Source: {parsed.document['source']}. Summaries are Assay's own words.",
            },
            "controls": controls,
        }
    }
