"""docs/data-sources.md, "Lakehouse tables and object storage": the bucket and catalog declarations it shows read as
it says, and its Delta, Iceberg and s3:// URIs are accepted as written. The local ones are parsed against real
tables written where the page says (under a temporary folder standing for /srv/lake); the bucket ones against the
page's declarations (no AWS account in the tests: the reading itself is tested on moto in test_lakehouse.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pyiceberg.catalog.sql import SqlCatalog

from governance.data.sources import objectstore
from governance.data.sources.lakehouse import parse_catalogs, parse_lake_source
from tests.sources.test_docs_sources import PAGE, _bodies, _setting

ROWS = pa.table({"repaid": [1, 0, 1], "approved": [1, 1, 0], "sex": ["F", "M", None]})


def _uri(scheme: str) -> str:
    (found,) = [body["source_uri"] for body in _bodies() if body["source_uri"].startswith(scheme + "://")]
    return found


def test_the_pages_buckets_read_as_it_says() -> None:
    line = re.search(r"^DATA_SOURCE_BUCKETS=(\S+)", PAGE.read_text(encoding="utf-8"), flags=re.M)
    assert line
    (value,) = shlex.split(line.group(1))  # quoted on the page: '&' would end a shell command
    aws, minio = objectstore.parse_buckets(value.split(","))
    assert (aws.bucket, aws.prefix, aws.region, aws.endpoint, aws.addressing) == (
        "risk-exports", "evaluations", "eu-west-1", "", "virtual",
    )  # fmt: skip
    assert (aws.key_env, aws.secret_env) == ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    assert (minio.bucket, minio.endpoint, minio.addressing) == ("scratch", "https://minio.internal:9000", "path")
    assert (minio.key_env, minio.secret_env) == ("MINIO_KEY", "MINIO_SECRET")
    for scheme in ("s3", "delta+s3"):  # the page's bucket URIs are inside the page's declaration
        bucket, key = objectstore.split_s3(_uri(scheme) if scheme == "s3" else "delta+s3://risk-exports/evaluations/t",
                                           scheme=scheme)  # fmt: skip
        assert objectstore.declared_bucket(bucket, key, [aws, minio], what="") == aws
    assert _uri("s3") == "s3://risk-exports/evaluations/2026-12"


def test_the_pages_delta_and_iceberg_uris_are_accepted(tmp_path: Path) -> None:
    root = _setting("DATA_SOURCE_ROOTS")[0]  # /srv/lake, here under tmp_path
    delta = _uri("delta")
    local = tmp_path / delta.removeprefix(f"delta://{root}/")
    write_deltalake(str(local), ROWS)
    parsed = parse_lake_source(f"delta://{local}", roots=[str(tmp_path)], buckets=[], catalogs={})
    assert parsed.uri == f"delta://{local}?version=0"

    (declared,) = _setting("DATA_SOURCE_CATALOGS")
    catalog_path = declared.split("sqlite:///", 1)[1]
    assert catalog_path.startswith(root + "/")
    database = tmp_path / catalog_path.removeprefix(root + "/")
    database.parent.mkdir(parents=True)
    written = SqlCatalog("lake", uri=f"sqlite:///{database}", warehouse=f"file://{tmp_path}/warehouse")
    written.create_namespace("risk")
    written.create_table("risk.decisions", schema=ROWS.schema).append(ROWS)
    catalogs = parse_catalogs([declared.replace(root, str(tmp_path), 1)])
    parsed = parse_lake_source(_uri("iceberg"), roots=[], buckets=[], catalogs=catalogs)
    snapshot = written.load_table("risk.decisions").current_snapshot()
    assert snapshot is not None
    assert parsed.uri == f"iceberg://lake/risk.decisions?snapshot={snapshot.snapshot_id}"


@pytest.mark.parametrize("name", ["DATA_SOURCE_BUCKETS", "DATA_SOURCE_CATALOGS"])
def test_the_pages_lakehouse_settings_exist(name: str, settings: object) -> None:
    assert hasattr(settings, name)
