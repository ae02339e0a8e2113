"""Production batches read where they live: a version's batch source (a partitioned table or Parquet folder), the
sweep that takes each day's partition when it is due, and the check that counts it through its engine.

A partition taken becomes a batch as an upload does (a dataset version linked by lineage, numbered, recorded with
``monitoring.batch_received``), its dataset version holding the partition's immutability evidence instead of a
file. Its check computes that evidence again first (in the same PostgreSQL snapshot as the counts), refuses a
partition that changed since it was taken, and records which partition it read and its evidence in the results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone
from psycopg import sql

from audits.models import BatchSource, TakenPartition
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
MAX_DAYS_AHEAD = 366  # a first day further ahead than this is a typo, not a plan
EARLIEST_START = dt.date(1970, 1, 1)
# A partition column's types (PostgreSQL type OIDs): a date is compared with the day as it is.
DATE_TYPE = 1082
_TYPE_NAMES = {1114: "timestamp without time zone", 1184: "timestamp with time zone", 25: "text", 1043: "varchar"}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def source_key(uri: str, column: str) -> str:
    """What identifies a source's partitions across configurations: its location and partition column, hashed."""
    return hashlib.sha256(f"{uri}\n{column}".encode()).hexdigest()


def _parse(uri: str) -> Source:
    try:
        connections = parse_connections(settings.DATA_SOURCE_CONNECTIONS)
        return parse_source(uri, roots=settings.DATA_SOURCE_ROOTS, connections=connections)
    except SourceError as exc:
        raise MonitoringError(str(exc), code="invalid_source", field="uri") from None


def _column_type_problem(source: Source, column: str, *, connection: Any = None) -> str:
    """Why ``column`` of a PostgreSQL table cannot hold the partition's day ('' when it is a date column). Raises
    SourceError when it cannot be read."""
    found, _ = postgres.run(
        source,
        sql.SQL("SELECT {} FROM {} AS t LIMIT 0").format(sql.Identifier(column), postgres.relation(source)),
        connection=connection,
    )
    oid = found[0].type_code
    if oid == DATE_TYPE:
        return ""
    name = _TYPE_NAMES.get(oid, f"type oid {oid}")
    return (
        f"The partition column {column!r} of {source.location} has type {name}; a partition column must be of type "
        "date (one day's rows are those WHERE the column equals the day). For a timestamp, partition by a date "
        f"column or a view with one, e.g. CAST({column} AT TIME ZONE 'UTC' AS date)."
    )


def _check_column(source: Source, column: str) -> None:
    """The partition column exists and holds days: a date column of the table (asked of the server), or
    ``column=YYYY-MM-DD`` folders."""
    if source.kind == PARQUET:
        assert source.path is not None
        folders = sorted(path.name for path in source.path.glob(f"{column}=*") if path.is_dir())
        if not folders:
            raise MonitoringError(f"{source.location} holds no {column}=<date> folder.", field="partition_column")
        if not any(_ISO_DAY.match(name.removeprefix(f"{column}=")) for name in folders):
            raise MonitoringError(
                f"{source.location} holds {folders[0]} but no {column}=YYYY-MM-DD folder: the folders' values must "
                "be days written as 2026-12-05.",
                field="partition_column",
            )
        return
    try:
        problem = _column_type_problem(source, column)
    except SourceError as exc:
        raise MonitoringError(f"The partition column cannot be read: {exc}", field="partition_column") from None
    if problem:
        raise MonitoringError(problem, field="partition_column")


def _check_values(*, lag_days: int, start: dt.date) -> None:
    if not 1 <= lag_days <= MAX_LAG_DAYS:
        raise MonitoringError(
            f"lag_days is between 1 and {MAX_LAG_DAYS}: a day is read once it has ended, so 0 would read today's "
            "partition while it is still being written.",
            field="lag_days",
        )
    latest = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=MAX_DAYS_AHEAD)
    if not EARLIEST_START <= start <= latest:
        raise MonitoringError(
            f"start is a day from {EARLIEST_START.isoformat()} to {latest.isoformat()} (a year ahead at most).",
            field="start",
        )


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
    read, each day's partition taken ``lag_days`` days after it (1: yesterday's partition today, UTC).

    The same table or folder, column and first day as configured keep the place reached (``next_partition``): a
    repeated request takes nothing again, and changes only the lag or whether it runs. Another source, column or
    first day starts again at ``start``; a day already taken from this source (table or folder, and column) is
    never taken again, whatever the configuration says (the sweep skips it)."""
    _require_writer(user, version, "configure monitoring")
    _config(version)  # the reference and column roles come first
    _check_values(lag_days=lag_days, start=start)
    source = _parse(uri)
    try:
        partition_of(source, partition_column, start)
    except SourceError as exc:
        raise MonitoringError(str(exc), code="invalid_source", field="partition_column") from None
    _check_column(source, partition_column)
    with transaction.atomic():
        # The order every writer of a batch source locks in (the sweep too): the version, then its source.
        ModelVersion.objects.select_for_update().get(pk=version.pk)
        found = BatchSource.objects.select_for_update().filter(version=version).first()
        same_place = found is not None and (found.uri, found.partition_column, found.start) == (
            source.location,
            partition_column,
            start,
        )
        if same_place and found is not None and (found.lag_days, found.enabled) == (lag_days, enabled):
            return found  # nothing changes: no event, the place reached kept
        found, _ = BatchSource.objects.update_or_create(
            version=version,
            defaults={
                "uri": source.location,  # the table or folder, never credentials (a source URI holds none)
                "partition_column": partition_column,
                "lag_days": lag_days,
                "start": start,
                **({} if same_place else {"next_partition": start, "waiting": ""}),
                "enabled": enabled,
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
                "start": start.isoformat(),
                "next_partition": found.next_partition.isoformat(),
                "lag_days": lag_days,
                "enabled": enabled,
            },
        )
    return found


def taken_days(found: BatchSource) -> dict[str, Any]:
    """The days taken from ``found``'s current source (table or folder, and column): how many, the first and the
    last; none of them is taken again."""
    taken = TakenPartition.objects.filter(
        version_id=found.version_id, source_key=source_key(found.uri, found.partition_column)
    ).aggregate(days=Count("pk"), first=Min("day"), last=Max("day"))
    return {
        "days": taken["days"],
        "first": taken["first"].isoformat() if taken["first"] else None,
        "last": taken["last"].isoformat() if taken["last"] else None,
    }


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
        TakenPartition.objects.create(  # the database refuses a day taken twice (partition_taken_once_per_version)
            version=locked,
            source_key=source_key(source.uri, source.partition_column),
            uri=source.uri,
            partition_column=source.partition_column,
            day=partition.value,
            batch=batch,
        )
        BatchSource.objects.filter(pk=source.pk).update(
            next_partition=partition.value + dt.timedelta(days=1), waiting=""
        )
    return batch


def _take(source: BatchSource, config: MonitorConfig, day: dt.date) -> bool:
    """Take ``day``'s partition as a batch if it has arrived (True), else note that the sweep waits for it."""
    parsed = _parse(source.uri)
    partition = partition_of(parsed, source.partition_column, day)
    waiting = f"{partition.location} has no rows yet."
    if parsed.kind == PARQUET:
        arrived = present(partition)
        if arrived:
            _receive(config, source, partition)
    else:
        with postgres.snapshot(parsed) as connection:
            # The column's type may have changed since it was configured: say so rather than wait for ever.
            problem = _column_type_problem(parsed, source.partition_column, connection=connection)
            arrived = not problem and present(partition, connection=connection)
            if arrived:
                _receive(config, source, partition, connection=connection)
            waiting = problem or waiting
    if not arrived:
        BatchSource.objects.filter(pk=source.pk).update(waiting=waiting)
    return arrived


def _due_day_arrived(source_id: int, version_id: int, today: dt.date) -> bool:
    """Whether the source's next due day has arrived, asked before any lock is taken: the question goes to another
    database or a folder (a connection, a type lookup, a presence query), and the version's lock (on SQLite, the
    whole database's) must not be held while it is answered. False records why the sweep waits. True also when
    nothing is due or the day was taken before: ``_pull_next`` decides those under the lock (and asks again)."""
    source = BatchSource.objects.filter(pk=source_id, version_id=version_id, enabled=True).first()
    if source is None or source.next_partition > today - dt.timedelta(days=source.lag_days):
        return True
    day = source.next_partition
    key = source_key(source.uri, source.partition_column)
    if TakenPartition.objects.filter(version_id=version_id, source_key=key, day=day).exists():
        return True
    parsed = _parse(source.uri)
    partition = partition_of(parsed, source.partition_column, day)
    problem = ""
    if parsed.kind == PARQUET:
        arrived = present(partition)
    else:
        with postgres.snapshot(parsed) as connection:
            problem = _column_type_problem(parsed, source.partition_column, connection=connection) or ""
            arrived = not problem and present(partition, connection=connection)
    if not arrived:
        BatchSource.objects.filter(pk=source.pk).update(waiting=problem or f"{partition.location} has no rows yet.")
    return arrived


def _locked_source(source_id: int, version_id: int) -> BatchSource | None:
    """The batch source, locked (with its version first, the order ``do_configure_batch_source`` locks in) until
    the transaction ends."""
    ModelVersion.objects.select_for_update().get(pk=version_id)
    return (
        BatchSource.objects.select_for_update()
        .select_related("version__model", "configured_by")
        .filter(pk=source_id)
        .first()
    )


def _pull_next(source_id: int, version_id: int, today: dt.date) -> str:
    """Take a source's next day if it is due: "taken", "skipped" (taken before, from the same source), "waiting"
    (not there yet), "failed", or "done" (nothing due). The version and its source stay locked until the day is
    taken and the source advanced, so two sweeps at once (or a sweep and a PUT) take each day once."""
    day: dt.date | None = None
    try:
        if not _due_day_arrived(source_id, version_id, today):
            return "waiting"
        with transaction.atomic():
            source = _locked_source(source_id, version_id)
            if source is None or not source.enabled:
                return "done"
            if source.next_partition > today - dt.timedelta(days=source.lag_days):
                return "done"
            day = source.next_partition
            key = source_key(source.uri, source.partition_column)
            if TakenPartition.objects.filter(version_id=version_id, source_key=key, day=day).exists():
                BatchSource.objects.filter(pk=source.pk).update(next_partition=day + dt.timedelta(days=1))
                return "skipped"
            return "taken" if _take(source, _config(source.version), day) else "waiting"
    except (MonitoringError, DataError, SourceError, IntegrityError) as exc:
        logger.warning("the batch source %s cannot take %s: %s", source_id, day, exc)
        BatchSource.objects.filter(pk=source_id).update(waiting=f"{day.isoformat() if day else ''}: {exc}")
        return "failed"


def pull_due_partitions(now: dt.datetime | None = None) -> dict[str, int]:
    """Take every partition that is due (its day at least ``lag_days`` before today, UTC) and has arrived, in day
    order, as a batch of its version; a partition not there yet is waited for (the sweep tries again); a day taken
    before from the same source is skipped. Counts."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    counts = {"taken": 0, "skipped": 0, "waiting": 0, "failed": 0}
    for source_id, version_id in BatchSource.objects.filter(enabled=True).values_list("pk", "version_id"):
        while (outcome := _pull_next(source_id, version_id, today)) != "done":
            counts[outcome] += 1
            if outcome in ("waiting", "failed"):
                break
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
