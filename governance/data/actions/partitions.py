"""A partition of a source registered as a dataset version (a production batch read where it lives), with its
immutability evidence; and the check, before it is read, that it has not changed since."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from governance.access.models import User
from governance.data.actions.common import DataError, _require_scope, _require_team
from governance.data.actions.sources import evidence_sha256, record_source_version
from governance.data.models import DataFormat, Dataset, DatasetVersion
from governance.data.sources import SourceError, changes_between
from governance.data.sources.partitions import Partition, partition_evidence
from governance.data.sources.uris import PARQUET
from governance.trail.log import Actor


def _schema(partition: Partition, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    if partition.source.kind == PARQUET:
        import pyarrow.parquet as pq

        folder = partition.parquet.path
        assert folder is not None
        first = folder / evidence["files"][0]["path"]
        return [{"name": f.name, "dtype": str(f.type), "nullable": f.nullable} for f in pq.read_schema(first)]
    return [{"name": c["name"], "dtype": f"pg_type {c['type_oid']}", "nullable": True} for c in evidence["columns"]]


def do_register_partition_version(
    *, dataset: Dataset, user: User, actor: Actor, partition: Partition, source: str = "", connection: Any = None
) -> DatasetVersion:
    """Register the next version of ``dataset`` as one partition of a source, with its evidence (computed in
    ``connection``, a PostgreSQL snapshot, when given)."""
    _require_scope(user, "datasets:write", "register dataset versions")
    _require_team(user, dataset.team_id)
    try:
        evidence = partition_evidence(partition, connection=connection)
    except SourceError as exc:
        raise DataError(str(exc), code="invalid_source", field="source_uri") from None
    digest = evidence_sha256(evidence)
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialise numbering per dataset
        number = (DatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            format=DataFormat.SOURCE,
            source_uri=partition.uri,
            source_evidence=evidence,
            sha256=digest,
            row_count=evidence["rows"],
            schema=_schema(partition, evidence),
            source=source,
            collected_from=partition.value,
            collected_to=partition.value,
            created_by=user,
        )
        record_source_version(version, location=partition.location, actor=actor)  # no credentials
    return version


def checked_partition(version: DatasetVersion, partition: Partition, *, connection: Any = None) -> dict[str, Any]:
    """The partition's evidence now, once found equal to what ``version`` recorded; else DataError
    (``source_changed``) saying what changed, or why the partition cannot be read."""
    try:
        now = partition_evidence(partition, connection=connection)
    except SourceError as exc:
        raise DataError(f"{version} cannot be checked: {exc}", code="source_unreadable") from None
    changes = changes_between(version.source_evidence, now)
    if changes:
        raise DataError(
            f"{version} ({partition.location}) has changed since it was registered: " + "; ".join(changes) + ".",
            code="source_changed",
        )
    return now
