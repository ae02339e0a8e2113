"""Monitoring actions: configure a version's monitoring (profiling its reference once), receive batches and late
labels, check batches, and turn alerts into findings, webhook notifications and e-mails.

Each action owns its transaction and appends its trail events inside it (STYLE.md). Reading and validating a file
happens before the transaction; the dataset version, the lineage run, the batch row and the events are written
together or not at all. A check runs after the upload commits (a Celery task; in process without a broker), and
``run_due_checks`` (``manage.py monitor``, the beat schedule) runs every check still due, so none is lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
from governance.data import events as data_events
from governance.data.models import Dataset, DatasetVersion
from governance.leases import Heartbeat
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor, record_event
from registry.models import (
    BatchStatus,
    DriftStatistic,
    Finding,
    FindingStatus,
    ModelVersion,
    MonitorConfig,
    MonitoringBatch,
    ReferenceKind,
)
from registry.monitoring import events
from registry.monitoring.batch import NUMERIC, BatchError, BatchSpec, FairnessRules, check_delimiter
from registry.monitoring.judge import Alert, cause_for, judge
from registry.webhooks import queue_deliveries

logger = logging.getLogger("assay.monitoring")

WRITERS = frozenset({Role.OWNER, Role.CI})
ERROR_KIND, UNDEPLOYED_KIND = "monitoring_error", "monitoring_undeployed"


class MonitoringError(ActionError):
    """A refused monitoring action (422 by default)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _ref(version: ModelVersion) -> dict[str, Any]:
    return {"model": version.model.name, "version": version.number}


def _require_writer(user: User, version: ModelVersion, what: str) -> None:
    require_role(user, WRITERS, what, error=MonitoringError)
    if not (user.is_organisation_wide or version.model.team_id in user.team_ids()):
        raise MonitoringError("You are not in this model's team.", code="not_in_team", status=403)


def _stored_path(dataset_version: DatasetVersion) -> Path:
    from django.core.files.storage import default_storage

    if not dataset_version.file:
        raise MonitoringError(f"{dataset_version} is registered by external URI; Assay cannot read it.")
    return Path(default_storage.path(str(dataset_version.file.name)))


# --- configuration ---------------------------------------------------------------------------------------------


def _reference_of(version: ModelVersion, user: User, kind: str, reference: DatasetVersion | None) -> DatasetVersion:
    if reference is not None:
        return reference
    if kind == ReferenceKind.TRAINING:
        from governance.data.actions import DataError, training_datasets_of

        try:
            found = training_datasets_of(user, version.training_datasets)
        except DataError as exc:
            raise MonitoringError(str(exc), field="reference") from None
        if not found:
            raise MonitoringError(f"{version} names no training dataset: give the reference dataset and version.")
        return found[0]
    from audits.models import AuditRun, RunStatus

    run = AuditRun.objects.filter(model_version=version, status=RunStatus.DONE).order_by("-finished_at").first()
    if run is None:
        raise MonitoringError(f"{version} has no finished audit: give the evaluation dataset and version.")
    return run.dataset_version


def _features(version: ModelVersion, table: Any, features: Sequence[Mapping[str, Any]] | None) -> list[dict]:
    import pyarrow as pa

    if not features:
        names = [c.get("name") for c in version.input_schema if isinstance(c, Mapping) and c.get("name")]
        if not names:
            raise MonitoringError(
                f"{version} has no input schema: list the features as [{{name, kind}}].", field="features"
            )
        features = [{"name": name} for name in names]
    result = []
    for item in features:
        name = item["name"]
        if name not in table.column_names:
            raise MonitoringError(f"The reference has no column {name!r}.", field="features")
        kind = item.get("kind")
        if not kind:
            arrow_type = table.schema.field(name).type
            numeric = pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            kind = NUMERIC if numeric else "categorical"
        result.append({"name": name, "kind": kind})
    return result


def _model_decisions(version: ModelVersion, table: Any, spec: BatchSpec) -> Any:
    """The model's favourable decisions on the reference rows (when it has an artifact), else None."""
    if not version.artifact:
        return None
    import numpy as np
    import pyarrow.compute as pc
    from django.core.files.storage import default_storage

    from registry.artifacts import load_predictor

    names = [c["name"] for c in version.input_schema if isinstance(c, Mapping) and c.get("name")]
    if not names or not set(names) <= set(table.column_names):
        # One tensor input (skl2onnx's "X"): the model reads the numeric features, in the configured order.
        names = [name for name, kind in spec.features if kind == NUMERIC]
    try:
        predictor = load_predictor(default_storage.path(str(version.artifact.name)), framework=version.framework)
        matrix = np.column_stack(
            [pc.cast(table.column(n), "float32").to_numpy(zero_copy_only=False) for n in names]
        ).astype(np.float32)
        outputs = np.asarray(predictor.predict(matrix))
    except Exception as exc:  # a reference the model cannot score: prediction drift is then unavailable, said so
        logger.info("the model could not score the reference: %s", exc)
        return None
    as_text = np.array(
        [str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer() else str(v) for v in outputs]
    )
    return (as_text == spec.favourable).astype(np.int8)


def _baseline(version: ModelVersion, profile: Mapping[str, Any]) -> dict[str, Any]:
    """Performance to measure decay from: the latest finished audit's, else the version's metrics, else the model's
    on the reference (when the reference has labels and decisions)."""
    from audits.models import AuditRun, RunStatus

    for run in AuditRun.objects.filter(model_version=version, status=RunStatus.DONE).order_by("-finished_at")[:5]:
        overall = ((run.results or {}).get("checks", {}).get("performance") or {}).get("overall")
        if overall and overall.get("accuracy") is not None:
            figures = {k: overall.get(k) for k in ("accuracy", "recall", "roc_auc")}
            return {**figures, "source": f"audit run {run.pk}"}
    metrics = {k: v for k, v in (version.metrics or {}).items() if k in ("accuracy", "recall", "roc_auc")}
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in metrics.values()):
        return {**{k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}, "source": "version metrics"}
    performance = profile.get("performance")
    if performance and performance.get("accuracy") is not None:
        return {k: performance.get(k) for k in ("accuracy", "recall", "roc_auc")} | {"source": "reference data"}
    return {}


def _batches_dataset(version: ModelVersion, user: User, actor: Actor) -> Dataset:
    existing = MonitorConfig.objects.filter(version__model=version.model).select_related("batches_dataset").first()
    if existing is not None:
        return existing.batches_dataset
    from governance.data.actions import do_register_dataset

    model = version.model
    name = f"{model.name[:85]}-batches"
    if Dataset.objects.filter(name=name).exists():
        name = f"{model.name[:75]}-batches-{model.pk}"
    return do_register_dataset(
        user=user,
        actor=actor,
        name=name,
        team=model.team,
        description=f"Production batches of model {model.name}, stored by monitoring.",
    )


def do_configure_monitoring(
    *,
    version: ModelVersion,
    user: User,
    actor: Actor,
    reference_kind: str = ReferenceKind.TRAINING,
    reference: DatasetVersion | None = None,
    features: Sequence[Mapping[str, Any]] | None = None,
    prediction: str = "",
    score: str = "",
    threshold: float | None = None,
    favourable: str = "1",
    label: str = "",
    protected: Sequence[str] = (),
    reference_groups: Mapping[str, str] | None = None,
    policy: str = "",
) -> MonitorConfig:
    """Set how a version is monitored and profile its reference once (replacing an earlier configuration)."""
    from governance.data.ingest import IngestError, read_table

    _require_writer(user, version, "configure monitoring")
    if reference_kind not in ReferenceKind.values:
        raise MonitoringError(f"reference_kind must be one of {', '.join(ReferenceKind.values)}.")
    if bool(prediction) == bool(score):
        raise MonitoringError("Name either a prediction column or a score column (with a threshold).")
    if score and threshold is None:
        raise MonitoringError("A score column needs a decision threshold.", field="threshold")
    if policy:
        _policy_document(policy)  # refuses an unknown policy now, not at the first check
    dataset_version = _reference_of(version, user, reference_kind, reference)
    roles = [c for c in (prediction, score, label, *protected) if c]
    try:
        table = read_table(
            _stored_path(dataset_version),
            fmt=dataset_version.format,
            delimiter=dataset_version.delimiter or ",",
            text_columns=[c for c in (prediction, label, *protected) if c],
        )
    except (IngestError, FileNotFoundError) as exc:
        raise MonitoringError(f"The reference cannot be read: {exc}", field="reference") from None
    feature_list = _features(version, table, features)
    clash = sorted({f["name"] for f in feature_list} & set(roles))
    if clash:
        raise MonitoringError(f"Columns cannot be both a feature and a role: {', '.join(clash)}.", field="features")
    spec_json = {
        "features": feature_list,
        "prediction": prediction,
        "score": score,
        "threshold": threshold,
        "favourable": favourable,
        "label": label,
        "protected": list(protected),
        "reference_groups": dict(reference_groups or {}),
    }
    spec = BatchSpec.from_json(spec_json)
    from registry.monitoring.batch import profile_reference

    has_decisions = (prediction and prediction in table.column_names) or (score and score in table.column_names)
    model_decisions = None if has_decisions else _model_decisions(version, table, spec)
    try:
        profile = profile_reference(table, spec, model_decisions=model_decisions)
    except BatchError as exc:
        raise MonitoringError(str(exc), field=exc.field) from None
    profile["reference"] = {
        "dataset": dataset_version.dataset.name,
        "version": dataset_version.number,
        "sha256": dataset_version.sha256,
    }
    profile_sha256 = hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()
    baseline = _baseline(version, profile)
    with transaction.atomic():
        ModelVersion.objects.select_for_update().get(pk=version.pk)
        batches = _batches_dataset(version, user, actor)
        config, _ = MonitorConfig.objects.update_or_create(
            version=version,
            defaults={
                "reference": dataset_version,
                "reference_kind": reference_kind,
                "spec": spec_json,
                "policy": policy,
                "profile": profile,
                "profile_sha256": profile_sha256,
                "baseline": baseline,
                "batches_dataset": batches,
                "configured_by": user,
                "configured_at": timezone.now(),
            },
        )
        record_event(
            events.MONITORING_CONFIGURED,
            actor=actor,
            obj=config,
            payload={
                **_ref(version),
                "reference": f"{dataset_version.dataset.name}@{dataset_version.number}",
                "reference_kind": reference_kind,
                "profile_sha256": profile_sha256,
                "policy": policy or None,
                "features": [f["name"] for f in feature_list],
            },
        )
    return config


# --- batches and labels --------------------------------------------------------------------------------------------


def _config(version: ModelVersion) -> MonitorConfig:
    config = MonitorConfig.objects.filter(version=version).select_related("reference", "batches_dataset").first()
    if config is None:
        raise MonitoringError(
            f"{version} has no monitoring configuration: PUT .../monitoring first (reference and column roles).",
            code="not_configured",
            status=409,
        )
    return config


def _delimiter(delimiter: str) -> str:
    try:
        return check_delimiter(delimiter)
    except BatchError as exc:
        raise MonitoringError(str(exc), field="delimiter") from None


def _inspect_upload(path: Path, name: str, *, max_bytes: int) -> str:
    from governance.data.ingest import IngestError, detect_format

    size = path.stat().st_size
    if size > max_bytes:
        raise MonitoringError(
            f"The file is {size:,} bytes; the limit is {max_bytes:,} (MONITORING_BATCH_MAX_BYTES).",
            code="too_large",
            status=413,
            field="file",
        )
    try:
        return detect_format(path, name=name)
    except IngestError as exc:
        raise MonitoringError(str(exc), code="invalid_file", field="file") from None


def _register_file(
    config: MonitorConfig, *, user: User, actor: Actor, path: Path, name: str, delimiter: str, what: str
) -> DatasetVersion:
    from governance.data.actions import DataError, do_record_run, do_register_dataset_version

    version = config.version
    try:
        data = do_register_dataset_version(
            dataset=config.batches_dataset,
            user=user,
            actor=actor,
            file_path=path,
            file_name=name,
            delimiter=delimiter,
            source=f"{what} of {version.model.name} v{version.number}",
        )
        # The model's production scoring made this data: a run that outputs it, named after the version.
        do_record_run(
            user=user,
            actor=actor,
            job_name=f"monitor/{version.model.name}/v{version.number}",
            outputs=[data],
            code_ref=version.artifact_sha256,
            parameters={"model": version.model.name, "version": version.number, "kind": what},
        )
    except DataError as exc:
        raise MonitoringError(str(exc), code=exc.code, status=exc.status, field=exc.field or "file") from None
    return data


def do_upload_batch(
    *, version: ModelVersion, user: User, actor: Actor, file_path: Path, file_name: str = "", delimiter: str = ","
) -> MonitoringBatch:
    """Receive a production batch: validated against the configuration, stored as a dataset version linked by
    lineage, numbered, recorded, and queued for its check. A version that is not deployed is allowed, and flagged."""
    _require_writer(user, version, "send production batches")
    config = _config(version)
    delimiter = _delimiter(delimiter)
    fmt = _inspect_upload(file_path, file_name, max_bytes=settings.MONITORING_BATCH_MAX_BYTES)
    from registry.monitoring.batch import validate

    spec = BatchSpec.from_json(config.spec)
    try:
        rows = validate(file_path, fmt=fmt, spec=spec, delimiter=delimiter)
    except BatchError as exc:
        raise MonitoringError(str(exc), code="invalid_batch", field=exc.field) from None
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        environments = sorted(locked.deployments.filter(retired_at__isnull=True).values_list("environment", flat=True))
        data = _register_file(
            config, user=user, actor=actor, path=file_path, name=file_name, delimiter=delimiter, what="production batch"
        )
        number = (MonitoringBatch.objects.filter(version=locked).aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                batch = MonitoringBatch.objects.create(
                    version=locked,
                    number=number,
                    data=data,
                    rows=rows,
                    deployed=bool(environments),
                    environments=environments,
                    received_by=user,
                    profile_sha256=config.profile_sha256,
                )
        except IntegrityError:
            raise MonitoringError("Another batch arrived at the same moment; send it again.", status=409) from None
        record_event(
            events.BATCH_RECEIVED,
            actor=actor,
            obj=batch,
            payload={
                **_ref(locked),
                "batch": number,
                "dataset_version": f"{data.dataset.name}@{data.number}",
                "sha256": data.sha256,
                "rows": rows,
                "deployed": bool(environments),
            },
        )
        if not environments:
            _open_finding(
                locked,
                kind=UNDEPLOYED_KIND,
                cause=cause_for("not_deployed"),
                title=f"Production batches arrive for {locked}, which is not deployed",
                details={"batches": [number]},
                actor=actor,
            )
        transaction.on_commit(lambda: _queue(batch.pk))
    return batch


def do_add_labels(
    *, batch: MonitoringBatch, user: User, actor: Actor, file_path: Path, file_name: str = "", delimiter: str = ","
) -> MonitoringBatch:
    """Receive the labels of an earlier batch (one column, the configured label, one row per batch row, in order);
    the batch is checked again with performance decay and label drift."""
    version = batch.version
    _require_writer(user, version, "send labels")
    config = _config(version)
    spec = BatchSpec.from_json(config.spec)
    if not spec.label:
        raise MonitoringError("The monitoring configuration names no label column.", field="label")
    delimiter = _delimiter(delimiter)
    fmt = _inspect_upload(file_path, file_name, max_bytes=settings.MONITORING_BATCH_MAX_BYTES)
    from registry.monitoring.batch import count_label_rows

    try:
        rows = count_label_rows(file_path, fmt=fmt, spec=spec, delimiter=delimiter)
    except BatchError as exc:
        raise MonitoringError(str(exc), code="invalid_labels", field="file") from None
    if rows != batch.rows:
        raise MonitoringError(f"The labels file has {rows} rows; batch {batch.number} has {batch.rows}.", field="file")
    with transaction.atomic():
        locked = MonitoringBatch.objects.select_for_update().select_related("version__model").get(pk=batch.pk)
        if locked.labels_id is not None:
            raise MonitoringError(f"Batch {locked.number} already has its labels.", code="duplicate", status=409)
        data = _register_file(
            config, user=user, actor=actor, path=file_path, name=file_name, delimiter=delimiter, what="labels"
        )
        locked.labels = data
        locked.status = BatchStatus.PENDING
        locked.lease_until = None
        locked.save(update_fields=["labels", "status", "lease_until"])
        record_event(
            events.LABELS_RECEIVED,
            actor=actor,
            obj=locked,
            payload={
                **_ref(version),
                "batch": locked.number,
                "dataset_version": f"{data.dataset.name}@{data.number}",
                "sha256": data.sha256,
                "rows": rows,
            },
        )
        transaction.on_commit(lambda: _queue(locked.pk))
    return locked


def _queue(batch_id: int) -> None:
    from registry.monitoring.tasks import check_batch

    try:
        check_batch.delay(batch_id)
    except Exception:  # the sweep (manage.py monitor, beat) picks it up: a queueing failure loses nothing
        logger.exception("the check of batch %s could not be queued; the sweep will run it", batch_id)


# --- checks -----------------------------------------------------------------------------------------------------


def _policy_document(name: str) -> Any:
    from audits.policies import PolicyNotFound, resolve

    try:
        return resolve(name)  # a built-in not stored yet is stored
    except PolicyNotFound as exc:
        raise MonitoringError(str(exc), field="policy") from None


def _shipped_baseline_monitoring() -> dict[str, Any]:
    from audits.policies import builtin_policies, load_policy

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
    from registry.monitoring.batch import compute

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
    import math

    from registry.monitoring.drift import cut_label

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


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "level": alert.level,
        "kind": alert.kind,
        "subject": alert.subject,
        "statistic": alert.statistic,
        "value": alert.value,
        "threshold": alert.threshold,
        "basis": alert.basis,
        "title": alert.title,
        "cause": alert.cause,
        "details": alert.details,
    }


def _open_finding(
    version: ModelVersion, *, kind: str, cause: str, title: str, details: dict[str, Any], actor: Actor
) -> tuple[Finding, bool]:
    """The open finding for ``cause`` (adding this batch to it), or a new one with its ``finding.opened`` event."""
    existing = Finding.objects.select_for_update().filter(version=version, cause=cause, status=FindingStatus.OPEN)
    found = existing.first()
    if found is not None:
        batches = sorted(set(found.details.get("batches", [])) | set(details.get("batches", [])))
        found.details = {**found.details, "batches": batches, "latest": details.get("latest")}
        found.save(update_fields=["details"])
        return found, False
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                version=version, kind=kind, cause=cause, title=title[:300], details=details
            )
    except IntegrityError:  # a concurrent check opened it first
        return Finding.objects.get(version=version, cause=cause, status=FindingStatus.OPEN), False
    record_event(
        data_events.FINDING_OPENED,
        actor=actor,
        obj=finding,
        payload={**_ref(version), "finding": finding.pk, "kind": kind, "cause": cause},
    )
    return finding, True


def _finding_for_alert(
    version: ModelVersion, batch: MonitoringBatch, alert: Alert, *, actor: Actor
) -> tuple[Finding, bool]:
    finding, new = _open_finding(
        version,
        kind=alert.kind,
        cause=alert.cause,
        title=alert.title,
        details={"batches": [batch.number], "latest": {"batch": batch.number, **_alert_json(alert)}},
        actor=actor,
    )
    event = record_event(
        events.ALERT_RAISED,
        actor=actor,
        obj=finding,
        payload={
            **_ref(version),
            "batch": batch.number,
            "finding": finding.pk,
            "kind": alert.kind,
            "subject": alert.subject,
            "statistic": alert.statistic,
            "value": alert.value,
            "threshold": alert.threshold,
            "new_finding": new,
        },
    )
    queue_deliveries(event, model_id=version.model_id)
    return finding, new


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
    """Check every due batch (idempotent: a checked batch is not checked again); counts by outcome. A check whose
    worker died (running past its lease, ``now`` by default the clock) is taken over."""
    counts = {"checked": 0, "error": 0, "skipped": 0}
    for batch_id in due_batches(now):
        batch = execute_check(batch_id, now=now)
        key = batch.status if batch.status in ("checked", "error") else "skipped"
        counts[key] += 1
    return counts


# --- notifications ------------------------------------------------------------------------------------------------


def _email(version: ModelVersion, findings: Sequence[Finding]) -> None:
    """Tell the owning team's people (those with an e-mail address) about new findings."""
    if not settings.MONITORING_EMAIL_ALERTS:
        return
    from django.core.mail import send_mail

    recipients = sorted(
        set(
            User.objects.filter(teams=version.model.team_id, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        return
    lines = [f"- {f.title} (finding {f.pk})" for f in findings]
    body = (
        f"Monitoring of {version.model.name} v{version.number} opened {len(findings)} finding(s):\n\n"
        + "\n".join(lines)
        + f"\n\nDecide on them: /api/v1/models/{version.model.name}/versions/{version.number}/findings/?status=open\n"
    )
    try:
        send_mail(
            f"[Assay] {version.model.name} v{version.number}: {len(findings)} monitoring finding(s)",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:  # mail is a courtesy: the findings, the trail and the webhooks already hold everything
        logger.exception("monitoring e-mail for %s could not be sent", version)


# --- retraining decisions ------------------------------------------------------------------------------------------


def link_retrained(new_version: ModelVersion, *, actor: Actor) -> list[Finding]:
    """Inside the registration's transaction: findings of the model resolved by retraining, not linked yet, are
    linked to ``new_version`` (the retrained version that arrived)."""
    linked = []
    pending = (
        Finding.objects.select_for_update()
        .filter(version__model_id=new_version.model_id, status=FindingStatus.RESOLVED, resolution="retrain")
        .exclude(version=new_version)
        .select_related("version")
    )
    for finding in pending:
        if "retrained_by_version" in (finding.details or {}):
            continue
        finding.details = {**finding.details, "retrained_by_version": new_version.number}
        finding.save(update_fields=["details"])
        record_event(
            events.RETRAIN_LINKED,
            actor=actor,
            obj=finding,
            payload={**_ref(finding.version), "finding": finding.pk, "new_version": new_version.number},
        )
        linked.append(finding)
    return linked
