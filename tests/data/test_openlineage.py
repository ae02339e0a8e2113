"""OpenLineage RunEvents: real events from OpenLineage's own repositories, the official Python client, bad input."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunState
from openlineage.client.event_v2 import RunEvent as ClientRunEvent
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    nominal_time_run,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.serde import Serde
from referencing import Registry
from referencing.exceptions import Unresolvable

from governance.data.openlineage import (
    SCHEMA_PATH,
    DatasetRef,
    OpenLineageError,
    RunEvent,
    _refuse_retrieval,
    parse_run_event,
)

EXAMPLES = Path(__file__).parent / "openlineage"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def rejected(body: object) -> OpenLineageError:
    with pytest.raises(OpenLineageError) as caught:
        parse_run_event(body)
    return caught.value


# --- the vendored schema --------------------------------------------------------------------------------------


def test_vendored_schema_is_a_valid_self_contained_2020_12_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    refs: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert refs
    assert all(ref.startswith("#/") for ref in refs), "an external $ref would need a schema from elsewhere"
    assert set(schema["$defs"]) >= {"RunEvent", "DatasetEvent", "JobEvent", "Run", "Job", "BaseFacet"}


def test_schema_retrieval_is_refused_not_fetched() -> None:
    validator = Draft202012Validator(
        {"$ref": "https://openlineage.io/spec/facets/1-0-1/SchemaDatasetFacet.json"},
        registry=Registry(retrieve=_refuse_retrieval),
    )
    with pytest.raises(Unresolvable):
        validator.validate({})


# --- real events ----------------------------------------------------------------------------------------------


def test_dbt_model_start_event() -> None:
    event = parse_run_event(example("dbt_model_start.json"))

    assert event.event_type == "START"
    assert event.event_time == datetime(2025, 11, 18, 15, 4, 20, 65737, tzinfo=UTC)
    assert event.run_id == uuid.UUID("019a977e-cd5e-71fb-a982-ec11b80e5b01")  # dbt sends UUIDv7
    assert (event.job_namespace, event.job_name) == (
        "dbt",
        "dbt_test.main.openlineage_compatibility_test.customer_analytics",
    )
    assert event.producer == "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/dbt"
    assert event.inputs == (
        DatasetRef("postgres://localhost:5432", "dbt_test.main.stg_customers", "", ("customer_id",)),
        DatasetRef("postgres://localhost:5432", "dbt_test.main.stg_orders", "", ("order_id", "customer_id")),
    )
    assert event.outputs == (
        DatasetRef(
            "postgres://localhost:5432", "dbt_test.main.customer_analytics", "", ("customer_id", "total_revenue")
        ),
    )
    assert event.parent_run_id == uuid.UUID("019a977e-6c3f-7b18-a638-05655c338077")
    assert event.code_ref == ""  # dbt sends the SQL, not a source location
    # processing_engine is configuration; dbt_run, dbt_version, tags and the parent are not parameters.
    assert event.parameters == {
        "processing_engine": {"name": "dbt", "openlineageAdapterVersion": "1.40.0", "version": "1.10.15"}
    }


def test_dbt_parent_run_complete_event_with_numeric_offset() -> None:
    event = parse_run_event(example("dbt_run_complete.json"))

    assert event.event_type == "COMPLETE"
    assert event.event_time == datetime(2025, 11, 18, 15, 4, 49, 271747, tzinfo=UTC)
    assert event.run_id == uuid.UUID("019a977e-d881-797a-a406-c0903f03fe57")
    assert (event.job_namespace, event.job_name) == ("dbt", "dbt-run-openlineage_compatibility_test")
    assert event.inputs == event.outputs == ()
    assert event.parent_run_id is None


def test_python_client_full_event() -> None:
    event = parse_run_event(example("python_client_full_event.json"))

    assert event.event_type == "COMPLETE"
    assert event.event_time == datetime(2020, 12, 28, 19, 51, 1, 641000, tzinfo=UTC)
    assert event.run_id == uuid.UUID("ea041791-68bc-4ae1-bd89-4c8106a157e4")
    assert (event.job_namespace, event.job_name) == ("my-scheduler-namespace", "myjob.mytask")
    table = DatasetRef("my-datasource-namespace", "instance.schema.table", "", ("column1",))
    assert event.inputs == event.outputs == (table,)
    assert event.parent_run_id == uuid.UUID("3f5e83fa-3480-44ff-99c5-ff943904e5e8")
    assert event.parameters == {
        "nominalTime": {"nominalStartTime": "2020-12-17T03:00:00.001Z", "nominalEndTime": "2020-12-17T04:00:00.001Z"}
    }


def test_parameters_are_detached_from_the_body() -> None:
    body = example("dbt_run_complete.json")
    event = parse_run_event(body)
    event.parameters["processing_engine"]["name"] = "changed"
    assert body["run"]["facets"]["processing_engine"]["name"] == "dbt"


# --- facets Assay reads ---------------------------------------------------------------------------------------


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": "https://example.com/producer", "_schemaURL": "https://example.com/schema", **fields}


def test_dataset_version_facet_and_code_location() -> None:
    body = example("dbt_run_complete.json")
    body["inputs"] = [
        {"namespace": "assay", "name": "datasets/credit", "facets": {"version": facet(datasetVersion="3")}},
        {"namespace": "s3://bucket", "name": "iceberg.t", "facets": {"version": facet(datasetVersion=8412)}},
    ]
    body["job"]["facets"]["sourceCodeLocation"] = facet(
        type="git",
        url="https://github.com/acme/pipes/blob/3f2c1d0/dags/credit.py",
        repoUrl="https://github.com/acme/pipes.git",
        path="dags/credit.py",
        version="3f2c1d0",
    )
    event = parse_run_event(body)
    assert [(d.name, d.version) for d in event.inputs] == [("datasets/credit", "3"), ("iceberg.t", "8412")]
    assert event.code_ref == "https://github.com/acme/pipes.git@3f2c1d0#dags/credit.py"


def test_code_ref_from_url_alone_and_from_source_code() -> None:
    body = example("dbt_run_complete.json")
    body["job"]["facets"]["sourceCodeLocation"] = facet(type="git", url="https://git.example/dag.py", version="abc")
    assert parse_run_event(body).code_ref == "https://git.example/dag.py@abc"

    body["job"]["facets"] = {"sourceCode": facet(language="Python", sourceCode="print('hi')\n")}
    assert parse_run_event(body).code_ref == "python:sha256:" + hashlib.sha256(b"print('hi')\n").hexdigest()


def test_spark_properties_and_execution_parameters_are_parameters_environment_is_not() -> None:
    body = example("dbt_run_complete.json")
    body["run"]["facets"].update(
        {
            "spark_properties": facet(properties={"spark.master": "yarn", "spark.app.name": "credit-features"}),
            "executionParameters": facet(parameters=[{"key": "learning_rate", "value": "0.1"}]),
            "environmentVariables": facet(environmentVariables=[{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]),
        }
    )
    parameters = parse_run_event(body).parameters
    assert parameters["spark_properties"] == {
        "properties": {"spark.master": "yarn", "spark.app.name": "credit-features"}
    }
    assert parameters["executionParameters"] == {"parameters": [{"key": "learning_rate", "value": "0.1"}]}
    assert set(parameters) == {"processing_engine", "spark_properties", "executionParameters"}


def test_deleted_facets_are_ignored() -> None:
    body = example("python_client_full_event.json")
    body["inputs"][0]["facets"]["schema"]["_deleted"] = True
    body["run"]["facets"]["nominalTime"]["_deleted"] = True
    event = parse_run_event(body)
    assert event.inputs[0].schema_fields == ()
    assert "nominalTime" not in event.parameters


def test_missing_event_type_means_other() -> None:
    body = example("dbt_run_complete.json")
    del body["eventType"]
    assert parse_run_event(body).event_type == "OTHER"


def test_running_is_a_state() -> None:
    body = example("dbt_run_complete.json")
    body["eventType"] = "RUNNING"
    assert parse_run_event(body).event_type == "RUNNING"


def test_offsets_other_than_utc_are_kept() -> None:
    body = example("dbt_run_complete.json")
    body["eventTime"] = "2025-11-18T16:04:49.271747+01:00"
    event = parse_run_event(body)
    assert event.event_time.utcoffset() == timedelta(hours=1)
    assert event.event_time == datetime(2025, 11, 18, 15, 4, 49, 271747, tzinfo=UTC)


def test_nanosecond_event_times_from_java_producers_are_accepted() -> None:
    body = example("dbt_run_complete.json")
    body["eventTime"] = "2025-11-18T15:04:49.271747123Z"
    assert parse_run_event(body).event_time == datetime(2025, 11, 18, 15, 4, 49, 271747, tzinfo=UTC)


# --- round trip through the official client -------------------------------------------------------------------


def test_event_built_by_the_official_python_client_round_trips() -> None:
    run_id, parent_id = "0191f7a4-5b1c-7d2e-9f00-0a1b2c3d4e5f", "0191f7a4-0000-7000-8000-000000000001"
    built = ClientRunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))).isoformat(),
        run=Run(
            runId=run_id,
            facets={
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(runId=parent_id),
                    job=parent_run.Job(namespace="airflow", name="credit_dag"),
                ),
                "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime="2026-03-01T07:00:00+00:00"),
                "processing_engine": processing_engine_run.ProcessingEngineRunFacet(version="3.5.1", name="spark"),
            },
        ),
        job=Job(
            namespace="airflow",
            name="credit_dag.train",
            facets={
                "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
                    type="git",
                    url="https://github.com/acme/pipes/blob/9c1e/dags/credit.py",
                    repoUrl="https://github.com/acme/pipes.git",
                    path="dags/credit.py",
                    version="9c1e",
                )
            },
        ),
        inputs=[
            InputDataset(
                namespace="assay",
                name="datasets/credit-applications",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion="3"),
                    "schema": schema_dataset.SchemaDatasetFacet(
                        fields=[
                            schema_dataset.SchemaDatasetFacetFields(name="income", type="double"),
                            schema_dataset.SchemaDatasetFacetFields(name="approved", type="boolean"),
                        ]
                    ),
                },
            )
        ],
        outputs=[OutputDataset(namespace="assay", name="models/credit-scorer/versions/4")],
        producer="https://github.com/acme/pipes",
    )
    body = json.loads(Serde.to_json(built))  # what the client's transports put on the wire

    event = parse_run_event(body)

    assert event.event_type == "COMPLETE"
    assert event.event_time == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert event.run_id == uuid.UUID(run_id)
    assert (event.job_namespace, event.job_name) == ("airflow", "credit_dag.train")
    assert event.producer == "https://github.com/acme/pipes"
    assert event.inputs == (DatasetRef("assay", "datasets/credit-applications", "3", ("income", "approved")),)
    assert event.outputs == (DatasetRef("assay", "models/credit-scorer/versions/4", "", ()),)
    assert event.code_ref == "https://github.com/acme/pipes.git@9c1e#dags/credit.py"
    assert event.parent_run_id == uuid.UUID(parent_id)
    assert event.parameters == {
        "nominalTime": {"nominalStartTime": "2026-03-01T07:00:00+00:00"},
        "processing_engine": {"version": "3.5.1", "name": "spark"},
    }


# --- what is refused, and how it is said ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [[], "event", 42, None])
def test_a_body_that_is_not_an_object(body: object) -> None:
    error = rejected(body)
    assert "expected a JSON object" in str(error)
    assert error.path == ""


def test_a_job_event_is_refused_with_a_clear_message() -> None:
    body = example("dbt_run_complete.json")
    del body["run"], body["eventType"]
    body["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
    error = rejected(body)
    assert str(error) == "this is an OpenLineage JobEvent (static lineage, no run); this endpoint takes RunEvents"


def test_a_dataset_event_is_refused_with_a_clear_message() -> None:
    body = {
        "eventTime": "2025-11-18T15:04:49Z",
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {"namespace": "postgres://db:5432", "name": "public.applications"},
    }
    assert "DatasetEvent" in str(rejected(body))


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda b: b.pop("producer"), "producer", "producer is required"),
        (lambda b: b.pop("schemaURL"), "schemaURL", "schemaURL is required"),
        (lambda b: b["run"].pop("runId"), "run.runId", "run.runId is required"),
        (lambda b: b["job"].pop("namespace"), "job.namespace", "job.namespace is required"),
        (lambda b: b["job"].__setitem__("name", 42), "job.name", "job.name must be a string, got number"),
        (lambda b: b.__setitem__("inputs", {}), "inputs", "inputs must be an array, got object"),
        (lambda b: b.__setitem__("outputs", [{"namespace": "pg"}]), "outputs[0].name", "outputs[0].name is required"),
        (
            lambda b: b.__setitem__("eventType", "DONE"),
            "eventType",
            "eventType must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER, got 'DONE'",
        ),
        (
            lambda b: b["run"]["facets"]["processing_engine"].pop("_producer"),
            "run.facets.processing_engine._producer",
            "run.facets.processing_engine._producer is required",
        ),
    ],
)
def test_schema_violations_name_the_path_and_what_was_expected(change: Any, path: str, message: str) -> None:
    body = example("dbt_run_complete.json")
    change(body)
    error = rejected(body)
    assert (error.path, str(error)) == (path, message)


def test_a_facet_violation_inside_a_dataset_names_the_facet_field() -> None:
    body = example("python_client_full_event.json")
    del body["inputs"][0]["facets"]["schema"]["_producer"], body["inputs"][0]["facets"]["schema"]["_schemaURL"]
    error = rejected(body)
    assert error.path in ("inputs[0].facets.schema._producer", "inputs[0].facets.schema._schemaURL")
    assert str(error).endswith("is required")


@pytest.mark.parametrize("when", ["2025-11-18T15:04:49", "2025-11-18T15:04:49.271747", "2025-11-18 15:04:49"])
def test_an_event_time_without_timezone_is_refused(when: str) -> None:
    body = example("dbt_run_complete.json")
    body["eventTime"] = when
    error = rejected(body)
    assert error.path == "eventTime"
    assert "no timezone offset" in str(error)


@pytest.mark.parametrize("when", ["yesterday", "2025-11-18", "18/11/2025 15:04"])
def test_an_event_time_that_is_not_a_date_time_is_refused(when: str) -> None:
    body = example("dbt_run_complete.json")
    body["eventTime"] = when
    error = rejected(body)
    assert error.path == "eventTime"
    assert "must be an ISO 8601 date-time" in str(error)


@pytest.mark.parametrize(
    "run_id",
    ["run-42", "019a977e-d881-797a-a406", "{019a977e-d881-797a-a406-c0903f03fe57}", "019a977ed881797aa406c0903f03fe57"],
)
def test_a_run_id_that_is_not_a_uuid_is_refused(run_id: str) -> None:
    body = example("dbt_run_complete.json")
    body["run"]["runId"] = run_id
    error = rejected(body)
    assert error.path == "run.runId"
    assert str(error).startswith("run.runId must be a UUID")


def test_a_parent_run_id_that_is_not_a_uuid_is_refused() -> None:
    body = example("dbt_model_start.json")
    body["run"]["facets"]["parent"]["run"]["runId"] = "manual__2025-11-18"
    assert rejected(body).path == "run.facets.parent.run.runId"


def test_messages_stay_short_for_hostile_values() -> None:
    body = example("dbt_run_complete.json")
    body["eventType"] = "X" * 10_000
    assert len(str(rejected(body))) < 200


def test_parse_does_not_change_the_body() -> None:
    body = example("dbt_model_start.json")
    before = copy.deepcopy(body)
    parse_run_event(body)
    assert body == before


def test_run_event_fields_are_those_documented() -> None:
    assert list(RunEvent.__dataclass_fields__) == [
        "event_type",
        "event_time",
        "run_id",
        "job_namespace",
        "job_name",
        "producer",
        "inputs",
        "outputs",
        "code_ref",
        "parent_run_id",
        "parameters",
    ]
