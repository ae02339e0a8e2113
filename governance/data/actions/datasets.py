"""Datasets and their versions: registering a dataset, and each version's file (hashed, profiled, subjects indexed)
or external URI.

Expensive reading (parsing and profiling an upload) happens before the transaction, so the database is locked
only for the writes.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from governance.access.models import Team, User
from governance.data import crypto, events
from governance.data.actions.common import DataError, _require_scope, _require_team, pseudonym_key
from governance.data.ingest import IngestError, detect_format, hash_file, inspect_file
from governance.data.models import DataFormat, Dataset, DatasetSubject, DatasetVersion, QualityFinding
from governance.storage import store_by_hash
from governance.trail.log import Actor, record_event

_INSERT_CHUNK = 50_000
_PSEUDONYM_DTYPE = "S64"  # a pseudonym's 64 hex digits, as ASCII bytes


def do_register_dataset(
    *,
    user: User,
    actor: Actor,
    name: str,
    team: Team,
    description: str = "",
    openlineage_namespace: str = "",
    openlineage_name: str = "",
) -> Dataset:
    """Register a dataset for one of the user's teams, optionally with the name OpenLineage producers use for it."""
    _require_scope(user, "datasets:write", "register datasets")
    _require_team(user, team.pk)
    if bool(openlineage_namespace) != bool(openlineage_name):
        raise DataError("Give both openlineage_namespace and openlineage_name, or neither.", field="openlineage_name")
    with transaction.atomic():
        if Dataset.objects.filter(name=name).exists():
            raise DataError(f"A dataset named '{name}' already exists.", code="duplicate", status=409)
        if (
            openlineage_namespace
            and Dataset.objects.filter(
                openlineage_namespace=openlineage_namespace, openlineage_name=openlineage_name
            ).exists()
        ):
            raise DataError(
                f"Another dataset is already mapped to OpenLineage {openlineage_namespace}/{openlineage_name}.",
                code="duplicate",
                status=409,
            )
        try:
            with transaction.atomic():
                dataset = Dataset.objects.create(
                    name=name,
                    team=team,
                    description=description,
                    openlineage_namespace=openlineage_namespace,
                    openlineage_name=openlineage_name,
                    created_by=user,
                )
        except IntegrityError:
            raise DataError(f"A dataset named '{name}' already exists.", code="duplicate", status=409) from None
        record_event(
            events.DATASET_REGISTERED,
            actor=actor,
            obj=dataset,
            payload={
                "name": name,
                "team": team.slug,
                "openlineage": f"{openlineage_namespace}/{openlineage_name}" if openlineage_namespace else None,
            },
        )
    return dataset


def _uri_for_trail(uri: str) -> str | None:
    """Scheme, host and path of an external URI: query strings (signed URLs, tokens) never enter the trail."""
    if not uri:
        return None
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def do_register_dataset_version(
    *,
    dataset: Dataset,
    user: User,
    actor: Actor,
    file_path: Path | None = None,
    file_name: str = "",
    external_uri: str = "",
    sha256: str = "",
    row_count: int | None = None,
    schema: Sequence[Mapping[str, Any]] = (),
    source: str = "",
    licence: str = "",
    collected_from: date | None = None,
    collected_to: date | None = None,
    subject_id_column: str = "",
    label_column: str = "",
    delimiter: str = ",",
    missing_markers: Sequence[str] = (),
    on_registered: Callable[[DatasetVersion], None] | None = None,
) -> DatasetVersion:
    """Register the next version of ``dataset``: an uploaded CSV/Parquet file (hashed, profiled, its subject ids
    indexed by pseudonym) or an external URI recorded as given. ``on_registered`` runs in the registration's
    transaction (a worker marks its upload done there: both commit, or neither)."""
    _require_scope(user, "datasets:write", "register dataset versions")
    _require_team(user, dataset.team_id)
    if (file_path is None) == (not external_uri):
        raise DataError("Give either a file or an external_uri.", field="file")
    if collected_from and collected_to and collected_from > collected_to:
        raise DataError("collected_from is after collected_to.", field="collected_from")
    stored, findings, pseudonyms = "", [], _no_pseudonyms()
    if file_path is not None:
        try:
            fmt = detect_format(file_path, name=file_name)
            digest, size = hash_file(file_path)
            if size > settings.DATASET_MAX_BYTES:
                raise DataError(
                    f"The file is {size:,} bytes; the limit is {settings.DATASET_MAX_BYTES:,} (DATASET_MAX_BYTES). "
                    "Register larger data by external_uri.",
                    code="too_large",
                    status=413,
                    field="file",
                )
            inspected = inspect_file(
                file_path,
                fmt=fmt,
                subject_id_column=subject_id_column,
                label_column=label_column,
                delimiter=delimiter,
                missing_markers=missing_markers,
            )
        except IngestError as exc:
            raise DataError(str(exc), code="invalid_file", field=exc.field) from None
        pseudonyms = _distinct_pseudonyms(inspected.subject_ids or (), key=pseudonym_key())
        findings = inspected.findings
        fields: dict[str, Any] = {
            "format": inspected.format,
            "sha256": digest,
            "size_bytes": size,
            "row_count": inspected.row_count,
            "schema": inspected.schema,
            "profile": inspected.profile,
            "original_name": file_name[:255],
            "delimiter": delimiter if inspected.format == DataFormat.CSV else "",
            "subject_count": len(pseudonyms) if subject_id_column else None,
        }
        stored = store_by_hash(file_path, folder="datasets", sha256=digest, suffix=f".{inspected.format}")
    else:
        if subject_id_column:
            raise DataError(
                "A subject-id column needs the file: Assay indexes subjects on upload and cannot read an external URI.",
                field="subject_id_column",
            )
        fields = {
            "format": DataFormat.EXTERNAL,
            "sha256": sha256,
            "external_uri": external_uri,
            "row_count": row_count,
            "schema": [dict(column) for column in schema],
        }
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialise numbering per dataset
        number = (DatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            file=stored,
            source=source,
            licence=licence,
            collected_from=collected_from,
            collected_to=collected_to,
            subject_id_column=subject_id_column,
            label_column=label_column,
            created_by=user,
            **fields,
        )
        QualityFinding.objects.bulk_create(QualityFinding(version=version, **finding) for finding in findings)
        _index_subjects(version, pseudonyms)
        record_event(
            events.DATASET_VERSION_REGISTERED,
            actor=actor,
            obj=version,
            payload={
                "dataset": dataset.name,
                "version": number,
                "sha256": version.sha256 or None,
                "size": version.size_bytes,
                "rows": version.row_count,
                "format": version.format,
                "external_uri": _uri_for_trail(external_uri),
                "subjects": version.subject_count,
                "findings": len(findings),
            },
        )
        if on_registered is not None:
            on_registered(version)
    return version


def _no_pseudonyms() -> npt.NDArray[np.bytes_]:
    return np.empty(0, dtype=_PSEUDONYM_DTYPE)


def _distinct_pseudonyms(subject_ids: Iterable[str], *, key: bytes) -> npt.NDArray[np.bytes_]:
    """The distinct pseudonyms of the non-blank ids, sorted, as 64-character ASCII hex (numpy ``S64``).

    Two ids can share a pseudonym (Unicode spellings of one id), hence the dedup. Sorting and deduplicating bytes
    in numpy, and never making a Python string per pseudonym, is what keeps a million-subject upload in seconds;
    hex sorts as the digest bytes do, and the sorted order lets the database append to its indexes.
    """
    digests = crypto.pseudonym_digests(subject_ids, key=key, skip_blank=True)
    ordered = np.sort(np.frombuffer(binascii.hexlify(digests), dtype=_PSEUDONYM_DTYPE))
    # Sort, then keep each value unlike its predecessor: numpy.unique takes ten times longer on fixed-width bytes.
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def _index_subjects(version: DatasetVersion, pseudonyms: npt.NDArray[np.bytes_]) -> None:
    """Write a version's subject index in bulk (COPY on PostgreSQL; elsewhere one ``INSERT ... SELECT`` over a
    JSON array per 50,000 pseudonyms, so SQLite binds no Python row): a million-subject upload must not spend
    minutes in per-row ORM inserts. The rows are exactly what ``bulk_create`` would write, in sorted order."""
    table = connection.ops.quote_name(DatasetSubject._meta.db_table)
    version_id = version.pk
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY's text format written as bytes, 50,000 rows a write: a pseudonym is hex, so nothing needs
            # escaping, and psycopg formats no row of its own (one write_row per subject was most of the COPY's time).
            prefix = f"{int(version_id)}\t".encode("ascii")
            with cursor.cursor.copy(f"COPY {table} (version_id, pseudonym) FROM STDIN") as copy:  # type: ignore[union-attr]
                for start in range(0, len(pseudonyms), _INSERT_CHUNK):
                    chunk = pseudonyms[start : start + _INSERT_CHUNK].tolist()
                    copy.write(prefix + (b"\n" + prefix).join(chunk) + b"\n")
        elif connection.vendor == "sqlite":
            sql = (
                f"INSERT INTO {table} (version_id, pseudonym) "  # noqa: S608 - our table name; values are parameters
                "SELECT %s, value FROM json_each(%s)"  # json_each walks the array in order: sorted inserts
            )
            for start in range(0, len(pseudonyms), _INSERT_CHUNK):
                chunk = pseudonyms[start : start + _INSERT_CHUNK].tolist()
                cursor.execute(sql, [version_id, '["' + b'","'.join(chunk).decode("ascii") + '"]'])
        else:
            sql = f"INSERT INTO {table} (version_id, pseudonym) VALUES (%s, %s)"  # noqa: S608 - our table name
            rows = [(version_id, pseudonym.decode("ascii")) for pseudonym in pseudonyms.tolist()]
            for start in range(0, len(rows), _INSERT_CHUNK):
                cursor.executemany(sql, rows[start : start + _INSERT_CHUNK])
