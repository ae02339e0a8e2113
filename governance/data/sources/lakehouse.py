"""Lakehouse tables as sources: Delta Lake (delta-rs) and Apache Iceberg (pyiceberg), each pinned to one version.

- ``delta:///path/to/table`` (a folder inside ``DATA_SOURCE_ROOTS``) or ``delta+s3://bucket/prefix`` (inside a
  bucket ``DATA_SOURCE_BUCKETS`` declares, see ``objectstore``), optionally ``?version=N``.
- ``iceberg://<catalog>/<namespace>.<table>``, optionally ``?snapshot=ID``, on a catalog the operator declared in
  ``DATA_SOURCE_CATALOGS`` (``name=sqlite:////absolute/catalog.db``: pyiceberg's SQL catalog on SQLite, opened
  read-only; ``?catalog=NAME`` when the catalog's own name differs from the declared one).

Registering a table without a version pins the table's current version (Delta) or snapshot (Iceberg): the stored
URI carries it (``delta:///srv/lake/scores?version=7``), and every audit reads exactly that version (time travel),
so a later write to the table changes nothing an audit reads. The evidence is the pinned version, the table's
identity (Delta's table id, Iceberg's table UUID), its columns, and every data file of that version with its size,
rows and SHA-256. A pinned version whose log entry or snapshot is gone (cleaned up, expired) or whose data files
were removed (vacuumed) or rewritten is refused, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from governance.data.ingest import hash_file
from governance.data.sources import objectstore
from governance.data.sources.objectstore import Bucket, columns_of
from governance.data.sources.uris import Source, SourceError

DELTA = "delta"
ICEBERG = "iceberg"
SCHEMES = {"delta": DELTA, "delta+s3": DELTA, "iceberg": ICEBERG}
# The kinds whose evidence and changes this module (with ``objectstore``) computes.
KINDS = (DELTA, ICEBERG, objectstore.S3)
_CATALOG_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127})+$")


@dataclass(frozen=True)
class Catalog:
    """An Iceberg catalog the operator declared in ``DATA_SOURCE_CATALOGS``: pyiceberg's SQL catalog on SQLite."""

    name: str
    database: Path
    catalog: str  # the catalog's own name, as its tables were created under

    def open(self) -> Any:
        from pyiceberg.catalog.sql import SqlCatalog

        if not self.database.is_file():
            raise SourceError(f"The Iceberg catalog {self.name}'s database {self.database} does not exist.")
        # Read-only (SQLite's mode=ro), and pyiceberg creates no tables of its own in it.
        uri = f"sqlite:///file:{self.database}?mode=ro&uri=true"
        return SqlCatalog(self.catalog, uri=uri, init_catalog_tables="false")


@dataclass(frozen=True)
class LakeSource(Source):
    """A Delta or Iceberg table pinned to one version (``pin``; None until resolved by :func:`parse_lake_source`).
    A Delta table is a local ``path`` or a ``store`` bucket and ``key``; an Iceberg table is ``table`` in a
    ``catalog``."""

    store: Bucket | None = None
    key: str = ""
    catalog: Catalog | None = None
    pin: int | None = None

    @property
    def table_uri(self) -> str:
        """Where delta-rs finds the table."""
        if self.store is not None:
            return f"s3://{self.store.bucket}/{self.key}"
        return str(self.path)

    @property
    def location(self) -> str:
        return self.uri  # no credentials ever: they stay in the environment


def parse_located(
    uri: str, *, roots: Sequence[str], bucket_entries: Sequence[str], catalog_entries: Sequence[str]
) -> Source | None:
    """A Delta, Iceberg or object-store Parquet source (``delta://``, ``delta+s3://``, ``iceberg://``, ``s3://``)
    checked against the operator's declarations; None for any other scheme. Raises SourceError."""
    scheme = uri.strip().split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == objectstore.S3:
        return objectstore.parse_store_source(uri, buckets=objectstore.parse_buckets(bucket_entries))
    if scheme in SCHEMES:
        buckets = objectstore.parse_buckets(bucket_entries) if scheme == "delta+s3" else []
        catalogs = parse_catalogs(catalog_entries) if scheme == "iceberg" else {}
        return parse_lake_source(uri, roots=roots, buckets=buckets, catalogs=catalogs)
    return None


def parse_catalogs(entries: Sequence[str]) -> dict[str, Catalog]:
    """The Iceberg catalogs the operator declared: ``name=sqlite:////absolute/catalog.db[?catalog=NAME]``."""
    catalogs: dict[str, Catalog] = {}
    for entry in entries:
        name, _, url = entry.strip().partition("=")
        where = f"DATA_SOURCE_CATALOGS entry {name.strip() or entry!r}"
        parts = urlsplit(url.strip())
        if not _CATALOG_NAME.match(name.strip()) or parts.scheme != "sqlite" or parts.netloc:
            raise SourceError(
                f"{where}: write name=sqlite:////absolute/path/catalog.db (pyiceberg's SQL catalog on SQLite), the "
                "name in lower case letters, digits, '-' and '_'."
            )
        params = parse_qs(parts.query, keep_blank_values=True)
        if set(params) - {"catalog"} or any(len(v) > 1 for v in params.values()):
            raise SourceError(f"{where}: the one setting allowed is catalog=NAME (the catalog's own name), once.")
        database = Path("/" + unquote(parts.path).lstrip("/"))  # sqlite:////srv/x.db: the path is //srv/x.db
        if not parts.path.startswith("//"):
            raise SourceError(f"{where}: the database is an absolute path, as in sqlite:////srv/lake/catalog.db.")
        if name.strip() in catalogs:
            raise SourceError(f"{where}: the name is declared twice.")
        own = params.get("catalog", [name.strip()])[0]
        catalogs[name.strip()] = Catalog(name=name.strip(), database=database, catalog=own)
    return catalogs


def _pin(uri: str, key: str) -> int | None:
    params = parse_qs(urlsplit(uri).query, keep_blank_values=True)
    unknown = sorted(set(params) - {key})
    if unknown or any(len(v) > 1 for v in params.values()):
        raise SourceError(
            f"This source URI may set only {key}= (once): got {', '.join(unknown) or key + ' twice'}. Settings and "
            "credentials are the operator's (in Assay's environment)."
        )
    if key not in params:
        return None
    value = params[key][0]
    if not value.isdigit() or len(value) > 19:
        raise SourceError(f"{key} must be a non-negative whole number, got {value!r}.")
    return int(value)


def parse_lake_source(
    uri: str, *, roots: Sequence[str], buckets: Sequence[Bucket], catalogs: dict[str, Catalog]
) -> LakeSource:
    """``uri`` checked and parsed, its table opened and its version pinned (the current one unless the URI names
    one). Raises SourceError."""
    uri = uri.strip()
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "delta+s3":
        bucket, key = objectstore.split_s3(uri, scheme=scheme)
        declared = objectstore.declared_bucket(bucket, key, buckets, what="Delta on object storage")
        source = LakeSource(kind=DELTA, uri="", store=declared, key=key, pin=_pin(uri, "version"))
    elif scheme == "delta":
        source = LakeSource(kind=DELTA, uri="", path=_local_table(uri, roots), pin=_pin(uri, "version"))
    elif scheme == "iceberg":
        source = _iceberg(uri, catalogs)
    else:
        raise SourceError(f"{scheme}:// is not a lakehouse source (delta://, delta+s3://, iceberg://).")
    pin = source.pin if source.pin is not None else current_version(source)
    base = uri.split("?", 1)[0].rstrip("/") if source.kind == ICEBERG else _delta_base(source)
    query = "snapshot" if source.kind == ICEBERG else "version"
    return replace(source, uri=f"{base}?{query}={pin}", pin=pin)


def _delta_base(source: LakeSource) -> str:
    if source.store is not None:
        return f"delta+s3://{source.store.bucket}/{source.key}"
    return f"delta://{source.path}"


def _local_table(uri: str, roots: Sequence[str]) -> Path:
    parts = urlsplit(uri)
    raw = Path(unquote(parts.path))
    if parts.netloc or not raw.is_absolute():
        raise SourceError("A delta:// URI is an absolute path, as in delta:///srv/lake/scores (three slashes).")
    if not roots:
        raise SourceError("Local Delta tables are not enabled: set DATA_SOURCE_ROOTS to the folders they may be in.")
    path = raw.resolve()
    if not any(path == root or root in path.parents for root in (Path(r).resolve() for r in roots)):
        raise SourceError(f"{raw} is not inside a folder DATA_SOURCE_ROOTS allows.")
    if not path.is_dir():
        raise SourceError(f"{raw} does not exist (a Delta table is a folder).")
    return path


def _iceberg(uri: str, catalogs: dict[str, Catalog]) -> LakeSource:
    parts = urlsplit(uri)
    if "@" in parts.netloc or ":" in parts.netloc:
        raise SourceError("An iceberg:// URI names a declared catalog: iceberg://<catalog>/<namespace>.<table>.")
    if not catalogs:
        raise SourceError("Iceberg sources are not enabled: the operator declares catalogs in DATA_SOURCE_CATALOGS.")
    catalog = catalogs.get(parts.netloc)
    if catalog is None:
        raise SourceError(
            f"{parts.netloc or 'No catalog'} is not a catalog DATA_SOURCE_CATALOGS declares "
            f"(declared: {', '.join(sorted(catalogs))})."
        )
    table = unquote(parts.path).strip("/")
    if not _IDENTIFIER.match(table):
        raise SourceError("Name the table as <namespace>.<table> (letters, digits, underscores).")
    return LakeSource(kind=ICEBERG, uri="", catalog=catalog, table=table, pin=_pin(uri, "snapshot"))


def _short(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_delta(source: LakeSource, *, version: int | None = None) -> Any:
    """delta-rs's table at ``version`` (None: the current one). Raises SourceError saying why it cannot be read."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    options = objectstore.storage_options(source.store) if source.store is not None else None
    try:
        return DeltaTable(source.table_uri, version=version, storage_options=options)
    except TableNotFoundError:
        raise SourceError(f"There is no Delta table at {_delta_base(source)}.") from None
    except Exception as exc:  # delta-rs raises DeltaError (and OSError) for a version or a log it cannot read
        if version is not None:
            raise SourceError(
                f"Version {version} of the Delta table {_delta_base(source)} can no longer be read (its log entry was "
                f"removed, or the version never existed): {_short(exc)}"
            ) from None
        raise SourceError(f"The Delta table {_delta_base(source)} cannot be read: {_short(exc)}") from None


def open_iceberg(source: LakeSource) -> Any:
    """pyiceberg's table (its current metadata). Raises SourceError."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    assert source.catalog is not None
    try:
        return source.catalog.open().load_table(source.table)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise SourceError(f"The Iceberg catalog {source.catalog.name} has no table {source.table}.") from None
    except SourceError:
        raise
    except Exception as exc:  # SQLAlchemy's and pyiceberg's own errors for a catalog it cannot read
        raise SourceError(f"The Iceberg catalog {source.catalog.name} cannot be read: {_short(exc)}") from None


def iceberg_snapshot(source: LakeSource, table: Any) -> Any:
    """The pinned snapshot, else SourceError (expired, or the table was replaced)."""
    snapshot = table.snapshot_by_id(source.pin)
    if snapshot is None:
        raise SourceError(
            f"Snapshot {source.pin} of the Iceberg table {source.table} is no longer in the table (it was expired, "
            "or the table was replaced)."
        )
    return snapshot


def current_version(source: LakeSource) -> int:
    """The table's current Delta version or Iceberg snapshot id."""
    if source.kind == DELTA:
        return int(open_delta(source).version())
    snapshot = open_iceberg(source).current_snapshot()
    if snapshot is None:
        raise SourceError(f"The Iceberg table {source.table} has no snapshot yet (no data was written).")
    return int(snapshot.snapshot_id)


def lake_evidence(source: Source) -> dict[str, Any]:
    """The evidence that the pinned version (or the objects) are the same later: see the module docstring."""
    if isinstance(source, objectstore.StoreSource):
        return objectstore.store_evidence(source)
    assert isinstance(source, LakeSource)
    if source.kind == DELTA:
        return _delta_evidence(source)
    return _iceberg_evidence(source)


def _hash(location: str, source: LakeSource, system: Any) -> dict[str, Any]:
    """Size and SHA-256 of one data file (a local path, ``file://`` or ``s3://`` URI)."""
    if location.startswith("s3://"):
        found = objectstore.object_evidence(system, location.removeprefix("s3://"))
        return {"size": found["size"], "sha256": found["sha256"]}
    path = Path(unquote(location.removeprefix("file://")))
    if not path.is_file():
        raise SourceError(
            f"The data file {path.name} of version {source.pin} is gone (vacuumed or removed), so that version can "
            "no longer be read."
        )
    digest, size = hash_file(path)
    return {"size": size, "sha256": digest}


def _delta_evidence(source: LakeSource) -> dict[str, Any]:
    import pyarrow as pa

    table = open_delta(source, version=source.pin)
    system = objectstore.filesystem(source.store) if source.store is not None else None
    base = source.table_uri.rstrip("/") + "/"
    actions = pa.table(table.get_add_actions(flatten=True))
    declared = dict(zip(actions.column("path").to_pylist(), actions.column("num_records").to_pylist(), strict=True))
    files = []
    for location in sorted(table.file_uris()):
        name = location.removeprefix(base)
        files.append({"path": name, **_hash(location, source, system), "rows": declared.get(name)})
    if any(f["rows"] is None for f in files):  # a writer that recorded no statistics: count through delta-rs
        rows = int(table.to_pyarrow_dataset().count_rows())
    else:
        rows = sum(int(f["rows"]) for f in files)
    return {
        "kind": DELTA,
        "version": source.pin,
        "table_id": table.metadata().id,
        "columns": columns_of(pa.schema(table.schema().to_arrow())),
        "files": files,
        "rows": rows,
    }


def _iceberg_evidence(source: LakeSource) -> dict[str, Any]:
    table = open_iceberg(source)
    snapshot = iceberg_snapshot(source, table)
    files = []
    for task in table.scan(snapshot_id=source.pin).plan_files():
        if task.delete_files:
            raise SourceError(
                f"Snapshot {source.pin} of {source.table} has row-level delete files (merge-on-read), which Assay "
                "does not read yet: compact the table (rewrite its data files) and register the new snapshot."
            )
        location = task.file.file_path
        if location.startswith("s3://"):
            raise SourceError("Iceberg data files on object storage are not supported yet: only local files.")
        found = _hash(location, source, None)
        files.append({"path": location.removeprefix("file://"), **found, "rows": task.file.record_count})
    schema = table.schemas()[snapshot.schema_id] if snapshot.schema_id is not None else table.schema()
    return {
        "kind": ICEBERG,
        "catalog": source.catalog.name if source.catalog else "",
        "table": source.table,
        "snapshot": source.pin,
        "table_uuid": str(table.metadata.table_uuid),
        "columns": columns_of(schema.as_arrow()),
        "files": sorted(files, key=lambda f: f["path"]),
        "rows": sum(int(f["rows"]) for f in files),
    }


def lake_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between two evidences of a Delta, Iceberg or object-store source, in words (empty: none)."""
    changes = []
    for key, what in (
        ("version", "the pinned Delta version"),
        ("snapshot", "the pinned Iceberg snapshot"),
        ("table_id", "the Delta table's id (the table was re-created)"),
        ("table_uuid", "the Iceberg table's UUID (the table was dropped and re-created)"),
    ):
        if recorded.get(key) != current.get(key):
            changes.append(f"{what} changed from {recorded.get(key)} to {current.get(key)}")
    before = {f["path"]: f for f in recorded.get("files", [])}
    after = {f["path"]: f for f in current.get("files", [])}
    changes += [f"{name} was removed" for name in sorted(before.keys() - after.keys())]
    changes += [f"{name} was added" for name in sorted(after.keys() - before.keys())]
    for name in sorted(before.keys() & after.keys()):
        was, now = before[name], after[name]
        if was["sha256"] != now["sha256"] or was.get("etag") != now.get("etag"):
            etag = f", ETag {was['etag']} is now {now['etag']}" if was.get("etag") != now.get("etag") else ""
            changes.append(
                f"{name} changed (sha256 {was['sha256'][:12]}… is now {now['sha256'][:12]}…{etag}, "
                f"{was['size']:,} bytes now {now['size']:,})"
            )
    if recorded.get("columns") != current.get("columns"):
        names = lambda e: ", ".join(c["name"] for c in e.get("columns", []))  # noqa: E731
        changes.append(f"the columns changed (were {names(recorded)}; now {names(current)})")
    if recorded.get("rows") != current.get("rows"):
        changes.append(f"the row count changed from {recorded.get('rows'):,} to {current.get('rows'):,}")
    return changes
