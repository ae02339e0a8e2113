"""Production batches read where they live: a version's batch source (a partitioned table or Parquet folder), the
sweep that takes each day's partition when it is due, and the check that counts it through its engine.

A partition taken becomes a batch as an upload does (a dataset version linked by lineage, numbered, recorded with
``monitoring.batch_received``), its dataset version holding the partition's immutability evidence instead of a
file. Its check computes that evidence again first (in the same PostgreSQL snapshot as the counts), refuses a
partition that changed since it was taken, and records which partition it read and its evidence in the results.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from psycopg import sql

from audits.models import BatchSource
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
from audits.monitoring.batch import BatchSpec, FairnessRules
from audits.monitoring.judge import cause_for
from audits.monitoring.pushdown import DuckDBPartition, PostgresPartition, compute_partition
from governance.access.models import User
from governance.data.actions import DataError, do_record_run
from governance.data.actions.partitions import checked_partition, do_register_partition_version
from governance.data.models import DatasetVersion
from governance.data.sources import SourceError, parse_connections, parse_source, postgres
from governance.data.sources.evidence import parquet_files
from governance.data.sources.partitions import Partition, partition_of, present, relation
from governance.data.sources.uris import PARQUET, Source
from governance.trail.log import Actor, record_event
from registry.models import ModelVersion, MonitorConfig, MonitoringBatch

MAX_LAG_DAYS = 366


def _parse(uri: str) -> Source:
    try:
        connections = parse_connections(settings.DATA_SOURCE_CONNECTIONS)
        return parse_source(uri, roots=settings.DATA_SOURCE_ROOTS, connections=connections)
    except SourceError as exc:
        raise MonitoringError(str(exc), code="invalid_source", field="uri") from None


def _check_column(source: Source, column: str) -> None:
    """The partition column exists: a column of the table (asked of the server), or some ``column=`` folder."""
    if source.kind == PARQUET:
        assert source.path is not None
        if not any(path.is_dir() for path in source.path.glob(f"{column}=*")):
            raise MonitoringError(f"{source.location} holds no {column}=<date> folder.", field="partition_column")
        return
    try:
        postgres.run(
            source,
            sql.SQL("SELECT {} FROM {} AS t LIMIT 0").format(sql.Identifier(column), postgres.relation(source)),
        )
    except SourceError as exc:
        raise MonitoringError(f"The partition column cannot be read: {exc}", field="partition_column") from None


def do_configure_batch_source(
    *,
    version: ModelVersion,
    user: User,
    actor: Actor,
    uri: str,
    partition_column: str,
    start: dt.date,
    lag_days: int = 1,
    enabled: bool = True,
) -> BatchSource:
    """Name where ``version``'s production batches live: a partitioned source whose day ``start`` is the first to
    read, each day's partition taken ``lag_days`` days after it (1: yesterday's partition today, UTC)."""
    _require_writer(user, version, "configure monitoring")
    _config(version)  # the reference and column roles come first
    if not 0 <= lag_days <= MAX_LAG_DAYS:
        raise MonitoringError(f"lag_days is between 0 and {MAX_LAG_DAYS}.", field="lag_days")
    source = _parse(uri)
    try:
        partition_of(source, partition_column, start)
    except SourceError as exc:
        raise MonitoringError(str(exc), code="invalid_source", field="partition_column") from None
    _check_column(source, partition_column)
    with transaction.atomic():
        found, _ = BatchSource.objects.update_or_create(
            version=version,
            defaults={
                "uri": source.location,  # the table or folder, never credentials (a source URI holds none)
                "partition_column": partition_column,
                "lag_days": lag_days,
                "next_partition": start,
                "enabled": enabled,
                "waiting": "",
                "configured_by": user,
                "configured_at": timezone.now(),
            },
        )
        record_event(
            events.SOURCE_CONFIGURED,
            actor=actor,
            obj=found,
            payload={
                **_ref(version),
                "location": source.location,
                "partition_column": partition_column,
                "next_partition": start.isoformat(),
                "lag_days": lag_days,
                "enabled": enabled,
            },
        )
    return found


def _receive(config: MonitorConfig, source: BatchSource, partition: Partition, *, connection: Any = None) -> Any:
    """The partition as the version's next batch (one transaction: dataset version, lineage, batch, event)."""
    version, user, actor = config.version, source.configured_by, Actor.system()
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        environments = sorted(locked.deployments.filter(retired_at__isnull=True).values_list("environment", flat=True))
        data = do_register_partition_version(
            dataset=config.batches_dataset,
            user=user,
            actor=actor,
            partition=partition,
            source=f"production batch of {version.model.name} v{version.number}: {partition.location}",
            connection=connection,
        )
        do_record_run(
            user=user,
            actor=actor,
            job_name=f"monitor/{version.model.name}/v{version.number}",
            outputs=[data],
            code_ref=version.artifact_sha256,
            parameters={"model": version.model.name, "version": version.number, "kind": "production batch"},
        )
        number = (MonitoringBatch.objects.filter(version=locked).aggregate(n=Max("number"))["n"] or 0) + 1
        batch = MonitoringBatch.objects.create(
            version=locked,
            number=number,
            data=data,
            rows=data.row_count or 0,
            deployed=bool(environments),
            environments=environments,
            received_by=user,
            profile_sha256=config.profile_sha256,
        )
        record_event(
            events.BATCH_RECEIVED,
            actor=actor,
            obj=batch,
            payload={
                **_ref(locked),
                "batch": number,
                "dataset_version": f"{data.dataset.name}@{data.number}",
                "sha256": data.sha256,
                "rows": data.row_count,
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
        BatchSource.objects.filter(pk=source.pk).update(
            next_partition=partition.value + dt.timedelta(days=1), waiting=""
        )
    return batch


def _take(source: BatchSource, config: MonitorConfig, day: dt.date) -> bool:
    """Take ``day``'s partition as a batch if it has arrived (True), else note that the sweep waits for it."""
    parsed = _parse(source.uri)
    partition = partition_of(parsed, source.partition_column, day)
    if parsed.kind == PARQUET:
        arrived = present(partition)
        if arrived:
            _receive(config, source, partition)
    else:
        with postgres.snapshot(parsed) as connection:
            arrived = present(partition, connection=connection)
            if arrived:
                _receive(config, source, partition, connection=connection)
    if not arrived:
        BatchSource.objects.filter(pk=source.pk).update(waiting=f"{partition.location} has no rows yet.")
    return arrived


def pull_due_partitions(now: dt.datetime | None = None) -> dict[str, int]:
    """Take every partition that is due (its day at least ``lag_days`` before today, UTC) and has arrived, in day
    order, as a batch of its version; a partition not there yet is waited for (the sweep tries again). Counts."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    counts = {"taken": 0, "waiting": 0, "failed": 0}
    for source in BatchSource.objects.filter(enabled=True).select_related("version__model", "configured_by"):
        due_until = today - dt.timedelta(days=source.lag_days)
        day = source.next_partition
        while day <= due_until:
            try:
                config = _config(source.version)
                if not _take(source, config, day):
                    counts["waiting"] += 1
                    break
            except (MonitoringError, DataError, SourceError, IntegrityError) as exc:
                logger.warning("the batch source of %s cannot take %s: %s", source.version, day, exc)
                BatchSource.objects.filter(pk=source.pk).update(waiting=f"{day.isoformat()}: {exc}")
                counts["failed"] += 1
                break
            counts["taken"] += 1
            day += dt.timedelta(days=1)
    return counts


def _partition_of_version(data: DatasetVersion) -> Partition:
    recorded = dict(data.source_evidence.get("partition") or {})
    try:
        return partition_of(_parse(recorded["of"]), recorded["column"], dt.date.fromisoformat(recorded["value"]))
    except (KeyError, ValueError, SourceError) as exc:
        raise MonitoringError(f"{data} does not name its partition: {exc}") from None


def compute_source_batch(data: DatasetVersion, *, spec: BatchSpec, profile: Any, rules: FairnessRules) -> dict:
    """A source batch's statistics, counted by its engine once its evidence is found unchanged, with which
    partition was read and its evidence under ``source``."""
    partition = _partition_of_version(data)
    try:
        if partition.source.kind == PARQUET:
            checked_partition(data, partition)
            folder = partition.parquet.path
            assert folder is not None
            reader: Any = DuckDBPartition([str(path) for path in parquet_files(folder)])
            try:
                results = compute_partition(reader, spec=spec, profile=profile, rules=rules)
            finally:
                reader.close()
            evidence = checked_partition(data, partition)  # files have no snapshot: checked after the read too
        else:
            with postgres.snapshot(partition.source) as connection:
                evidence = checked_partition(data, partition, connection=connection)
                rel, params = relation(partition)
                reader = PostgresPartition(partition.source, rel, params, connection)
                results = compute_partition(reader, spec=spec, profile=profile, rules=rules)
    except (DataError, SourceError) as exc:
        raise MonitoringError(str(exc)) from None
    results["source"] = {
        "engine": reader.engine,
        "partition": partition.as_json(),
        "dataset_version": f"{data.dataset.name}@{data.number}",
        "evidence_sha256": data.sha256,
        "evidence": {key: value for key, value in evidence.items() if key != "partition"},
        "evidence_checked": "unchanged since the partition was taken",
    }
    return results
