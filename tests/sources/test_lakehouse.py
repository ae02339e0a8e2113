"""Delta Lake, Iceberg and object-store Parquet sources audit as the same rows uploaded as a file (issue 21).

Each source is written by its real library (delta-rs, pyiceberg's SQL catalog on SQLite, moto's S3-protocol server),
registered through the HTTP API, and audited through the API and ``run_audit``. A Delta or Iceberg source is pinned
to the version current at registration: rows written to the table afterwards are not read. A source whose pinned
version was changed or removed is refused before any check runs, saying what changed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from django.core.management import call_command

from audits.models import AuditRun
from audits.statistics.engines import engine_for
from audits.statistics.profile import source_profile
from governance.data.actions.sources import source_of
from governance.data.models import DatasetVersion
from governance.trail.models import Event
from tests.audits.conftest import (  # noqa: F401 - builtin_policies_stored and media_root are fixtures
    audit_body,
    builtin_policies_stored,
    media_root,
    post_audit,
    predictions_only_version,
)
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.sources.lakes import CATALOG, Lake, lake_fixture  # noqa: F401 - the lake fixture
from tests.sources.test_source_audits import ROLES, _post_source, _results, _save_policies
from tests.sources.test_source_profile import awkward_table, file_profile
from tests.storage.conftest import SECRET_KEY, s3_server  # noqa: F401 - s3_server is a fixture

API = "/api/v1"
KINDS = ["delta", "delta+s3", "iceberg", "s3"]
ENGINES = {"delta": "duckdb (delta-rs)", "delta+s3": "duckdb (delta-rs)", "iceberg": "duckdb (pyiceberg)",
           "s3": "duckdb (pyarrow S3)"}  # fmt: skip


def _write(lake: Lake, kind: str, table: pa.Table) -> str:
    """``table`` written as a source of ``kind``; its URI (without a pinned version)."""
    if kind == "delta":
        return f"delta://{lake.write_delta(table, 'compas')}"
    if kind == "delta+s3":
        return "delta+" + lake.write_delta_s3(table, "tables/compas")
    if kind == "iceberg":
        lake.write_iceberg(table, "risk.compas")
        return f"iceberg://{CATALOG}/risk.compas"
    size = -(-table.num_rows // 3)
    for part in range(3):
        lake.put_parquet(table.slice(part * size, size), f"exports/compas/part-{part:03d}.parquet")
    return f"s3://{lake.bucket}/exports/compas"


def _append(lake: Lake, kind: str, table: pa.Table) -> None:
    """Rows written to the table after it was registered."""
    if kind == "delta":
        lake.write_delta(table, "compas", mode="append")
    elif kind == "delta+s3":
        lake.write_delta_s3(table, "tables/compas", mode="append")
    elif kind == "iceberg":
        lake.catalog().load_table("risk.compas").append(table)


def _uploaded(cast: Cast, table: pa.Table) -> DatasetVersion:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return make_file_version(cast, make_dataset(cast, "compas-eval"), buffer.getvalue(), name="compas.parquet")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_lakehouse_source_audits_as_the_uploaded_file(
    kind: str, cast: Cast, lake: Lake, tables: dict[str, pa.Table]
) -> None:
    compas = tables["compas"]
    uploaded = _uploaded(cast, compas)
    uri = _write(lake, kind, compas)

    response = _post_source(cast, "compas-eval", uri)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["format"], body["row_count"]) == (2, "source", 7214)
    evidence = body["source_evidence"]
    assert evidence["rows"] == 7214
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in evidence["files"])
    if kind in ("delta", "delta+s3"):
        assert body["source_uri"] == f"{uri}?version=0"
        assert evidence["version"] == 0
    elif kind == "iceberg":
        current = lake.catalog().load_table("risk.compas").current_snapshot()
        assert current is not None
        snapshot = current.snapshot_id
        assert (body["source_uri"], evidence["snapshot"]) == (f"{uri}?snapshot={snapshot}", snapshot)
    else:
        assert [f["path"] for f in evidence["files"]] == [f"part-{p:03d}.parquet" for p in range(3)]
        assert all(f["etag"] for f in evidence["files"])
    assert [c["name"] for c in body["schema"]] == compas.column_names
    stored = json.dumps([body, [e.payload for e in Event.objects.all()]])
    assert SECRET_KEY not in stored  # the credentials stay in the environment
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=2)
    # Rows written after registration: the pinned version is what the audit reads (objects have no versions).
    _append(lake, kind, compas.slice(0, 500))

    _save_policies(cast)
    version = predictions_only_version(cast)
    for policy, mode in (("four-fifths", "counted"), ("source-counted", "counted"), ("source-rows", "rows")):
        from_file = post_audit(cast.owner, audit_body(version, uploaded, policy=policy, roles=ROLES))
        from_source = post_audit(cast.owner, audit_body(version, source, policy=policy, roles=ROLES))
        assert from_file.status_code == from_source.status_code == 201, (from_file.content, from_source.content)

        expected, found = _results(from_file.json()["id"]), _results(from_source.json()["id"])
        reading = found.pop("data_source")
        assert found == expected
        assert (reading["engine"], reading["mode"]) == (ENGINES[kind], mode)
        assert from_source.json()["verdict"] == from_file.json()["verdict"]
    assert expected["rows"] == 7214


def _run_audit(cast: Cast, version: Any, *extra: str) -> dict[str, Any]:
    arguments = [
        "run_audit", "--as", cast.owner.user.username, "--model", version.model.name, "--version", "1",
        "--dataset", "compas-eval", "--dataset-version", "1", "--label", "two_year_recid",
        "--prediction", "high_risk", "--favourable", "0", "--protected", "sex,race,age_cat", "--policy", "four-fifths",
        "--json", *extra,
    ]  # fmt: skip
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:  # the verdict is the exit status: COMPAS fails four-fifths
        call_command(*arguments, stdout=out)
    assert exit_status.value.code == 1
    return json.loads(out.getvalue())


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_rewritten_delta_file_and_a_vacuumed_version_are_refused(
    cast: Cast, lake: Lake, tables: dict[str, pa.Table]
) -> None:
    compas = tables["compas"]
    path = lake.write_delta(compas, "compas")
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", f"delta://{path}").status_code == 201
    version = predictions_only_version(cast)
    assert _run_audit(cast, version)["verdict"] == "fail"  # run_audit reads the pinned version

    (data_file,) = DeltaTable(str(path)).file_uris()
    pq.write_table(compas.slice(0, 7000), data_file)  # rewritten in place, behind the log's back
    with pytest.raises(Exception, match=r"has changed since it was registered.*snappy.parquet changed \(sha256 "):
        _run_audit(cast, version, "--force")

    lake.write_delta(compas.slice(0, 10), "compas", mode="overwrite")  # version 1 replaces version 0's file
    DeltaTable(str(path)).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))
    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict) == ("error", "")
    assert "of version 0 is gone (vacuumed or removed)" in run.error


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_replaced_iceberg_table_is_refused(cast: Cast, lake: Lake, tables: dict[str, pa.Table]) -> None:
    lake.write_iceberg(tables["compas"], "risk.compas")
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", f"iceberg://{CATALOG}/risk.compas").status_code == 201
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    pinned = source.source_evidence["snapshot"]
    lake.catalog().drop_table("risk.compas")
    lake.write_iceberg(tables["compas"], "risk.compas")  # the same rows, another table (another UUID, snapshot)
    version = predictions_only_version(cast)

    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))

    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict) == ("error", "")
    assert f"Snapshot {pinned} of the Iceberg table risk.compas is no longer in the table" in run.error


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_changed_object_is_refused_naming_it(cast: Cast, lake: Lake, tables: dict[str, pa.Table]) -> None:
    uri = _write(lake, "s3", tables["compas"])
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", uri).status_code == 201
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    lake.put_parquet(tables["compas"].slice(0, 100), "exports/compas/part-001.parquet")
    lake.put_parquet(tables["compas"].slice(0, 100), "exports/compas/part-003.parquet")
    version = predictions_only_version(cast)

    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))

    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict) == ("error", "")
    assert "part-003.parquet was added" in run.error
    assert "part-001.parquet changed (sha256 " in run.error
    assert ", ETag " in run.error


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("delta:///etc", "not inside a folder DATA_SOURCE_ROOTS allows"),
        ("delta://{root}/nothing-here", "does not exist"),
        ("delta://{root}/empty", "There is no Delta table at delta://"),
        ("delta://{root}/compas?version=5", "Version 5 of the Delta table"),
        ("delta://{root}/compas?version=x", "version must be a non-negative whole number"),
        ("delta://{root}/compas?aws_secret_access_key=x", "may set only version="),
        ("delta+s3://other-bucket/t", "not inside a bucket or prefix DATA_SOURCE_BUCKETS declares"),
        ("delta+s3://key:secret@{bucket}/t", "no credentials, host or port"),
        ("iceberg://warehouse/risk.compas", "warehouse is not a catalog DATA_SOURCE_CATALOGS declares"),
        ("iceberg://lake/risk.missing", "The Iceberg catalog lake has no table risk.missing"),
        ("iceberg://lake/compas", "Name the table as <namespace>.<table>"),
        ("s3://{bucket}/nothing", "holds no .parquet object"),
        ("s3://{bucket}/x?endpoint=http://evil", "takes no ?settings"),
        ("s3:///x", "names a bucket and a key"),
        ("s3://other-bucket/x", "not inside a bucket or prefix DATA_SOURCE_BUCKETS declares"),
    ],
)
@pytest.mark.usefixtures("unprotected_trail")
def test_a_refused_lakehouse_source_is_named_and_changes_nothing(
    cast: Cast, lake: Lake, tables: dict[str, pa.Table], uri: str, words: str
) -> None:
    lake.write_delta(tables["german"], "compas")
    (lake.root / "empty").mkdir()
    make_dataset(cast, "compas-eval")
    before = (DatasetVersion.objects.count(), Event.objects.count())

    response = _post_source(cast, "compas-eval", uri.format(root=lake.root, bucket=lake.bucket))

    assert response.status_code == 422, response.content  # as every refused source (docs/data-sources.md)
    assert words in response.content.decode()
    assert (DatasetVersion.objects.count(), Event.objects.count()) == before


@pytest.mark.usefixtures("unprotected_trail")
def test_missing_credentials_and_undeclared_kinds_are_named(
    cast: Cast, lake: Lake, tables: dict[str, pa.Table], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _write(lake, "s3", tables["german"])
    make_dataset(cast, "compas-eval")
    monkeypatch.delenv("ASSAY_TEST_LAKE_SECRET")
    response = _post_source(cast, "compas-eval", objects)
    assert response.status_code == 422
    assert "ASSAY_TEST_LAKE_SECRET (the secret for s3://" in response.content.decode()

    settings.DATA_SOURCE_BUCKETS = []
    settings.DATA_SOURCE_CATALOGS = []
    settings.DATA_SOURCE_ROOTS = []
    for uri, words in [
        (objects, "Object-store sources are not enabled"),
        ("iceberg://lake/risk.compas", "Iceberg sources are not enabled"),
        (f"delta://{lake.root}/t", "Local Delta tables are not enabled"),
    ]:
        response = _post_source(cast, "compas-eval", uri)
        assert response.status_code == 422
        assert words in response.content.decode()
    settings.DATA_SOURCE_CATALOGS = ["lake=sqlite:relative.db"]
    response = _post_source(cast, "compas-eval", "iceberg://lake/risk.compas")
    assert response.status_code == 422
    assert "DATA_SOURCE_CATALOGS entry 'lake'" in response.content.decode()
    assert DatasetVersion.objects.count() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_lakehouse_source_is_profiled_as_the_upload_profiles_the_file(
    kind: str, lake: Lake, tmp_path: Path, settings: Any
) -> None:
    """The quality profile (missing values with NaN and -0.0, duplicates, label balance, outliers) computed by DuckDB
    over the table format's Arrow stream equals the upload profile of the same rows."""
    table = awkward_table()
    uri = _write(lake, kind, table)
    source = source_of(DatasetVersion(source_uri=uri))

    found = source_profile(engine_for(source), label_column="repaid")

    assert found == file_profile(table, tmp_path / "upload", label="repaid")
    assert found is not None
    assert found["duplicate_rows"] >= 40
