"""Immutability evidence of a source, computed when it is registered and compared before every audit.

- Parquet: every file's path (relative to the source), size and SHA-256, and the rows its footers declare.
- PostgreSQL: the relation's columns (names and types), its row count, and an order-independent content digest
  computed by the server: the sums, over all rows, of the two 64-bit halves of ``md5(row::text)`` (signed, summed
  as numeric, so no overflow). Reordering rows leaves it unchanged; adding, removing or editing a row changes it
  (up to a collision of md5 halves, which accident does not produce).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from governance.data.ingest import hash_file
from governance.data.sources import lakehouse, spark
from governance.data.sources.uris import PARQUET, Source, SourceError

DIGEST_METHOD = "sum of the two signed 64-bit halves of md5(row::text) over all rows, and count(*)"


def written_parquet(folder: Path) -> Iterator[Path]:
    """The ``*.parquet`` files under ``folder`` but those a path component below it marks as not data: ``_`` or ``.``
    first, as Spark and Hive writers name what is in progress (``_temporary/``) or not rows (``_metadata``)."""
    for file in folder.rglob("*.parquet"):
        if file.is_file() and not any(part[:1] in {"_", "."} for part in file.relative_to(folder).parts):
            yield file


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a source: the file itself, or every ``*.parquet`` under the folder, in name order
    (those a writer marks as not data are left out: see ``written_parquet``)."""
    if path.is_file():
        return [path]
    files = sorted(written_parquet(path))
    if not files:
        raise SourceError(f"{path} holds no .parquet file.")
    for file in files:
        # A link inside the folder may not lead out of it (the allow-list named the folder, not where links point).
        if path.resolve() not in file.resolve().parents:
            raise SourceError(f"{file.relative_to(path)} links outside {path}; a source's files stay inside it.")
    return files


def evidence_of(source: Source, *, connection: Any = None) -> dict[str, Any]:
    """The evidence that ``source`` is the same later: see the module docstring. A SQL source's is computed in
    ``connection`` when given (a ``postgres.snapshot``). Raises SourceError."""
    if source.kind == PARQUET:
        return _parquet_evidence(source)
    if source.kind in lakehouse.KINDS:  # Delta, Iceberg, object-store Parquet
        return lakehouse.lake_evidence(source)
    if isinstance(source, spark.SparkSource):  # computed by Spark, in the form the SQL evidence has
        return spark.spark_evidence(source)
    return _sql_evidence(source, connection)


def _parquet_evidence(source: Source) -> dict[str, Any]:
    import pyarrow.parquet as pq

    assert source.path is not None
    files, rows = [], 0
    for file in parquet_files(source.path):
        digest, size = hash_file(file)
        try:
            declared = pq.ParquetFile(file).metadata.num_rows
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise SourceError(f"{file.name} is not a readable Parquet file: {exc}") from None
        name = file.name if file == source.path else str(file.relative_to(source.path))
        files.append({"path": name, "size": size, "sha256": digest, "rows": declared})
        rows += declared
    return {"kind": PARQUET, "files": files, "rows": rows}


def _sql_evidence(source: Source, connection: Any) -> dict[str, Any]:
    from psycopg import sql  # noqa: PLC0415 - the driver loads only when a SQL source is read

    from governance.data.sources import postgres  # noqa: PLC0415 - likewise

    relation = postgres.relation(source)
    columns, _ = postgres.run(source, sql.SQL("SELECT * FROM {} AS t LIMIT 0").format(relation), connection=connection)
    statement = sql.SQL(
        "SELECT count(*),"
        " coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)::text,"
        " coalesce(sum(('x' || substr(md5(t::text), 17, 16))::bit(64)::bigint::numeric), 0)::text"
        " FROM {} AS t"
    ).format(relation)
    _, rows = postgres.run(source, statement, connection=connection)
    count, high, low = rows[0]
    return {
        "kind": source.kind,
        "columns": [{"name": column.name, "type_oid": column.type_code} for column in columns],
        "rows": int(count),
        "digest": f"{high}:{low}",
        "method": DIGEST_METHOD,
    }


def changes_between(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between the evidence recorded at registration and the evidence now, in words (empty: none)."""
    if recorded.get("kind") in lakehouse.KINDS:
        return lakehouse.lake_changes(recorded, current)
    changes: list[str] = []
    if recorded.get("kind") == PARQUET:
        before = {f["path"]: f for f in recorded.get("files", [])}
        after = {f["path"]: f for f in current.get("files", [])}
        for name in sorted(before.keys() - after.keys()):
            changes.append(f"{name} was removed")
        for name in sorted(after.keys() - before.keys()):
            changes.append(f"{name} was added")
        for name in sorted(before.keys() & after.keys()):
            if before[name]["sha256"] != after[name]["sha256"]:
                changes.append(
                    f"{name} changed (sha256 {before[name]['sha256'][:12]}… is now {after[name]['sha256'][:12]}…, "
                    f"{before[name]['size']:,} bytes now {after[name]['size']:,})"
                )
    else:
        if recorded.get("columns") != current.get("columns"):
            names = lambda e: ", ".join(c["name"] for c in e.get("columns", []))  # noqa: E731
            changes.append(f"the columns changed (were {names(recorded)}; now {names(current)})")
        if recorded.get("digest") != current.get("digest"):
            changes.append("the content digest of the rows changed (a row was added, removed or edited)")
    if recorded.get("rows") != current.get("rows"):
        changes.append(f"the row count changed from {recorded.get('rows'):,} to {current.get('rows'):,}")
    return changes
