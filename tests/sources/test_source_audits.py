"""An audit of a source version gives the results of the same rows uploaded as a file (issue 21).

The same COMPAS rows are uploaded as a Parquet file and registered as sources: a folder of Parquet files (read by
DuckDB) and a PostgreSQL table (counted by the server). The audits' results, every number and exact fraction,
are equal; only ``data_source`` (how the source was read) is added. A source changed after registration is refused
before the audit runs, saying what changed. Requests go through the HTTP API and ``run_audit``, as people send them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from audits import actions as audits
from audits.models import AuditRun
from audits.statistics.engines import DuckDBEngine
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.trail.models import Event
from registry import actions as registry
from tests.audits.conftest import (  # noqa: F401 - builtin_policies_stored and media_root are fixtures
    audit_body,
    builtin_policies_stored,
    media_root,
    post_audit,
    predictions_only_version,
)
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model
from tests.sources.conftest import TABLES, admin_connection, declaration, pg_uri, write_parquet

API = "/api/v1"
ROLES = {
    "label": "two_year_recid",
    "prediction": "high_risk",
    "favourable": "0",
    "protected": ["sex", "race", "age_cat"],
    "unknown_values": {"race": ["Other"]},
}
BASIS = "basis: {text: A test threshold., citation: Test suite}"
COUNTED_POLICY = f"""\
name: source-counted
title: Group checks only (counted where the data is)
description: Disparate impact and group fairness, with intersections and a bound on unknown rows.
confidence_level: 0.95
min_group_size: 30
intersections: true
max_unknown_share: {{value: 0.1, operator: "<=", {BASIS}}}
checks:
  disparate_impact:
    required: true
    impact_ratio_min: {{value: 0.8, comparison: min, {BASIS}}}
  group_fairness:
    required: true
    demographic_parity_difference_max: {{value: 0.2, comparison: max, {BASIS}}}
"""
ROWS_POLICY = f"""\
name: source-rows
title: Performance and group fairness (rows read through the engine)
description: Performance needs scikit-learn's figures over rows.
confidence_level: 0.95
min_group_size: 30
intersections: false
checks:
  performance:
    required: true
    accuracy_min: {{value: 0.6, comparison: min, {BASIS}}}
  group_fairness:
    required: true
    demographic_parity_difference_max: {{value: 0.3, comparison: max, {BASIS}}}
"""


@pytest.fixture
def sources(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    settings.DATA_SOURCE_ROOTS = [str(root)]
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    return root


def _post_source(cast: Cast, dataset: str, uri: str) -> Any:
    return cast.owner.client().post(f"{API}/datasets/{dataset}/versions/", {"source_uri": uri}, format="json")


def _results(run_id: Any) -> dict[str, Any]:
    run = AuditRun.objects.get(pk=run_id)
    assert run.status == "done", run.error
    return run.results


def _save_policies(cast: Cast) -> None:
    for text in (COUNTED_POLICY, ROWS_POLICY):
        audits.do_save_policy(user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=text)


@pytest.mark.parametrize("where", ["duckdb", "postgresql"])
@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_source_audits_as_the_uploaded_file(
    where: str, cast: Cast, sources: Path, tables: dict[str, pa.Table], request: Any
) -> None:
    compas = tables["compas"]
    buffer = io.BytesIO()
    pq.write_table(compas, buffer)
    dataset = make_dataset(cast, "compas-eval")
    uploaded = make_file_version(cast, dataset, buffer.getvalue(), name="compas.parquet")
    if where == "duckdb":
        uri = f"parquet://{write_parquet(compas, sources / 'compas', parts=4)}"
    else:
        request.getfixturevalue("source_db")  # the declared connection's database, with the COMPAS table
        uri = pg_uri("table=compas")

    response = _post_source(cast, "compas-eval", uri)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["format"], body["row_count"]) == (2, "source", 7214)
    assert body["source_evidence"]["rows"] == 7214
    assert len(body["sha256"]) == 64
    assert body["size_bytes"] is None
    event = Event.objects.filter(action="dataset_version.registered").latest("seq")
    assert event.payload["format"] == "source"
    assert "password" not in json.dumps(event.payload)
    source = DatasetVersion.objects.get(dataset=dataset, number=2)

    _save_policies(cast)
    version = predictions_only_version(cast)
    for policy, mode in (("four-fifths", "counted"), ("source-counted", "counted"), ("source-rows", "rows")):
        from_file = post_audit(cast.owner, audit_body(version, uploaded, policy=policy, roles=ROLES))
        from_source = post_audit(cast.owner, audit_body(version, source, policy=policy, roles=ROLES))
        assert from_file.status_code == from_source.status_code == 201, (from_file.content, from_source.content)

        expected, found = _results(from_file.json()["id"]), _results(from_source.json()["id"])
        reading = found.pop("data_source")
        assert found == expected
        assert (reading["engine"], reading["mode"]) == (where, mode)
        assert from_source.json()["verdict"] == from_file.json()["verdict"]
    assert expected["rows"] == 7214


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_changed_source_is_refused_before_the_audit(cast: Cast, sources: Path, tables: dict[str, pa.Table]) -> None:
    folder = write_parquet(tables["compas"], sources / "compas", parts=2)
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", f"parquet://{folder}").status_code == 201
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    version = predictions_only_version(cast)
    pq.write_table(tables["compas"].slice(0, 3000), folder / "part-001.parquet")

    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))

    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict) == ("error", "")
    assert "has changed since it was registered" in run.error
    assert "part-001.parquet changed (sha256 " in run.error
    assert "the row count changed from 7,214 to 6,607" in run.error


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored", "sources")
def test_a_changed_table_is_refused_by_run_audit(cast: Cast, source_db: str) -> None:
    with admin_connection(source_db) as connection:
        connection.execute("CREATE TABLE compas_copy AS SELECT * FROM compas")
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", pg_uri("table=compas_copy")).status_code == 201
    version = predictions_only_version(cast)
    arguments = [
        "run_audit", "--as", cast.owner.user.username, "--model", version.model.name, "--version", "1",
        "--dataset", "compas-eval", "--dataset-version", "1", "--label", "two_year_recid",
        "--prediction", "high_risk", "--favourable", "0", "--protected", "sex,race,age_cat", "--policy", "four-fifths",
        "--json",
    ]  # fmt: skip
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:  # the verdict is the exit status: COMPAS fails four-fifths
        call_command(*arguments, stdout=out)
    assert exit_status.value.code == 1
    result = json.loads(out.getvalue())
    assert (result["status"], result["verdict"]) == ("done", "fail")

    with admin_connection(source_db) as connection:
        connection.execute("UPDATE compas_copy SET high_risk = 1 - high_risk WHERE sex = 'Female'")
    with pytest.raises(Exception, match="content digest of the rows changed"):
        call_command(*arguments, "--force", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"source_uri": "parquet:///etc"}, "not inside a folder DATA_SOURCE_ROOTS allows"),
        ({"source_uri": "postgresql://u:pw@127.0.0.1:5432/x?table=t"}, "not a user, password, host or port"),
        ({"source_uri": "postgresql://source?query=SELECT+1+AS+sex"}, "does not allow queries"),
        ({"source_uri": "postgresql://assay/t"}, "assay is not a connection DATA_SOURCE_CONNECTIONS declares"),
        ({"source_uri": "parquet:///x", "delimiter": ";"}, "do not give delimiter with it"),
        ({"source_uri": "parquet:///x", "external_uri": "s3://b/k"}, "do not give external_uri with it"),
    ],
)
def test_a_refused_source_changes_nothing(cast: Cast, sources: Path, body: dict, words: str) -> None:
    make_dataset(cast, "compas-eval")
    before = (DatasetVersion.objects.count(), Event.objects.count())

    response = cast.owner.client().post(f"{API}/datasets/compas-eval/versions/", body, format="json")

    assert response.status_code in (400, 422), response.content
    assert words in response.content.decode()
    assert (DatasetVersion.objects.count(), Event.objects.count()) == before


def test_outsiders_and_readers_cannot_register_a_source(cast: Cast, sources: Path, tables: dict) -> None:
    folder = write_parquet(tables["german"], sources / "german")
    make_dataset(cast, "german-eval")
    body = {"source_uri": f"parquet://{folder}"}

    assert cast.outsider.client().post(f"{API}/datasets/german-eval/versions/", body, format="json").status_code == 404
    assert cast.reviewer.client().post(f"{API}/datasets/german-eval/versions/", body, format="json").status_code == 403
    assert DatasetVersion.objects.count() == 0
    assert TABLES  # the German table is written as its conftest builds it


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_file_changed_while_it_is_read_is_refused(
    cast: Cast, sources: Path, tables: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files have no snapshot: one rewritten by someone else during the count is found by the check after it."""
    folder = write_parquet(tables["compas"], sources / "compas", parts=2)
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", f"parquet://{folder}").status_code == 201
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    version = predictions_only_version(cast)
    counting = DuckDBEngine.cells

    def count_while_someone_writes(engine: DuckDBEngine, columns: Any) -> Any:
        found = counting(engine, columns)
        pq.write_table(tables["compas"].slice(0, 10), folder / "part-000.parquet")  # another process's write
        return found

    monkeypatch.setattr(DuckDBEngine, "cells", count_while_someone_writes)
    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))

    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict) == ("error", "")
    assert "part-000.parquet changed (sha256 " in run.error


@pytest.mark.usefixtures("unprotected_trail")
def test_a_model_scores_a_source_as_it_scores_the_uploaded_file(cast: Cast, sources: Path) -> None:
    """No prediction column: the version's ONNX model decides, over every row DuckDB reads from the source."""
    content = german_credit_csv(with_groups=True)
    dataset = make_dataset(cast, "german")
    uploaded = make_file_version(cast, dataset, content, name="german.csv")
    folder = write_parquet(pcsv.read_csv(io.BytesIO(content)), sources / "german", parts=2)
    assert _post_source(cast, "german", f"parquet://{folder}").status_code == 201
    source = DatasetVersion.objects.get(dataset=dataset, number=2)
    artifact = sources / "model.onnx"
    artifact.write_bytes(train_demo_model(content))
    version = registry.do_register_version(
        model=register_model(cast, "minimal"),
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        artifact_path=artifact,
        artifact_name="model.onnx",
    )
    audits.ensure_builtin_policies()
    roles = {"label": "credit_risk", "favourable": "1", "protected": ["age_group"], "features": list(DEMO_FEATURES)}

    from_file = post_audit(cast.owner, audit_body(version, uploaded, roles=roles))
    from_source = post_audit(cast.owner, audit_body(version, source, roles=roles))

    expected, found = _results(from_file.json()["id"]), _results(from_source.json()["id"])
    reading = found.pop("data_source")
    assert found == expected
    assert (reading["engine"], reading["mode"]) == ("duckdb", "rows")
    assert "model" in reading["why"]
