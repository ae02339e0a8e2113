"""Lakehouse sources for the tests, written by the real libraries: Delta tables (delta-rs), Iceberg tables in
pyiceberg's SQL catalog on SQLite, and Parquet objects in a bucket on moto's S3-protocol server (a process of its own,
reached through a socket, as tests/storage/conftest.py says). Nothing stands in for the formats' readers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake
from pyiceberg.catalog.sql import SqlCatalog

from tests.storage.conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Server

Mode = Literal["error", "append", "overwrite"]
CATALOG = "lake"  # the name the test catalog is declared (and created) under
KEY_ENV, SECRET_ENV = "ASSAY_TEST_LAKE_KEY", "ASSAY_TEST_LAKE_SECRET"


@dataclass
class Lake:
    """Where a test's lakehouse sources live: a folder under DATA_SOURCE_ROOTS, an Iceberg catalog and a bucket."""

    root: Path
    catalog_db: Path
    warehouse: Path
    server: S3Server
    bucket: str

    @property
    def storage_options(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_S3_ALLOW_UNSAFE_RENAME": "true",  # one writer: the test
        }

    def catalog(self) -> SqlCatalog:
        return SqlCatalog(CATALOG, uri=f"sqlite:///{self.catalog_db}", warehouse=f"file://{self.warehouse}")

    def write_delta(self, table: pa.Table, name: str, *, mode: Mode = "error") -> Path:
        path = self.root / name
        write_deltalake(str(path), table, mode=mode)  # type: ignore[call-overload]
        return path

    def write_delta_s3(self, table: pa.Table, key: str, *, mode: Mode = "error") -> str:
        uri = f"s3://{self.bucket}/{key}"
        write_deltalake(uri, table, mode=mode, storage_options=self.storage_options)  # type: ignore[call-overload]
        return uri

    def write_iceberg(self, table: pa.Table, identifier: str) -> Any:
        catalog = self.catalog()
        namespace = identifier.rsplit(".", 1)[0]
        if (namespace,) not in catalog.list_namespaces():
            catalog.create_namespace(namespace)
        created = catalog.create_table(identifier, schema=table.schema)
        created.append(table)
        return created

    def put_parquet(self, table: pa.Table, key: str) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        self.server.client().put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())


@pytest.fixture(name="lake")
def lake_fixture(settings: Any, tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """The operator's declarations for this test's lake: the folder, the catalog and the bucket, the bucket's
    credentials in variables of the test's environment (named by the declaration)."""
    root = tmp_path / "lake"
    root.mkdir()
    found = Lake(
        root=root,
        catalog_db=tmp_path / "catalog.db",
        warehouse=root / "warehouse",
        server=s3_server,
        bucket=s3_server.new_bucket(),
    )
    found.catalog().list_namespaces()  # creates the catalog's tables
    monkeypatch.setenv(KEY_ENV, ACCESS_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET_KEY)
    settings.DATA_SOURCE_ROOTS = [str(root)]
    settings.DATA_SOURCE_CATALOGS = [f"{CATALOG}=sqlite:///{found.catalog_db}"]
    settings.DATA_SOURCE_BUCKETS = [
        f"s3://{found.bucket}?endpoint={s3_server.endpoint}&region={REGION}&key_env={KEY_ENV}&secret_env={SECRET_ENV}"
    ]
    return found
