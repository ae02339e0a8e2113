"""A Spark table as a dataset version (issue 21): registered by URI, audited by Spark where it lives, with the results
of the same rows uploaded as a file; a changed table refused before the audit; bad URIs named; no secret stored.

Spark is real: PySpark in local mode, one session per test process (``spark_conftest``). The COMPAS rows are a
Parquet upload and the Spark table ``risk.compas``; every audit's results are compared whole and exactly.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from audits.models import AuditRun
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
from tests.sources import spark_conftest
from tests.sources.spark_conftest import SECRET, save_table
from tests.sources.test_source_audits import ROLES, _save_policies

spark_lake, spark_sources = spark_conftest.spark_lake, spark_conftest.spark_sources  # the fixtures
pytestmark = [
    pytest.mark.xdist_group("spark"),  # one worker, one JVM (see spark_conftest)
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

API = "/api/v1"


def _post_source(cast: Cast, dataset: str, uri: str) -> Any:
    return cast.owner.client().post(f"{API}/datasets/{dataset}/versions/", {"source_uri": uri}, format="json")


def _results(run_id: Any) -> dict[str, Any]:
    run = AuditRun.objects.get(pk=run_id)
    assert run.status == "done", run.error
    return run.results


def _uploaded(cast: Cast, table: pa.Table, dataset: str) -> DatasetVersion:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return make_file_version(cast, make_dataset(cast, dataset), buffer.getvalue(), name=f"{dataset}.parquet")


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored", "spark_sources")
def test_a_spark_table_audits_as_the_uploaded_file(cast: Cast, tables: dict[str, pa.Table]) -> None:
    uploaded = _uploaded(cast, tables["compas"], "compas-eval")

    response = _post_source(cast, "compas-eval", "spark://lake/risk.compas")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["format"], body["row_count"]) == (2, "source", 7214)
    evidence = body["source_evidence"]
    assert (evidence["kind"], evidence["rows"]) == ("spark", 7214)
    assert [c["name"] for c in evidence["columns"]] == tables["compas"].column_names
    event = Event.objects.filter(action="dataset_version.registered").latest("seq")
    assert event.payload["external_uri"] == "spark://lake/risk.compas"
    source = DatasetVersion.objects.get(dataset=uploaded.dataset, number=2)

    _save_policies(cast)
    version = predictions_only_version(cast)
    for policy, mode in (("four-fifths", "counted"), ("source-counted", "counted"), ("source-rows", "rows")):
        from_file = post_audit(cast.owner, audit_body(version, uploaded, policy=policy, roles=ROLES))
        from_spark = post_audit(cast.owner, audit_body(version, source, policy=policy, roles=ROLES))
        assert from_file.status_code == from_spark.status_code == 201, (from_file.content, from_spark.content)

        expected, found = _results(from_file.json()["id"]), _results(from_spark.json()["id"])
        reading = found.pop("data_source")
        assert found == expected  # every number and exact fraction
        assert (reading["engine"], reading["mode"]) == ("spark", mode)
        assert from_spark.json()["verdict"] == from_file.json()["verdict"]
    assert expected["rows"] == 7214


def _arguments(cast: Cast, model: str, *extra: str) -> list[str]:
    return [
        "run_audit", "--as", cast.owner.user.username, "--model", model, "--version", "1",
        "--dataset", "compas-copy", "--dataset-version", "1", "--label", "two_year_recid",
        "--prediction", "high_risk", "--favourable", "0", "--protected", "sex,race,age_cat", "--policy", "four-fifths",
        "--unknown", "race=Other", "--json", *extra,
    ]  # fmt: skip


def _run_audit(cast: Cast, model: str, *extra: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:  # the verdict is the exit status: COMPAS fails four-fifths
        call_command(*_arguments(cast, model, *extra), stdout=out)
    return int(exit_status.value.code or 0), json.loads(out.getvalue())


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_run_audit_reads_the_table_and_refuses_it_once_changed(
    cast: Cast, spark_sources: Any, tables: dict[str, pa.Table]
) -> None:
    save_table(spark_sources, tables["compas"], "risk.compas_copy")
    uploaded = _uploaded(cast, tables["compas"], "compas-file")
    make_dataset(cast, "compas-copy")
    assert _post_source(cast, "compas-copy", "spark://lake/risk.compas_copy").status_code == 201
    version = predictions_only_version(cast)
    from_file = _results(post_audit(cast.owner, audit_body(version, uploaded, roles=ROLES)).json()["id"])

    status, result = _run_audit(cast, version.model.name)

    assert (status, result["status"], result["verdict"]) == (1, "done", "fail")
    reading = result["results"].pop("data_source")
    assert result["results"] == from_file
    assert (reading["engine"], reading["mode"]) == ("spark", "counted")

    # Rows reordered: the same content, the same digest, audited again.
    save_table(spark_sources, tables["compas"].take(list(range(7213, -1, -1))), "risk.compas_copy")
    assert _run_audit(cast, version.model.name, "--force")[1]["status"] == "done"
    # One decision flipped: refused before the audit runs, saying what changed.
    flipped = tables["compas"].to_pylist()
    flipped[100]["high_risk"] = 1 - flipped[100]["high_risk"]
    save_table(spark_sources, pa.Table.from_pylist(flipped, schema=tables["compas"].schema), "risk.compas_copy")
    with pytest.raises(Exception, match="content digest of the rows changed"):
        call_command(*_arguments(cast, version.model.name, "--force"), stdout=io.StringIO())


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_a_changed_table_is_refused_before_the_audit(
    cast: Cast, spark_sources: Any, tables: dict[str, pa.Table]
) -> None:
    save_table(spark_sources, tables["compas"], "risk.compas_shrinks")
    make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", "spark://lake/risk.compas_shrinks").status_code == 201
    source = DatasetVersion.objects.get(dataset__name="compas-eval", number=1)
    version = predictions_only_version(cast)
    save_table(spark_sources, tables["compas"].slice(0, 7000), "risk.compas_shrinks")

    response = post_audit(cast.owner, audit_body(version, source, roles=ROLES))

    run = AuditRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.verdict, run.results) == ("error", "", {})
    assert "has changed since it was registered" in run.error
    assert "the row count changed from 7,214 to 7,000" in run.error
    assert "the content digest of the rows changed" in run.error


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("spark://lake/risk.no_such_table", "The table risk.no_such_table does not exist on Spark connection lake"),
        ("spark://warehouse/risk.compas", "warehouse is not a Spark connection DATA_SOURCE_SPARK declares"),
        ("spark://admin:pw@lake/risk.compas", "not a user, password, host or port"),
        ("spark://lake:7077/risk.compas", "not a user, password, host or port"),
        ("spark://lake/risk.compas?master=yarn", "takes no parameters"),
        ("spark://lake/risk.compas;DROP TABLE x", "plain names of letters, digits and underscores"),
        ("spark://lake/a.b.c", "spark://lake/<database>.<table>"),
        ("spark://lake/", "spark://lake/<database>.<table>"),
    ],
)
@pytest.mark.usefixtures("spark_sources")
def test_a_bad_spark_uri_is_named_and_changes_nothing(cast: Cast, uri: str, words: str) -> None:
    make_dataset(cast, "compas-eval")
    before = (DatasetVersion.objects.count(), Event.objects.count())

    response = _post_source(cast, "compas-eval", uri)

    assert response.status_code == 422, response.content
    assert words in response.content.decode()
    assert (DatasetVersion.objects.count(), Event.objects.count()) == before


def test_spark_sources_are_off_until_declared(cast: Cast, settings: Any) -> None:
    settings.DATA_SOURCE_SPARK = []
    make_dataset(cast, "compas-eval")

    response = _post_source(cast, "compas-eval", "spark://lake/risk.compas")

    assert response.status_code == 422, response.content
    assert "Spark sources are not enabled" in response.content.decode()
    assert DatasetVersion.objects.count() == 0


@pytest.mark.usefixtures("unprotected_trail", "builtin_policies_stored")
def test_the_secret_reaches_spark_and_is_stored_nowhere(cast: Cast, spark_sources: Any) -> None:
    dataset = make_dataset(cast, "compas-eval")
    assert _post_source(cast, "compas-eval", "spark://lake/risk.compas").status_code == 201
    version = predictions_only_version(cast)
    source = DatasetVersion.objects.get(dataset=dataset, number=1)
    run = _results(post_audit(cast.owner, audit_body(version, source, roles=ROLES)).json()["id"])

    assert spark_sources.conf.get("spark.hadoop.fs.s3a.secret.key") == SECRET  # the declared variable's value
    stored = json.dumps(
        [
            list(DatasetVersion.objects.values()),
            list(Event.objects.values("action", "payload")),
            run,
            list(AuditRun.objects.values()),
        ],
        default=str,
    )
    assert SECRET not in stored
    assert "spark.hadoop" not in stored  # nor the declaration's settings
    assert "metastore_db" not in stored
    assert "spark://lake/risk.compas" in stored
