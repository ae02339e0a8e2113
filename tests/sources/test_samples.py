"""Samples drawn by the engine for the explainability and adversarial checks (issue 21): the same seed gives the same
rows on DuckDB (a folder of Parquet files), PostgreSQL (the rows loaded in another order) and the in-memory
reference; another seed gives other rows; a model-scored audit of a source records the sample in its results."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from audits import actions as audits
from audits.models import AuditRun
from audits.statistics.engines import ArrowEngine, DuckDBEngine, PostgresEngine
from audits.statistics.samples import METHOD, draw_sample, row_key
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.data.models import DatasetVersion
from governance.data.sources import parse_source
from governance.trail.log import Actor
from registry import actions as registry
from tests.audits.conftest import audit_body, media_root, post_audit  # noqa: F401 - media_root is a fixture
from tests.conftest import Cast
from tests.data.conftest import make_dataset
from tests.registry.conftest import register_model
from tests.sources.conftest import connections, declaration, pg_uri, write_parquet
from tests.sources.test_source_profile import awkward_table, load_table

COLUMNS = ["age", "amount", "purpose", "bucket", "repaid"]


def _engines(table: pa.Table, tmp_path: Path, source_db: str) -> dict[str, Any]:
    shuffled = table.take(np.random.default_rng(5).permutation(table.num_rows))
    folder = write_parquet(shuffled, tmp_path / "lake" / "loans", parts=3)
    load_table(table.take(np.random.default_rng(6).permutation(table.num_rows)), "loans_sampled", database=source_db)
    return {
        "in-memory": ArrowEngine(table),
        "duckdb": DuckDBEngine(parse_source(f"parquet://{folder}", roots=[str(tmp_path)], connections={})),
        "postgresql": PostgresEngine(parse_source(pg_uri("table=loans_sampled"), roots=[], connections=connections())),
    }


def _comparable(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as dicts, NaN written as text (NaN is not equal to itself)."""
    return [
        {key: "NaN" if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
        for row in table.to_pylist()
    ]


def test_the_same_seed_draws_the_same_rows_on_every_engine(tmp_path: Path, source_db: str) -> None:
    table = awkward_table()
    engines = _engines(table, tmp_path, source_db)

    drawn = {name: draw_sample(engine, COLUMNS, size=120, seed=20261127) for name, engine in engines.items()}

    rows = {name: _comparable(sample.table) for name, sample in drawn.items()}
    assert len(rows["in-memory"]) == 120
    assert rows["duckdb"] == rows["in-memory"]
    assert rows["postgresql"] == rows["in-memory"]
    assert {sample.rows_of for sample in drawn.values()} == {table.num_rows}
    again = _comparable(draw_sample(engines["duckdb"], COLUMNS, size=120, seed=20261127).table)
    assert again == rows["duckdb"]
    other = _comparable(draw_sample(engines["duckdb"], COLUMNS, size=120, seed=7).table)
    assert other != rows["duckdb"]
    assert other == _comparable(draw_sample(engines["postgresql"], COLUMNS, size=120, seed=7).table)


def test_the_sample_is_the_rows_with_the_smallest_keys() -> None:
    """Known answer by hand: four rows in value order 1..4; the two smallest md5('9:n') pick them."""
    table = pa.table({"x": [30, 10, 40, 20]})
    keys = sorted((row_key(9, n), n) for n in range(1, 5))
    expected = sorted(n for _, n in keys[:2])  # row numbers in the value order 10, 20, 30, 40

    sample = draw_sample(ArrowEngine(table), ["x"], size=2, seed=9)

    assert sample.table.column("x").to_pylist() == [10 * n for n in expected]
    assert sample.as_json()["method"] == METHOD == "md5-of-row-number"


@pytest.mark.usefixtures("unprotected_trail")
def test_a_model_scored_source_records_the_engines_sample(
    cast: Cast,
    settings: Any,
    tmp_path: Path,
    media_root: Path,  # noqa: F811 - the fixture imported above
) -> None:
    settings.DATA_SOURCE_ROOTS = [str(tmp_path)]
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    content = german_credit_csv(with_groups=True)
    make_dataset(cast, "german")
    folder = write_parquet(pcsv.read_csv(io.BytesIO(content)), tmp_path / "german", parts=2)
    response = cast.owner.client().post(
        "/api/v1/datasets/german/versions/", {"source_uri": f"parquet://{folder}"}, format="json"
    )
    assert response.status_code == 201, response.content
    source = DatasetVersion.objects.get(dataset__name="german", number=1)
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(train_demo_model(content))
    version = registry.do_register_version(
        model=register_model(cast, "minimal"),
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        artifact_path=artifact,
        artifact_name="model.onnx",
    )
    audits.do_save_policy(
        user=cast.officer.user,
        actor=Actor.for_user(cast.officer.user),
        text=(
            "name: source-explained\ntitle: Explained on a sample\ndescription: SHAP on the engine's sample.\n"
            "confidence_level: 0.95\nmin_group_size: 30\nintersections: false\nchecks:\n  explainability:\n"
            "    required: false\n    sample_rows: 40\n    time_budget_seconds: 60\n"
        ),
    )
    roles = {"label": "credit_risk", "favourable": "1", "protected": ["age_group"], "features": list(DEMO_FEATURES)}

    created = post_audit(cast.owner, audit_body(version, source, policy="source-explained", roles=roles))

    run = AuditRun.objects.get(pk=created.json()["id"])
    assert run.status == "done", run.error
    sample = run.results["data_source"]["sample"]
    assert (sample["method"], sample["seed"], sample["rows"], sample["of_rows"]) == (METHOD, 20261127, 140, 1000)
    assert sample["engine"] == "duckdb"
    check = run.results["checks"]["explainability"]
    assert check["rows"] == 140  # the check read the engine's sample, not the thousand rows
