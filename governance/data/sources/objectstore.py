"""Parquet objects in an S3-protocol bucket (``s3://bucket/prefix``), read where they lie.

The operator declares the buckets (and prefixes) a source may be in, in ``DATA_SOURCE_BUCKETS``: comma-separated
entries ``s3://bucket[/prefix]`` with optional settings ``endpoint=`` (an S3-protocol server other than AWS's),
``region=``, ``addressing=path|virtual``, ``key_env=``/``secret_env=``/``token_env=`` (the environment variables
holding the credentials; by default ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``) or
``anonymous=true`` (a public bucket). Credentials come from those variables only, given to the client explicitly:
never from the URI, the database, or the AWS configuration files and instance metadata.

The evidence of an object-store source is every ``*.parquet`` object's key (relative to the source), size, ETag and
SHA-256 (the object's bytes, streamed), and the rows its footer declares. Reading goes through pyarrow's S3 file
system, one row group at a time (nothing here downloads a DuckDB extension).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from governance.data.sources.uris import Source, SourceError

S3 = "s3"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_DECLARED = {"endpoint", "region", "addressing", "key_env", "secret_env", "token_env", "anonymous"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Bucket:
    """A bucket (and prefix) the operator declared in ``DATA_SOURCE_BUCKETS``, with how to reach it."""

    bucket: str
    prefix: str = ""
    endpoint: str = ""  # scheme://host[:port]; empty: AWS
    region: str = "us-east-1"
    addressing: str = "virtual"
    key_env: str = "AWS_ACCESS_KEY_ID"
    secret_env: str = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a variable's name, not a secret
    token_env: str = "AWS_SESSION_TOKEN"  # noqa: S105 - likewise
    anonymous: bool = False

    def contains(self, bucket: str, key: str) -> bool:
        if bucket != self.bucket:
            return False
        return not self.prefix or key == self.prefix or key.startswith(self.prefix + "/")

    def credentials(self) -> dict[str, str]:
        """The access key, secret and (when set) session token from the declared variables; none when anonymous."""
        if self.anonymous:
            return {}
        found = {}
        for role, name in (("key", self.key_env), ("secret", self.secret_env)):
            value = os.environ.get(name, "")
            if not value:
                raise SourceError(
                    f"The environment variable {name} (the {role} for s3://{self.bucket}) is not set in Assay's "
                    "environment; the operator sets it, or declares the bucket anonymous=true."
                )
            found[role] = value
        token = os.environ.get(self.token_env, "")
        return found | ({"token": token} if token else {})


@dataclass(frozen=True)
class StoreSource(Source):
    """An ``s3://`` source: the declared bucket and the key (an object, or a prefix of ``*.parquet`` objects)."""

    store: Bucket | None = None
    key: str = ""

    @property
    def location(self) -> str:
        assert self.store is not None
        return f"s3://{self.store.bucket}/{self.key}"


def parse_buckets(entries: Sequence[str]) -> list[Bucket]:
    """The buckets the operator declared (see the module docstring). Raises SourceError naming the bad entry."""
    declared = []
    for entry in entries:
        where = f"DATA_SOURCE_BUCKETS entry {entry.split('?', 1)[0]!r}"
        parts = urlsplit(entry.strip())
        if parts.scheme != S3 or not _BUCKET.match(parts.netloc or ""):
            raise SourceError(f"{where}: write s3://bucket[/prefix][?endpoint=...&region=...].")
        params = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(params) - _DECLARED)
        if unknown or any(len(values) > 1 for values in params.values()):
            raise SourceError(
                f"{where}: unknown or repeated setting(s) {', '.join(unknown) or 'given twice'}; "
                f"allowed once each: {', '.join(sorted(_DECLARED))}."
            )
        given = {key: values[0] for key, values in params.items()}
        endpoint = given.get("endpoint", "")
        if endpoint and (urlsplit(endpoint).scheme not in {"http", "https"} or not urlsplit(endpoint).netloc):
            raise SourceError(f"{where}: endpoint is http(s)://host[:port].")
        if given.get("addressing", "virtual") not in {"path", "virtual"}:
            raise SourceError(f"{where}: addressing is path or virtual.")
        if given.get("anonymous", "false") not in {"true", "false"}:
            raise SourceError(f"{where}: anonymous is true or false.")
        names = {key: given[key] for key in ("key_env", "secret_env", "token_env") if key in given}
        if any(not _ENV_NAME.match(name) for name in names.values()):
            raise SourceError(f"{where}: key_env, secret_env and token_env name environment variables.")
        declared.append(
            Bucket(
                bucket=parts.netloc,
                prefix=unquote(parts.path).strip("/"),
                endpoint=endpoint.rstrip("/"),
                region=given.get("region", "us-east-1"),
                # A server of one's own is usually reached by path (no wildcard DNS); AWS by virtual host.
                addressing=given.get("addressing", "path" if endpoint else "virtual"),
                anonymous=given.get("anonymous") == "true",
                **names,
            )
        )
    return declared


def declared_bucket(bucket: str, key: str, buckets: Sequence[Bucket], *, what: str) -> Bucket:
    """The declaration that allows ``bucket``/``key`` (the longest prefix), else SourceError."""
    if not buckets:
        raise SourceError(f"{what} sources are not enabled: the operator declares buckets in DATA_SOURCE_BUCKETS.")
    matching = [b for b in buckets if b.contains(bucket, key)]
    if not matching:
        raise SourceError(f"s3://{bucket}/{key} is not inside a bucket or prefix DATA_SOURCE_BUCKETS declares.")
    return max(matching, key=lambda b: len(b.prefix))


def split_s3(uri: str, *, scheme: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``scheme://bucket/key``; no credentials, port, query or fragment. Raises SourceError."""
    parts = urlsplit(uri)
    if "@" in parts.netloc or ":" in parts.netloc or not _BUCKET.match(parts.netloc or ""):
        raise SourceError(
            f"A {scheme}:// URI names a bucket and a key, as in {scheme}://bucket/prefix: no credentials, host or port "
            "(credentials come from Assay's environment)."
        )
    if parts.fragment:
        raise SourceError(f"A {scheme}:// URI has no #fragment.")
    key = unquote(parts.path).strip("/")
    if any(segment in {"", ".", ".."} for segment in key.split("/")) and key:
        raise SourceError(f"The key {key!r} has an empty, '.' or '..' segment.")
    return parts.netloc, key


def parse_store_source(uri: str, *, buckets: Sequence[Bucket]) -> StoreSource:
    """An ``s3://bucket/key`` source inside a declared bucket; the object or prefix must exist. Raises SourceError."""
    bucket, key = split_s3(uri, scheme=S3)
    if urlsplit(uri).query:
        raise SourceError("An s3:// source takes no ?settings: the operator declares them in DATA_SOURCE_BUCKETS.")
    declared = declared_bucket(bucket, key, buckets, what="Object-store")
    source = StoreSource(kind=S3, uri=f"s3://{bucket}/{key}", store=declared, key=key)
    parquet_objects(source)  # exists, holds Parquet
    return source


def filesystem(bucket: Bucket) -> Any:
    """pyarrow's S3 file system for ``bucket``, its credentials given explicitly (from the declared variables)."""
    from pyarrow import fs

    options: dict[str, Any] = {"region": bucket.region, "force_virtual_addressing": bucket.addressing == "virtual"}
    if bucket.endpoint:
        parts = urlsplit(bucket.endpoint)
        options |= {"endpoint_override": parts.netloc, "scheme": parts.scheme}
    credentials = bucket.credentials()
    if bucket.anonymous:
        options["anonymous"] = True
    else:
        options |= {"access_key": credentials["key"], "secret_key": credentials["secret"]}
        if "token" in credentials:
            options["session_token"] = credentials["token"]
    return fs.S3FileSystem(**options)


def storage_options(bucket: Bucket) -> dict[str, str]:
    """The same settings as delta-rs's ``storage_options`` (its object_store keys)."""
    options = {"AWS_REGION": bucket.region}
    if bucket.endpoint:
        options["AWS_ENDPOINT_URL"] = bucket.endpoint
        options["AWS_ALLOW_HTTP"] = "true" if bucket.endpoint.startswith("http://") else "false"
    options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "true" if bucket.addressing == "virtual" else "false"
    credentials = bucket.credentials()
    if bucket.anonymous:
        options["AWS_SKIP_SIGNATURE"] = "true"
    else:
        options |= {"AWS_ACCESS_KEY_ID": credentials["key"], "AWS_SECRET_ACCESS_KEY": credentials["secret"]}
        if "token" in credentials:
            options["AWS_SESSION_TOKEN"] = credentials["token"]
    return options


def _readable(exc: Exception) -> str:
    """pyarrow's error, first line only (it names the bucket and key, never the secret)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def parquet_objects(source: StoreSource) -> list[str]:
    """The source's Parquet objects as ``bucket/key`` paths: the object itself, or every ``*.parquet`` under the
    prefix, in key order. Raises SourceError."""
    from pyarrow import fs

    assert source.store is not None
    system, root = filesystem(source.store), f"{source.store.bucket}/{source.key}".rstrip("/")
    try:
        info = system.get_file_info(root)
        if info.type == fs.FileType.File:
            return [root]
        found = system.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise SourceError(f"s3://{root} cannot be listed: {_readable(exc)}") from None
    files = sorted(i.path for i in found if i.type == fs.FileType.File and i.path.endswith(".parquet"))
    if not files:
        raise SourceError(f"s3://{root} holds no .parquet object.")
    return files


def object_evidence(system: Any, path: str) -> dict[str, Any]:
    """One object's size, ETag and SHA-256 (streamed), and the rows its Parquet footer declares."""
    import pyarrow.parquet as pq

    digest, size = hashlib.sha256(), 0
    try:
        with system.open_input_stream(path) as stream:
            etag = (stream.metadata() or {}).get("ETag", b"").decode().strip('"')
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                digest.update(chunk)
        with system.open_input_file(path) as handle:
            rows = pq.ParquetFile(handle).metadata.num_rows
    except FileNotFoundError:
        raise SourceError(f"s3://{path} no longer exists.") from None
    except OSError as exc:
        raise SourceError(f"s3://{path} cannot be read: {_readable(exc)}") from None
    except Exception as exc:  # pyarrow raises several types for an object that is not Parquet
        raise SourceError(f"s3://{path} is not a readable Parquet file: {_readable(exc)}") from None
    return {"size": size, "etag": etag, "sha256": digest.hexdigest(), "rows": rows}


def store_evidence(source: StoreSource) -> dict[str, Any]:
    """See the module docstring; ``columns`` are the files' unified Arrow schema."""
    assert source.store is not None
    system, paths = filesystem(source.store), parquet_objects(source)
    root = f"{source.store.bucket}/{source.key}".rstrip("/")
    files = []
    for path in paths:
        name = path.rsplit("/", 1)[-1] if path == root else path.removeprefix(root + "/")
        files.append({"path": name, **object_evidence(system, path)})
    return {
        "kind": S3,
        "files": files,
        "rows": sum(f["rows"] for f in files),
        "columns": columns_of(store_schema(system, paths)),
    }


def store_schema(system: Any, paths: Sequence[str]) -> Any:
    """The objects' schemas unified by name (a column missing from an object reads as empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = []
    for path in paths:
        with system.open_input_file(path) as handle:
            schemas.append(pq.read_schema(handle))
    return pa.unify_schemas(schemas, promote_options="permissive")


def columns_of(schema: Any) -> list[dict[str, str]]:
    """An Arrow schema as evidence: each column's name and type."""
    return [{"name": field.name, "dtype": str(field.type)} for field in schema]
