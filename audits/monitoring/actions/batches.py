"""Receiving production batches and their late labels: validated, stored as dataset versions linked by lineage,
recorded, and queued for their check."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from audits.monitoring import events
from audits.monitoring.actions.common import (
    UNDEPLOYED_KIND,
    MonitoringError,
    _config,
    _open_finding,
    _ref,
    _require_writer,
    logger,
)
from audits.monitoring.batch import BatchError, BatchSpec, check_delimiter, count_label_rows, validate
from audits.monitoring.judge import cause_for
from governance.access.models import User
from governance.data.actions import DataError, do_record_run, do_register_dataset_version
from governance.data.ingest import IngestError, detect_format
from governance.data.models import DatasetVersion
from governance.jobs import enqueue
from governance.trail.log import Actor, record_event
from registry.models import (
    BatchStatus,
    ModelVersion,
    MonitorConfig,
    MonitoringBatch,
)


def _delimiter(delimiter: str) -> str:
    try:
        return check_delimiter(delimiter)
    except BatchError as exc:
        raise MonitoringError(str(exc), field="delimiter") from None


def _inspect_upload(path: Path, name: str, *, max_bytes: int) -> str:
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
    if batch.data.source_uri:  # a partition's rows have no order a labels file could follow
        raise MonitoringError(
            f"Batch {batch.number} was read from a source partition: its labels are the partition's "
            f"{spec.label!r} column, not a file.",
            field="file",
        )
    delimiter = _delimiter(delimiter)
    fmt = _inspect_upload(file_path, file_name, max_bytes=settings.MONITORING_BATCH_MAX_BYTES)
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
    try:  # audits.monitoring.tasks runs it (queued by name: that module imports this package)
        enqueue("registry.monitoring.check_batch", batch_id)
    except Exception:  # the sweep (manage.py monitor, beat) picks it up: a queueing failure loses nothing
        logger.exception("the check of batch %s could not be queued; the sweep will run it", batch_id)
