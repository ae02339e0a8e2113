"""Annex IV technical documentation of one model version, from what Assay holds, with every gap shown as a gap.

The nine points of Annex IV (as the 2024 text is quoted by the secondary sources that agree with each other; the
titles here are Assay's words): 1 general description, 2 elements and development, 3 monitoring, functioning and
control, 4 appropriateness of the performance metrics, 5 the risk management system, 6 changes over the lifecycle,
7 standards applied, 8 the EU declaration of conformity, 9 the post-market monitoring system and plan.

Each point lists what Assay can say (with the trail events that record it) and ``gaps``: what the point asks that
Assay does not hold. A point is never filled with text Assay did not receive: the declaration of conformity, for one,
is always a gap (a placeholder the provider completes). ``diff`` compares two versions' documents field by field.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from audits.models import AuditRun, RunStatus
from governance.data.models import LineageLink
from governance.trail.models import Event
from registry.models import ModelVersion, MonitorConfig

ANNEX_IV_POINTS = {
    "1": "General description of the AI system",
    "2": "Elements of the system and its development",
    "3": "Monitoring, functioning and control",
    "4": "Appropriateness of the performance metrics",
    "5": "Risk management system (Art. 9)",
    "6": "Changes through the lifecycle",
    "7": "Harmonised standards and other specifications applied",
    "8": "EU declaration of conformity",
    "9": "Post-market monitoring system and plan (Art. 72)",
}


def _card(version: ModelVersion, section: str) -> str:
    value = (version.model_card or {}).get(section)
    return value.strip() if isinstance(value, str) else ""


def _line(status: dict[str, Any], obligation: str) -> dict[str, Any] | None:
    for catalogue in status["catalogues"]:
        for line in catalogue["obligations"]:
            if catalogue["name"] == "eu-ai-act-high-risk" and line["id"] == obligation:
                return line
    return None


def _filled(content: dict[str, Any], gaps: list[str], field: str, value: Any, gap: str) -> None:
    """Put ``value`` under ``field``, or record ``gap`` when Assay holds nothing for it."""
    if value in (None, "", [], {}):
        gaps.append(gap)
    else:
        content[field] = value


def _point_1(version: ModelVersion, content: dict[str, Any], gaps: list[str]) -> None:
    model = version.model
    content.update({"system": model.name, "version": version.number, "framework": version.framework})
    _filled(content, gaps, "purpose", model.purpose, "1(a): the intended purpose")
    _filled(content, gaps, "intended_use", model.intended_use or _card(version, "intended_use"), "1(a): intended use")
    _filled(content, gaps, "out_of_scope_uses", model.out_of_scope_uses, "1(a): uses out of scope")
    if version.artifact_sha256:
        content["artifact"] = {
            "name": version.artifact_name,
            "sha256": version.artifact_sha256,
            "size": version.artifact_size,
        }
    else:
        gaps.append("1(c): the software itself (predictions only: the model lives elsewhere)")
    _filled(content, gaps, "input_schema", version.input_schema, "1(b): how the system interacts with other software")
    gaps += [
        "1(d): the forms in which the system is placed on the market or put into service",
        "1(e): the hardware it is intended to run on",
        "1(g): the user interface given to the deployer",
        "1(h): the instructions for use",
    ]


def _point_2(version: ModelVersion, status: dict[str, Any], content: dict[str, Any], gaps: list[str]) -> None:
    _filled(content, gaps, "design", _card(version, "model_details"), "2(b): the design and its key choices")
    _filled(content, gaps, "hyperparameters", version.hyperparameters, "2(b): the parameters of the model")
    _filled(
        content, gaps, "training_data", _card(version, "training_data"), "2(d): the training data and its provenance"
    )
    _filled(content, gaps, "training_datasets", version.training_datasets, "2(d): the training dataset versions")
    runs = LineageLink.objects.filter(model_version=version).values_list("run__run_id", flat=True)
    _filled(content, gaps, "lineage_runs", [str(r) for r in runs], "2(d): a lineage record of how it was trained")
    audits = [
        {
            "run": run.pk,
            "policy": f"{run.policy_version.policy.name} v{run.policy_version.number}",
            "verdict": run.verdict,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "results_sha256": run.results_sha256,
            "signed_reports": [r.sha256 for r in run.reports.all()],
        }
        for run in AuditRun.objects.filter(model_version=version, status=RunStatus.DONE).select_related(
            "policy_version__policy"
        )
    ]
    _filled(content, gaps, "validation_and_testing", audits, "2(g): validation and testing, with signed test reports")
    oversight = _line(status, "art-14-human-oversight")
    if oversight and oversight["status"] in ("met", "attested"):
        content["human_oversight"] = oversight["evidence"]
    else:
        gaps.append("2(e): the assessment of the human oversight measures (Art. 14)")
    gaps.append("2(h): the cybersecurity measures")


def _point_3(version: ModelVersion, content: dict[str, Any], gaps: list[str]) -> None:
    _filled(content, gaps, "limitations", _card(version, "caveats_and_recommendations"), "3: capabilities and limits")
    _filled(
        content, gaps, "groups", _card(version, "quantitative_analyses"), "3: accuracy for specific persons or groups"
    )
    _filled(content, gaps, "factors", _card(version, "factors"), "3: foreseeable unintended outcomes and risks")
    _filled(content, gaps, "input_specification", version.input_schema, "3: specifications of the input data")


def _point_5(version: ModelVersion, status: dict[str, Any], content: dict[str, Any], gaps: list[str]) -> None:
    model = version.model
    content["classification"] = {
        "tier": model.risk_tier,
        "rationale": model.risk_rationale,
        "cites": [c.get("id") for c in (model.risk_basis or {}).get("citations", []) if isinstance(c, dict)],
    }
    risk = _line(status, "art-9-risk-management")
    if risk and risk["status"] in ("met", "attested"):
        content["risk_management"] = risk["evidence"]
    else:
        gaps.append("5: the risk management system (Art. 9): " + "; ".join((risk or {}).get("missing", [])))


def _point_6(version: ModelVersion, content: dict[str, Any], gaps: list[str]) -> None:
    events = Event.objects.filter(object_type=version._meta.label_lower, object_id=str(version.pk)).order_by("seq")
    content["events"] = [{"seq": e.seq, "action": e.action, "recorded_at": e.recorded_at.isoformat()} for e in events]
    earlier = version.model.versions.filter(number__lt=version.number).order_by("-number").first()
    if earlier is not None:
        content["previous_version"] = earlier.number


def _point_9(version: ModelVersion, content: dict[str, Any], gaps: list[str]) -> None:
    config = MonitorConfig.objects.filter(version=version).select_related("reference__dataset").first()
    if config is None:
        gaps.append("9: the post-market monitoring plan (no monitoring configured)")
        return
    content["monitoring"] = {
        "reference": f"{config.reference.dataset.name} v{config.reference.number}",
        "reference_kind": config.reference_kind,
        "policy": config.policy or "(the policy the risk tier requires)",
        "profile_sha256": config.profile_sha256,
        "configured_at": config.configured_at.isoformat(),
        # Art. 72(3): the plan is part of this documentation; it is its own signed document.
        "plan": reverse("obligations-api:version-monitoring-plan", args=[version.model.name, version.number]),
    }


def technical_documentation(version: ModelVersion, status: dict[str, Any]) -> dict[str, Any]:
    """The Annex IV document of ``version`` (JSON-ready), ``status`` being its compliance status."""
    points: dict[str, tuple[dict[str, Any], list[str]]] = {key: ({}, []) for key in ANNEX_IV_POINTS}
    _point_1(version, *points["1"])
    _point_2(version, status, *points["2"])
    _point_3(version, *points["3"])
    content, gaps = points["4"]
    _filled(content, gaps, "metrics", version.metrics, "4: the metrics and their values")
    _filled(content, gaps, "why_these_metrics", _card(version, "metrics"), "4: why these metrics are appropriate")
    _point_5(version, status, *points["5"])
    _point_6(version, *points["6"])
    content, gaps = points["7"]
    frameworks = [f"{c['title']} v{c['version']}" for c in status["catalogues"] if not c["binding"]]
    _filled(content, gaps, "frameworks_followed", frameworks, "7: standards or specifications applied")
    gaps.append("7: the harmonised standards applied (none is recorded in Assay)")
    points["8"][1].append("8: a copy of the EU declaration of conformity (Art. 47): to be completed by the provider")
    _point_9(version, *points["9"])
    sections = [
        {"point": key, "title": ANNEX_IV_POINTS[key], "content": points[key][0], "gaps": points[key][1]}
        for key in ANNEX_IV_POINTS
    ]
    return {
        "model": version.model.name,
        "version": version.number,
        "generated_at": timezone.now().isoformat(),
        "sections": sections,
        "gaps": sum(len(s["gaps"]) for s in sections),
    }


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions' documents: per point, each content field whose value differs (changes to
    the trail events of point 6 are expected and left out), and the gaps closed and opened."""
    changes = []
    for before, after in zip(old["sections"], new["sections"], strict=True):
        fields = sorted(
            key
            for key in set(before["content"]) | set(after["content"])
            if key not in ("events", "version") and before["content"].get(key) != after["content"].get(key)
        )
        closed = [g for g in before["gaps"] if g not in after["gaps"]]
        opened = [g for g in after["gaps"] if g not in before["gaps"]]
        if fields or closed or opened:
            changes.append({"point": after["point"], "fields": fields, "gaps_closed": closed, "gaps_opened": opened})
    return changes
