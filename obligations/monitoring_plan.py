"""A version's post-market monitoring plan (Art. 72 of Regulation (EU) 2024/1689) from its monitoring configuration,
with every gap shown as a gap.

Art. 72(1)-(2) ask the provider to collect and analyse data on the system's performance over its lifetime to evaluate
continued compliance; Art. 72(3) makes the plan part of the Annex IV documentation. The plan says what Assay watches
(the batch columns and the reference they are compared with), the statistics and the thresholds that judge them
(with each threshold's stated basis), when batches are checked, who is told when one crosses a threshold, and what the
configuration leaves unwatched. It states nothing Assay does not hold: no person's address enters it (people are
counted, not named).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from audits.monitoring.actions import monitoring_rules
from audits.monitoring.batch import BatchSpec
from governance.citations import labels
from registry.models import ModelVersion, MonitorConfig, MonitoringBatch, Webhook

# What each monitoring threshold of a policy judges (the keys the baseline policy ships); a key not listed here is
# shown with the policy's own basis only.
MEASURES = {
    "psi_warning": "Population stability index of each input and of the score against the reference: a warning",
    "psi_alert": "Population stability index of each input and of the score against the reference: an alert",
    "impact_ratio_alert": "Impact ratio of favourable outcomes between groups of each protected attribute",
    "accuracy_drop_alert": "Drop in accuracy from the version's baseline, once labels arrive",
    "min_batch_rows": "Fewest rows a batch needs before its statistics are judged (fewer: insufficient evidence)",
}
CITATIONS = ("eu-ai-act/art-72/1", "eu-ai-act/art-72/2")
SECTIONS = {
    "1": "What is monitored",
    "2": "Metrics and thresholds",
    "3": "Schedule",
    "4": "Who is alerted",
    "5": "Record so far",
}


def _monitored(config: MonitorConfig, spec: BatchSpec, gaps: list[str]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "reference": f"{config.reference.dataset.name} v{config.reference.number}",
        "reference_kind": config.reference_kind,
        "reference_profile_sha256": config.profile_sha256,
        "inputs": [f"{name} ({kind})" for name, kind in spec.features],
        "batches_dataset": config.batches_dataset.name,
        "configured_at": config.configured_at.isoformat(),
    }
    for field, value in (("prediction", spec.prediction), ("score", spec.score), ("label", spec.label)):
        if value:
            content[field] = value
    if spec.protected:
        content["protected_attributes"] = list(spec.protected)
    else:
        gaps.append("1: no protected attribute is named, so bias between groups is not monitored")
    if not spec.label:
        gaps.append("1: no label column, so accuracy is not monitored (only drift and, if named, group outcomes)")
    if not (spec.prediction or spec.score):
        gaps.append("1: neither a prediction nor a score column, so the model's outputs are not monitored")
    return content


def _thresholds(version: ModelVersion, config: MonitorConfig, gaps: list[str]) -> dict[str, Any]:
    thresholds, rules, policy_label = monitoring_rules(version, config)
    listed = []
    for name in sorted(thresholds):
        threshold = thresholds[name]
        basis = threshold.get("basis") or {}
        listed.append(
            {
                "name": name,
                "measures": MEASURES.get(name, "(as the policy names it)"),
                "value": threshold.get("value"),
                "operator": threshold.get("operator", ""),
                "basis": basis.get("text", ""),
                "citations": list(basis.get("citations") or []),
            }
        )
    if not config.baseline:
        gaps.append("2: no performance baseline is recorded, so a drop in accuracy cannot be measured")
    return {
        "policy": policy_label,
        "thresholds": listed,
        "min_group_size": rules.min_group_size,
        "confidence_level": rules.confidence_level,
        "baseline": dict(config.baseline or {}),
    }


def _alerted(version: ModelVersion, gaps: list[str]) -> dict[str, Any]:
    model = version.model
    webhooks = Webhook.objects.filter(model=model, active=True).count()
    email = bool(settings.MONITORING_EMAIL_ALERTS)
    people = model.team.members.filter(is_active=True).exclude(email="").count() if email else 0
    if not webhooks and not people:
        gaps.append("4: nobody outside Assay is told of an alert (no active webhook, and no e-mail alert goes out)")
    return {
        "findings": f"An alert opens a finding on the version for team {model.team.name} to decide on.",
        "team": model.team.name,
        "email_alerts": email,
        "people_emailed": people,
        "active_webhooks": webhooks,
        "trail_events": ["monitoring.batch_checked", "monitoring.alert_raised", "finding.opened"],
    }


def _record(version: ModelVersion, gaps: list[str]) -> dict[str, Any]:
    batches = MonitoringBatch.objects.filter(version=version)
    last = batches.order_by("-number").first()
    if last is None:
        gaps.append("5: no production batch has been received yet")
        return {"batches": 0}
    return {
        "batches": batches.count(),
        "alerts": sum(batches.values_list("alerts", flat=True)),
        "last_batch": last.number,
        "last_batch_status": last.status,
    }


def monitoring_plan(version: ModelVersion) -> dict[str, Any]:
    """The post-market monitoring plan of ``version`` (JSON-ready), every gap shown as a gap."""
    points: dict[str, tuple[dict[str, Any], list[str]]] = {key: ({}, []) for key in SECTIONS}
    config = (
        MonitorConfig.objects.filter(version=version)
        .select_related("reference__dataset", "batches_dataset", "version__model__team")
        .first()
    )
    if config is None:
        points["1"][1].append("1: monitoring is not configured for this version: nothing is monitored")
    else:
        spec = BatchSpec.from_json(config.spec)
        points["1"][0].update(_monitored(config, spec, points["1"][1]))
        points["2"][0].update(_thresholds(version, config, points["2"][1]))
        every = settings.CELERY_BEAT_SCHEDULE.get("monitoring-due-checks", {}).get("schedule")
        points["3"][0].update(
            {
                "batches": "Each batch is checked when it arrives, and again when its labels arrive.",
                "due_checks_every_seconds": every,
                "cadence_of_batches": "Set by whoever sends the batches; Assay does not require one.",
            }
        )
        points["3"][1].append("3: no cadence of production batches is committed to (Assay checks what it is sent)")
        points["4"][0].update(_alerted(version, points["4"][1]))
    points["5"][0].update(_record(version, points["5"][1]))
    sections = [
        {"point": key, "title": SECTIONS[key], "content": points[key][0], "gaps": points[key][1]} for key in SECTIONS
    ]
    return {
        "model": version.model.name,
        "version": version.number,
        "generated_at": timezone.now().isoformat(),
        "citations": list(CITATIONS),
        "cited": labels(CITATIONS),
        "sections": sections,
        "gaps": sum(len(s["gaps"]) for s in sections),
    }
