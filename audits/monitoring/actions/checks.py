"""Checking batches: the policy's rules, a lease so one worker checks each batch, statistics, judgement, and the
sweep (``run_due_checks``) that runs every check still due."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from contextlib import nullcontext
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audits.monitoring import events
from audits.monitoring.actions.common import (
    ERROR_KIND,
    MonitoringError,
    _config,
    _open_finding,
    _policy_document,
    _ref,
    _stored_path,
    logger,
)
from audits.monitoring.actions.findings import _alert_json, _email, _finding_for_alert
from audits.monitoring.actions.sources import compute_source_batch, pull_due_partitions
from audits.monitoring.batch import BatchError, BatchSpec, FairnessRules, compute
from audits.monitoring.drift import cut_label
from audits.monitoring.judge import batch_outcome, cause_for, judge
from audits.policies import builtin_policies, load_policy
from governance.leases import Heartbeat
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event
from registry.models import (
    BatchStatus,
    DriftStatistic,
    Finding,
    ModelVersion,
    MonitorConfig,
    MonitoringBatch,
)
from registry.webhooks import queue_deliveries


def _shipped_baseline_monitoring() -> dict[str, Any]:
    return dict(load_policy(builtin_policies()["baseline"]).document["monitoring"])


def monitoring_rules(version: ModelVersion, config: MonitorConfig) -> tuple[dict[str, Any], FairnessRules, str]:
    """The thresholds (the policy's ``monitoring`` section, completed from the baseline policy's), the live
    fairness rules (the policy's group size, confidence and intersections) and the policy's name and version."""
    name = config.policy or settings.AUDIT_REQUIRED_POLICIES.get(version.model.risk_tier) or "baseline"
    policy = _policy_document(name)
    document = policy.document
    thresholds = dict(_policy_document("baseline").document.get("monitoring") or {})
    impact = (document.get("checks", {}).get("disparate_impact") or {}).get("impact_ratio_min")
    if impact and "impact_ratio_alert" not in (document.get("monitoring") or {}):
        thresholds["impact_ratio_alert"] = impact  # the policy's own audit threshold, with its basis
    thresholds.update(document.get("monitoring") or {})
    if "min_batch_rows" not in thresholds:  # a baseline stored before the key existed: the shipped one's, with basis
        thresholds["min_batch_rows"] = _shipped_baseline_monitoring()["min_batch_rows"]
    reference = (document.get("checks", {}).get("disparate_impact") or {}).get("reference_group")
    small_groups = document.get("small_groups") or {}
    rules = FairnessRules(
        impact_ratio_min=float(thresholds.get("impact_ratio_alert", {}).get("value", 0.8)),
        min_group_size=int(document["min_group_size"]),
        confidence_level=float(document["confidence_level"]),
        intersections=document.get("intersections", False),
        reference_group=reference if isinstance(reference, Mapping) else None,
        basis=thresholds.get("impact_ratio_alert", {}).get("basis"),
        small_groups=small_groups.get("handling", "insufficient"),
        small_groups_basis=small_groups.get("basis"),
        exclude_groups_below_share=(document.get("checks", {}).get("disparate_impact") or {}).get(
            "exclude_groups_below_share"
        ),
    )
    return thresholds, rules, f"{policy.policy.name} v{policy.number}"


def _claim(batch_id: int, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.MONITORING_CHECK_LEASE_SECONDS)
    due = Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.RUNNING, lease_until__lt=now)
    return bool(MonitoringBatch.objects.filter(due, pk=batch_id).update(status=BatchStatus.RUNNING, lease_until=lease))


def _extend_lease(batch_id: int) -> None:
    """A running check's heartbeat: its lease runs from now again (a check whose worker died stops beating)."""
    lease = timezone.now() + dt.timedelta(seconds=settings.MONITORING_CHECK_LEASE_SECONDS)
    MonitoringBatch.objects.filter(pk=batch_id, status=BatchStatus.RUNNING).update(lease_until=lease)


def execute_check(batch_id: int, *, now: dt.datetime | None = None) -> MonitoringBatch:
    """Check one batch if it is due and nobody else is checking it: statistics, judgement, findings, events.
    A check that cannot run ends in ``error`` with an open error finding, never silently.

    While it runs, a heartbeat (governance.leases) extends its lease every quarter lease, so only a check whose
    worker died is taken over by the next sweep (``due_batches``), never one that is merely long."""
    if not _claim(batch_id, now):
        return MonitoringBatch.objects.get(pk=batch_id)
    batch = MonitoringBatch.objects.select_related("version__model", "data", "labels").get(pk=batch_id)
    version = batch.version
    # Inside a caller's transaction another connection cannot see the row: the lease as claimed must do.
    beating = (
        nullcontext()
        if connection.in_atomic_block
        else Heartbeat(partial(_extend_lease, batch_id), interval=settings.MONITORING_CHECK_LEASE_SECONDS / 4)
    )
    try:
        config = _config(version)
        thresholds, rules, policy_label = monitoring_rules(version, config)
        labels = batch.labels
        with beating:
            if batch.data.source_uri:  # a partition read where it lives (actions.sources)
                results = compute_source_batch(
                    batch.data, spec=BatchSpec.from_json(config.spec), profile=config.profile, rules=rules
                )
            else:
                results = compute(
                    _stored_path(batch.data),
                    fmt=batch.data.format,
                    delimiter=batch.data.delimiter or ",",
                    spec=BatchSpec.from_json(config.spec),
                    profile=config.profile,
                    rules=rules,
                    labels_path=_stored_path(labels) if labels else None,
                    labels_fmt=labels.format if labels else "csv",
                    labels_delimiter=(labels.delimiter or ",") if labels else ",",
                )
    except (BatchError, MonitoringError, OSError) as exc:
        return _fail(batch, str(exc))
    except Exception as exc:  # a bug or a hostile file: recorded as an error finding, never lost
        logger.exception("the check of batch %s failed", batch_id)
        return _fail(batch, f"The check failed unexpectedly ({type(exc).__name__}).")
    judgement = judge(results, thresholds=thresholds, baseline=config.baseline)
    return _store(batch, config, results, judgement, policy_label)


def _store(batch: MonitoringBatch, config: MonitorConfig, results: dict, judgement: Any, policy_label: str) -> Any:
    version = batch.version
    actor = Actor.system()
    results = {
        **results,
        "policy": policy_label,
        "baseline": config.baseline,
        "alerts": [_alert_json(a) for a in judgement.alerts],
        "warnings": [_alert_json(a) for a in judgement.warnings],
        "evidence": judgement.evidence,
    }
    opened: list[Finding] = []
    with transaction.atomic():
        locked = MonitoringBatch.objects.select_for_update().get(pk=batch.pk)
        raised_before = set((locked.results or {}).get("raised", []))
        results["raised"] = sorted(raised_before | {a.cause for a in judgement.alerts})
        digest = hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest()
        locked.results, locked.results_sha256 = results, digest
        locked.status, locked.lease_until, locked.error = BatchStatus.CHECKED, None, ""
        locked.alerts, locked.warnings = len(judgement.alerts), len(judgement.warnings)
        locked.checked_at, locked.policy_version = timezone.now(), policy_label
        locked.profile_sha256 = config.profile_sha256
        locked.attempts += 1
        locked.save()
        DriftStatistic.objects.filter(batch=locked).delete()
        DriftStatistic.objects.bulk_create(
            DriftStatistic(batch=locked, version=version, **_statistic_row(row)) for row in judgement.statistics
        )
        record_event(
            events.BATCH_CHECKED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(version),
                "batch": locked.number,
                "results_sha256": digest,
                "profile_sha256": config.profile_sha256,
                "policy": policy_label,
                "alerts": len(judgement.alerts),
                "warnings": len(judgement.warnings),
                "outcome": batch_outcome(
                    BatchStatus.CHECKED,
                    alerts=len(judgement.alerts),
                    warnings=len(judgement.warnings),
                    results=results,
                ),
            },
        )
        for alert in judgement.alerts:
            if alert.cause in raised_before:
                continue  # checked again (labels arrived): an alert already raised for this batch is not repeated
            finding, new = _finding_for_alert(version, locked, alert, actor=actor)
            if new:
                opened.append(finding)
    if opened:
        transaction.on_commit(lambda: _email(version, opened), robust=True)
    return locked


def _statistic_row(row: Mapping[str, Any]) -> dict[str, Any]:
    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return {
        # Cut with a hash of the whole name: two long group names that share 300 characters stay two series.
        "subject": cut_label(str(row["subject"]), 300),
        "kind": row["kind"],
        "statistic": row["statistic"],
        "value": number(row["value"]),
        "p_value": number(row["p_value"]),
        "level": row["level"],
    }


def _fail(batch: MonitoringBatch, message: str) -> MonitoringBatch:
    version = batch.version
    actor = Actor.system()
    opened: list[Finding] = []
    with transaction.atomic():
        locked = MonitoringBatch.objects.select_for_update().get(pk=batch.pk)
        locked.status, locked.lease_until, locked.error = BatchStatus.ERROR, None, message
        locked.attempts += 1
        locked.checked_at = timezone.now()
        locked.save(update_fields=["status", "lease_until", "error", "attempts", "checked_at"])
        event = record_event(
            events.CHECK_FAILED,
            actor=actor,
            obj=locked,
            payload={**_ref(version), "batch": locked.number, "error_sha256": text_commitment(message)},
        )
        queue_deliveries(event, model_id=version.model_id)
        finding, new = _open_finding(
            version,
            kind=ERROR_KIND,
            cause=cause_for("error", "batch", str(locked.pk)),
            title=f"Batch {locked.number} of {version} could not be checked: {message}",
            details={"batches": [locked.number], "error": message},
            actor=actor,
        )
        if new:
            opened.append(finding)
    if opened:
        transaction.on_commit(lambda: _email(version, opened), robust=True)
    return locked


def due_batches(now: dt.datetime | None = None) -> list[int]:
    """Ids of batches whose check is due: pending, or running past their lease (a worker that died)."""
    now = now or timezone.now()
    due = Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.RUNNING, lease_until__lt=now)
    return list(MonitoringBatch.objects.filter(due).order_by("id").values_list("pk", flat=True))


def run_due_checks(now: dt.datetime | None = None) -> dict[str, int]:
    """Take every due partition of a batch source, then check every due batch (idempotent: a checked batch is not
    checked again); counts by outcome. A check whose worker died (running past its lease, ``now`` by default the
    clock) is taken over."""
    counts = {"checked": 0, "error": 0, "skipped": 0}
    # Partitions of batch sources that are due become batches first (actions.sources), then every due batch is checked.
    pulled = pull_due_partitions(now)
    if any(pulled.values()):
        logger.info("batch sources: %s", pulled)
    for batch_id in due_batches(now):
        batch = execute_check(batch_id, now=now)
        key = batch.status if batch.status in ("checked", "error") else "skipped"
        counts[key] += 1
    return counts
