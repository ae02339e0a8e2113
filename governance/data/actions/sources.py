"""Dataset versions that are sources read where they live: registering one, and checking it before an audit.

A source version holds no file: its ``source_uri`` and the ``source_evidence`` that it is unchanged (see
``governance.data.sources``). Its ``sha256`` is the SHA-256 of that evidence in canonical JSON, so the trail's
``dataset_version.registered`` event binds the evidence too. Before every audit :func:`checked_source` computes the
evidence again and refuses a source that changed, saying what changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from governance.access.models import User
from governance.data import events
from governance.data.actions.common import DataError, _require_scope, _require_team
from governance.data.models import DataFormat, Dataset, DatasetVersion
from governance.data.sources import Source, SourceError, changes_between, evidence_of, lakehouse, parse_source, spark
from governance.data.sources.uris import PARQUET, parse_connections
from governance.trail.log import Actor, record_event


def _parse(uri: str) -> Source:
    if "#" in uri:
        # urlsplit would drop a fragment, so "...table#day=2026-12-05" would read the whole table: refuse it.
        raise DataError(
            "A source URI has no fragment (#...): name a table, a query or a path, and write a # inside a path as %23.",
            code="invalid_source",
            field="source_uri",
        )
    try:
        located = lakehouse.parse_located(
            uri,
            roots=settings.DATA_SOURCE_ROOTS,
            bucket_entries=settings.DATA_SOURCE_BUCKETS,
            catalog_entries=settings.DATA_SOURCE_CATALOGS,
        )  # Delta, Iceberg and object-store Parquet (the version pinned), else None
        if located is not None:
            return located
        on_spark = spark.parse_spark_source(uri, entries=settings.DATA_SOURCE_SPARK)  # spark://, else None
        if on_spark is not None:
            return on_spark
        connections = parse_connections(settings.DATA_SOURCE_CONNECTIONS)
        return parse_source(uri, roots=settings.DATA_SOURCE_ROOTS, connections=connections)
    except SourceError as exc:
        raise DataError(str(exc), code="invalid_source", field="source_uri") from None


def evidence_sha256(evidence: dict[str, Any]) -> str:
    """The SHA-256 of the evidence as canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(evidence, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _schema(source: Source, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """The columns as a version's schema records them: Parquet's Arrow types, or SQL columns by name."""
    if source.kind == PARQUET:
        import pyarrow.parquet as pq

        assert source.path is not None
        first = source.path / evidence["files"][0]["path"] if source.path.is_dir() else source.path
        return [{"name": f.name, "dtype": str(f.type), "nullable": f.nullable} for f in pq.read_schema(first)]
    if source.kind in lakehouse.KINDS:
        return [{"name": c["name"], "dtype": c["dtype"], "nullable": True} for c in evidence["columns"]]
    if source.kind == spark.SPARK:  # Spark's type names
        return [{"name": c["name"], "dtype": c["dtype"], "nullable": True} for c in evidence["columns"]]
    return [{"name": c["name"], "dtype": f"pg_type {c['type_oid']}", "nullable": True} for c in evidence["columns"]]


def do_register_source_version(
    *,
    dataset: Dataset,
    user: User,
    actor: Actor,
    source_uri: str,
    source: str = "",
    licence: str = "",
    collected_from: date | None = None,
    collected_to: date | None = None,
    label_column: str = "",
) -> DatasetVersion:
    """Register the next version of ``dataset`` as a source read where it lives, with its immutability evidence."""
    _require_scope(user, "datasets:write", "register dataset versions")
    _require_team(user, dataset.team_id)
    if collected_from and collected_to and collected_from > collected_to:
        raise DataError("collected_from is after collected_to.", field="collected_from")
    parsed = _parse(source_uri)
    try:
        evidence = evidence_of(parsed)
    except SourceError as exc:
        raise DataError(str(exc), code="invalid_source", field="source_uri") from None
    schema = _schema(parsed, evidence)
    if label_column and label_column not in {column["name"] for column in schema}:
        raise DataError(f"label_column {label_column!r} is not a column of the source.", field="label_column")
    digest = evidence_sha256(evidence)
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialise numbering per dataset
        number = (DatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            format=DataFormat.SOURCE,
            source_uri=parsed.uri,
            source_evidence=evidence,
            sha256=digest,
            row_count=evidence["rows"],
            schema=schema,
            source=source,
            licence=licence,
            collected_from=collected_from,
            collected_to=collected_to,
            label_column=label_column,
            created_by=user,
        )
        record_source_version(version, location=parsed.location, actor=actor)  # no credentials, no query text
    return version


def record_source_version(version: DatasetVersion, *, location: str, actor: Actor) -> None:
    """The trail event of a version registered by its source (a table, files or a partition): no file was uploaded,
    so no size and no subject index; ``location`` names the source without credentials or query text."""
    record_event(
        events.DATASET_VERSION_REGISTERED,
        actor=actor,
        obj=version,
        payload={
            "dataset": version.dataset.name,
            "version": version.number,
            "sha256": version.sha256,
            "size": None,
            "rows": version.row_count,
            "format": version.format,
            "external_uri": location,
            "subjects": None,
            "findings": 0,
        },
    )


def source_of(version: DatasetVersion) -> Source:
    """The source ``version`` names, its URI checked against today's allow-lists (DataError if refused)."""
    return _parse(version.source_uri)


def checked_source(version: DatasetVersion, *, connection: Any = None) -> Source:
    """The source of ``version``, once its evidence is computed again (in ``connection``, a SQL source's snapshot,
    when given) and found unchanged; else DataError (``source_changed``) saying what changed, or why the source
    cannot be read now."""
    parsed = _parse(version.source_uri)
    try:
        now = evidence_of(parsed, connection=connection)
    except SourceError as exc:
        raise DataError(f"{version} cannot be checked: {exc}", code="source_unreadable") from None
    changes = changes_between(version.source_evidence, now)
    if changes:
        raise DataError(
            f"{version} has changed since it was registered, so it is not the version audited: "
            + "; ".join(changes)
            + ". Register the source again as a new version to audit what it holds now.",
            code="source_changed",
        )
    return parsed
