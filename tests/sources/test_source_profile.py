"""A source's quality profile, computed in SQL by its engine (DuckDB over Parquet, PostgreSQL), equals the upload
profile of the same rows (``inspect_whole``), and an audit's data-quality check on a source judges it as it judges
the uploaded file (issue 21)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from audits import actions as audits
from audits.models import AuditRun
from audits.statistics.engines import DuckDBEngine, PostgresEngine
from audits.statistics.profile import source_profile
from governance.data.ingest.profile import inspect_whole
from governance.data.models import DatasetVersion
from governance.data.sources import parse_source
from governance.trail.log import Actor
from tests.audits.conftest import (  # noqa: F401 - builtin_policies_stored and media_root are fixtures
    audit_body,
    builtin_policies_stored,
    media_root,
    post_audit,
    predictions_only_version,
)
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.sources.conftest import admin_connection, connections, declaration, pg_uri, write_parquet

_PG = {pa.int64(): "bigint", pa.float64(): "double precision", pa.float32(): "real", pa.string(): "text"}


def awkward_table(rows: int = 3000) -> pa.Table:
    """Integers, floats with NaN, inf, -0.0 and nulls, floats with NaN and no nulls (DuckDB's ``isnan`` misses
    those in Parquet), a 32-bit float, text with nulls, repeated rows, and an integer label."""
    rng = np.random.default_rng(21)
    amount = rng.normal(1000, 300, rows)
    amount[::17] = np.nan
    amount[5], amount[6], amount[7], amount[8] = -0.0, 0.0, np.inf, -np.inf
    amount = amount.tolist()
    amount[::29] = [None] * len(amount[::29])
    ratio = rng.normal(0, 1, rows)
    ratio[::31] = np.nan  # NaN, and no null in the column
    grade = rng.integers(0, 4, rows) / 4
    grade[::37] = np.nan
    share = (rng.integers(0, 10, rows) / 10).astype(np.float32)  # 0.1 as float32 is spelt 0.1, not 0.10000000149...
    share[::41] = np.nan
    table = pa.table(
        {
            "age": rng.integers(18, 80, rows),
            "amount": pa.array(amount, pa.float64()),
            "purpose": pa.array([None if i % 11 == 0 else f"p{i % 7}" for i in range(rows)]),
            "bucket": pa.array(rng.integers(0, 3, rows).astype(np.float64)),
            "repaid": rng.integers(0, 2, rows),
            "ratio": pa.array(ratio, pa.float64()),
            "grade": pa.array(grade, pa.float64()),
            "share": pa.array(share, pa.float32()),
        }
    )
    return pa.concat_tables([table, table.slice(0, 40)])  # 40 rows repeat earlier ones


def load_table(table: pa.Table, name: str, *, database: str) -> None:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_PG[f.type])) for f in table.schema
    )
    with admin_connection(database) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), columns))
        with connection.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
            for row in table.to_pylist():
                copy.write_row(list(row.values()))


def file_profile(table: pa.Table, folder: Path, *, label: str) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "upload.parquet"
    pq.write_table(table, path)
    return inspect_whole(path, fmt="parquet", label_column=label).profile


@pytest.mark.parametrize("label", ["repaid", "purpose", "amount", "grade", "share"])
def test_duckdb_profiles_a_folder_as_the_upload_profiles_the_file(tmp_path: Path, label: str) -> None:
    table = awkward_table()
    folder = write_parquet(table, tmp_path / "lake" / "loans", parts=3)
    source = parse_source(f"parquet://{folder}", roots=[str(tmp_path / "lake")], connections={})

    found = source_profile(DuckDBEngine(source), label_column=label)

    expected = file_profile(table, tmp_path / "upload", label=label)
    assert found == expected
    assert expected["duplicate_rows"] >= 40
    assert expected["missing"]["amount"]["count"] > 0  # NaN and null alike
    assert expected["missing"]["ratio"]["count"] == 99  # NaN without nulls (97, and 2 in the repeated rows)
    assert expected["outliers"]["age" if label == "amount" else "amount"]["count"] >= 0
    assert label not in expected["outliers"]


@pytest.mark.parametrize("label", ["repaid", "grade", "share"])
def test_postgresql_profiles_a_table_as_the_upload_profiles_the_file(
    tmp_path: Path, source_db: str, label: str
) -> None:
    table = awkward_table()
    load_table(table, "loans", database=source_db)
    source = parse_source(pg_uri("table=loans"), roots=[], connections=connections())

    found = source_profile(PostgresEngine(source), label_column=label)

    assert found == file_profile(table, tmp_path, label=label)


def test_a_profile_changes_with_the_rows(tmp_path: Path) -> None:
    """Not a constant: a missing value more is counted."""
    table = awkward_table()
    before = source_profile(
        DuckDBEngine(
            parse_source(f"parquet://{write_parquet(table, tmp_path / 'a')}", roots=[str(tmp_path)], connections={})
        )
    )
    ages = table.column("age").to_pylist()
    ages[1] = None
    changed = table.set_column(0, "age", pa.array(ages, pa.int64()))
    after = source_profile(
        DuckDBEngine(
            parse_source(f"parquet://{write_parquet(changed, tmp_path / 'b')}", roots=[str(tmp_path)], connections={})
        )
    )
    assert (before or {})["missing"]["age"]["count"] + 1 == (after or {})["missing"]["age"]["count"]


QUALITY_POLICY = """\
name: source-quality
title: Data quality on a source
description: Missing values and group shares, from the profile.
confidence_level: 0.95
min_group_size: 30
intersections: false
checks:
  data_quality:
    required: true
    max_missing_fraction: {value: 0.05, comparison: max, basis: {text: A test threshold., citation: Test suite}}
    min_group_share: {value: 0.01, comparison: min, basis: {text: A test threshold., citation: Test suite}}
"""


@pytest.mark.parametrize("where", ["duckdb", "postgresql"])
@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_data_quality_on_a_source_is_judged_as_on_the_uploaded_file(
    where: str, cast: Cast, settings: Any, tmp_path: Path, request: Any
) -> None:
    table = awkward_table().append_column("decision", pa.array(["1", "0"] * 1520))
    settings.DATA_SOURCE_ROOTS = [str(tmp_path)]
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    dataset = make_dataset(cast, "loans")
    uploaded = make_file_version(cast, dataset, buffer.getvalue(), name="loans.parquet", label_column="repaid")
    if where == "duckdb":
        uri = f"parquet://{write_parquet(table, tmp_path / 'loans', parts=2)}"
    else:
        source_db = request.getfixturevalue("source_db")
        load_table(table, "loans_q", database=source_db)
        uri = pg_uri("table=loans_q")
    response = cast.owner.client().post(
        "/api/v1/datasets/loans/versions/", {"source_uri": uri, "label_column": "repaid"}, format="json"
    )
    assert response.status_code == 201, response.content
    source = DatasetVersion.objects.get(dataset=dataset, number=2)
    audits.do_save_policy(user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=QUALITY_POLICY)
    version = predictions_only_version(cast)
    roles = {"label": "repaid", "prediction": "decision", "favourable": "1", "protected": ["purpose"]}

    runs = [
        post_audit(cast.owner, audit_body(version, data, policy="source-quality", roles=roles))
        for data in (uploaded, source)
    ]

    expected, found = (audits_results(response.json()["id"]) for response in runs)
    found.pop("data_source")
    assert found == expected
    check = expected["checks"]["data_quality"]
    assert check["outcome"] == "fail"  # amount: about 9% missing, above 5%
    assert "amount" in check["reason"]


def audits_results(run_id: Any) -> dict[str, Any]:
    run = AuditRun.objects.get(pk=run_id)
    assert run.status == "done", run.error
    return dict(run.results)
