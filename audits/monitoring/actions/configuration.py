"""Configuring a version's monitoring: its reference profiled once, its features and column roles, its baseline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from audits.models import AuditRun, RunStatus
from audits.monitoring import events
from audits.monitoring.actions.common import (
    MonitoringError,
    _policy_document,
    _ref,
    _require_writer,
    _stored_path,
    logger,
)
from audits.monitoring.batch import NUMERIC, BatchError, BatchSpec, profile_reference
from governance.access.models import User
from governance.data.actions import DataError, do_register_dataset, training_datasets_of
from governance.data.ingest import IngestError, read_table
from governance.data.models import Dataset, DatasetVersion
from governance.storage import local_path
from governance.trail.log import Actor, record_event
from registry.artifacts import load_predictor
from registry.models import (
    ModelVersion,
    MonitorConfig,
    ReferenceKind,
)


def _reference_of(version: ModelVersion, user: User, kind: str, reference: DatasetVersion | None) -> DatasetVersion:
    if reference is not None:
        return reference
    if kind == ReferenceKind.TRAINING:
        try:
            found = training_datasets_of(user, version.training_datasets)
        except DataError as exc:
            raise MonitoringError(str(exc), field="reference") from None
        if not found:
            raise MonitoringError(f"{version} names no training dataset: give the reference dataset and version.")
        return found[0]
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
    import pyarrow.compute as pc

    names = [c["name"] for c in version.input_schema if isinstance(c, Mapping) and c.get("name")]
    if not names or not set(names) <= set(table.column_names):
        # One tensor input (skl2onnx's "X"): the model reads the numeric features, in the configured order.
        names = [name for name, kind in spec.features if kind == NUMERIC]
    try:
        predictor = load_predictor(
            local_path(str(version.artifact.name), sha256=version.artifact_sha256), framework=version.framework
        )
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
