"""Lineage over HTTP from OpenLineage RunEvents: START then COMPLETE, merged links, versions named by content hash
or by event time, unmapped datasets, idempotent retries, loops, and bad events.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from governance.data.lineage import node_id
from governance.data.models import DatasetVersion, LineageRun, OpenLineageEvent
from registry.models import ModelVersion
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import API, make_dataset, make_external_version, refused
from tests.data.lineage_api_helpers import model_lineage, node_ids

OPENLINEAGE = f"{API}/lineage/openlineage"


PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/airflow"


WAREHOUSE = "postgres://warehouse.internal:5432"


# --- OpenLineage -----------------------------------------------------------------------------------------------


def dataset_ref(namespace: str, name: str, version: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"namespace": namespace, "name": name}
    if version is not None:
        ref["facets"] = {
            "version": {
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
                "#/$defs/DatasetVersionDatasetFacet",
                "datasetVersion": version,
            }
        }
    return ref


def run_event(
    event_type: str,
    run_id: str,
    *,
    job: str = "credit_dag.build_features",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": (when or datetime.now(UTC)).isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": "airflow", "name": job},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


def canonical_sha256(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def send(member: Member, body: Any) -> Any:
    return member.client().post(OPENLINEAGE, body, format="json")


@pytest.fixture
def warehouse(cast: Cast, chain: dict[str, Any]) -> dict[str, Any]:
    """``loans`` (versions 1 and 2), known to OpenLineage producers as the warehouse table lending.public.loans;
    ``credit-features`` gets a version 2."""
    loans = make_dataset(cast, "loans", openlineage_namespace=WAREHOUSE, openlineage_name="lending.public.loans")
    return {
        "loans_v1": make_external_version(cast, loans),
        "loans_v2": make_external_version(cast, loans),
        "features_v2": make_external_version(cast, chain["features"].dataset),
    }


def links_of(run: LineageRun) -> set[tuple[str, str]]:
    return {(link.direction, node_id(link.dataset_version or link.model_version)) for link in run.links.all()}


def test_openlineage_start_then_complete_builds_one_run(
    cast: Cast, chain: dict[str, Any], warehouse: dict[str, Any]
) -> None:
    run_id = str(uuid.uuid4())
    started = datetime.now(UTC)
    start = run_event(
        "START",
        run_id,
        inputs=[dataset_ref(WAREHOUSE, "lending.public.loans")],  # no version facet: the latest, v2
        outputs=[dataset_ref("assay", "datasets/credit-features", "1"), dataset_ref("s3://scratch", "tmp/part-0")],
        when=started,
    )
    seq = last_seq()

    first = send(cast.ci, start)

    assert first.status_code == 201, first.content
    assert first.json()["state"] == "START"
    assert first.json()["unmapped"] == [
        {
            "side": "outputs",
            "namespace": "s3://scratch",
            "name": "tmp/part-0",
            "reason": "no dataset that you can see is registered under this name",
        }
    ]
    run = LineageRun.objects.get(run_id=run_id)
    assert links_of(run) == {("input", "dataset:loans/v2"), ("output", "dataset:credit-features/v1")}
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        (
            "lineage_run.recorded",
            {
                "run_id": run_id,
                "job": "airflow/credit_dag.build_features",
                "state": "START",
                "source": "openlineage",
                "inputs": ["dataset:loans/v2"],
                "outputs": ["dataset:credit-features/v1"],
                "openlineage_sha256": canonical_sha256(start),
            },
        )
    ]

    complete = run_event(
        "COMPLETE",
        run_id,
        inputs=[
            dataset_ref(WAREHOUSE, "lending.public.loans", "1"),
            dataset_ref("assay", "datasets/bureau-scores"),
        ],
        outputs=[
            dataset_ref("assay", "datasets/credit-features", "1"),
            dataset_ref("assay", "models/credit-scoring/versions/1"),
        ],
        when=started + timedelta(minutes=5),
    )
    seq = last_seq()

    second = send(cast.ci, complete)

    assert second.status_code == 200, second.content
    assert (second.json()["state"], second.json()["unmapped"]) == ("COMPLETE", [])
    run.refresh_from_db()
    assert (run.state, run.started_at, run.ended_at) == ("COMPLETE", started, started + timedelta(minutes=5))
    assert links_of(run) == {
        ("input", "dataset:loans/v1"),
        ("input", "dataset:loans/v2"),
        ("input", "dataset:bureau-scores/v1"),
        ("output", "dataset:credit-features/v1"),
        ("output", "model:credit-scoring/v1"),
    }
    assert OpenLineageEvent.objects.filter(run=run).count() == 2
    assert [(e.action, e.payload["inputs"], e.payload["outputs"], e.payload["state"]) for e in events_since(seq)] == [
        (
            "lineage_run.recorded",
            ["dataset:bureau-scores/v1", "dataset:loans/v1"],
            ["model:credit-scoring/v1"],
            "COMPLETE",
        )
    ]


def test_a_version_facet_may_name_a_version_by_its_content_hash(cast: Cast, warehouse: dict[str, Any]) -> None:
    loans_v1 = warehouse["loans_v1"]
    DatasetVersion.objects.filter(pk=loans_v1.pk).update(sha256="c0" * 32)
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[dataset_ref(WAREHOUSE, "lending.public.loans", "C0" * 32)],
        outputs=[dataset_ref("assay", "datasets/credit-features", "2")],
    )

    response = send(cast.ci, event)

    assert response.status_code == 201, response.content
    assert links_of(LineageRun.objects.get(run_id=event["run"]["runId"])) == {
        ("input", "dataset:loans/v1"),
        ("output", "dataset:credit-features/v2"),
    }


def test_without_a_version_facet_the_version_registered_by_the_event_time_is_meant(
    cast: Cast, warehouse: dict[str, Any]
) -> None:
    january, march = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    DatasetVersion.objects.filter(pk=warehouse["loans_v1"].pk).update(created_at=january)
    DatasetVersion.objects.filter(pk=warehouse["loans_v2"].pk).update(created_at=march)
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[dataset_ref(WAREHOUSE, "lending.public.loans")],
        outputs=[dataset_ref("assay", "datasets/credit-features", "2")],
        when=datetime(2026, 2, 1, tzinfo=UTC),
    )

    response = send(cast.ci, event)

    assert response.status_code == 201, response.content
    assert ("input", "dataset:loans/v1") in links_of(LineageRun.objects.get(run_id=event["run"]["runId"]))


def test_another_teams_dataset_is_unmapped_exactly_like_one_that_does_not_exist(
    cast: Cast, warehouse: dict[str, Any]
) -> None:
    make_external_version(
        cast, make_dataset(cast, "cv-archive", team="hiring", openlineage_namespace="s3://hr", openlineage_name="cvs")
    )
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[
            dataset_ref("s3://hr", "cvs"),
            dataset_ref("s3://hr", "ghost"),
            dataset_ref("assay", "datasets/cv-archive"),
        ],
        outputs=[dataset_ref("assay", "datasets/credit-features", "2")],
    )

    response = send(cast.owner, event)

    assert response.status_code == 201, response.content
    reasons = {u["reason"] for u in response.json()["unmapped"]}
    assert reasons == {"no dataset that you can see is registered under this name"}
    assert len(response.json()["unmapped"]) == 3


def test_what_cannot_be_mapped_is_answered_and_kept_not_refused(cast: Cast, warehouse: dict[str, Any]) -> None:
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[
            dataset_ref("assay", "models/credit-scoring/versions/1"),
            dataset_ref("assay", "datasets/loans", "7"),
            dataset_ref("assay", "tables/loans"),
        ],
        outputs=[dataset_ref("assay", "datasets/credit-features", "2")],
    )

    response = send(cast.ci, event)

    assert response.status_code == 201, response.content
    reasons = [(u["side"], u["name"], u["reason"]) for u in response.json()["unmapped"]]
    assert reasons == [
        ("inputs", "models/credit-scoring/versions/1", "a model version can only be an output (a training run)"),
        ("inputs", "datasets/loans", "dataset loans has no version 7"),
        ("inputs", "tables/loans", "names in the 'assay' namespace are datasets/<name> or models/<name>/versions/<n>"),
    ]
    assert OpenLineageEvent.objects.get().unmapped == response.json()["unmapped"]


@pytest.mark.parametrize("reordered", [False, True], ids=["same-bytes", "keys-reordered"])
def test_the_same_openlineage_event_twice_changes_nothing(
    cast: Cast, warehouse: dict[str, Any], reordered: bool
) -> None:
    event = run_event("COMPLETE", str(uuid.uuid4()), outputs=[dataset_ref("assay", "datasets/credit-features", "2")])
    assert send(cast.ci, event).status_code == 201
    before, seq = db_state(), last_seq()
    retry = dict(reversed(list(event.items()))) if reordered else event

    again = send(cast.ci, retry)

    assert again.status_code == 200, again.content
    assert again.json()["run_id"] == event["run"]["runId"]
    assert (db_state(), events_since(seq)) == (before, [])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {
                "eventTime": "2026-03-01T08:00:00Z",
                "producer": PRODUCER,
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
                "dataset": {"namespace": WAREHOUSE, "name": "lending.public.loans"},
            },
            "DatasetEvent",
        ),
        (["not", "an", "event"], "expected a JSON object"),
        ({"hello": "world"}, "is required"),
        ("garbage", "expected a JSON object"),
    ],
    ids=["dataset-event", "array", "unrelated-object", "string"],
)
def test_what_is_not_a_run_event_is_422_with_a_clear_message(
    cast: Cast, warehouse: dict[str, Any], body: Any, words: str
) -> None:
    error = refused(lambda: send(cast.ci, body), 422, "invalid_openlineage")

    assert error["message"].startswith("Not a valid OpenLineage RunEvent")
    assert words in error["message"]


def test_an_event_time_without_timezone_is_422(cast: Cast, warehouse: dict[str, Any]) -> None:
    event = run_event("START", str(uuid.uuid4()), outputs=[dataset_ref("assay", "datasets/credit-features", "2")])
    event["eventTime"] = "2026-03-01T08:00:00"

    error = refused(lambda: send(cast.ci, event), 422, "invalid_openlineage")

    assert "eventTime" in error["message"]
    assert "timezone" in error["message"]


def test_the_same_run_id_under_another_job_is_409(cast: Cast, warehouse: dict[str, Any]) -> None:
    run_id = str(uuid.uuid4())
    outputs = [dataset_ref("assay", "datasets/credit-features", "2")]
    assert send(cast.ci, run_event("START", run_id, outputs=outputs)).status_code == 201

    error = refused(
        lambda: send(cast.ci, run_event("COMPLETE", run_id, job="another_dag.task", outputs=outputs)), 409, "conflict"
    )

    assert "airflow/credit_dag.build_features" in error["message"]


def test_an_openlineage_loop_within_one_event_is_refused(cast: Cast, chain: dict[str, Any]) -> None:
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[dataset_ref("assay", "datasets/credit-features", "1")],
        outputs=[dataset_ref("assay", "datasets/applications-raw", "1")],
    )

    refused(lambda: send(cast.ci, event), 422, "lineage_cycle")


def test_an_openlineage_loop_split_over_start_and_complete_is_refused(cast: Cast, chain: dict[str, Any]) -> None:
    run_id = str(uuid.uuid4())
    start = run_event("START", run_id, inputs=[dataset_ref("assay", "datasets/credit-features", "1")])
    assert send(cast.ci, start).status_code == 201

    complete = run_event("COMPLETE", run_id, outputs=[dataset_ref("assay", "datasets/applications-raw", "1")])
    refused(lambda: send(cast.ci, complete), 422, "lineage_cycle")


def test_an_owner_completes_the_run_they_started_without_datasets(cast: Cast, warehouse: dict[str, Any]) -> None:
    run_id = str(uuid.uuid4())
    assert send(cast.owner, run_event("START", run_id)).status_code == 201

    complete = send(
        cast.owner, run_event("COMPLETE", run_id, outputs=[dataset_ref("assay", "datasets/credit-features", "2")])
    )

    assert complete.status_code == 200, complete.content
    assert LineageRun.objects.get(run_id=run_id).team.slug == "credit-risk"


def test_an_owner_cannot_extend_another_teams_run(cast: Cast, warehouse: dict[str, Any]) -> None:
    run_id = str(uuid.uuid4())
    outputs = [dataset_ref("assay", "datasets/credit-features", "2")]
    assert send(cast.owner, run_event("START", run_id, outputs=outputs)).status_code == 201

    # Answered like a run id in use: nothing of the other team's run (its job, its team) is revealed.
    error = refused(lambda: send(cast.outsider, run_event("COMPLETE", run_id)), 409, "conflict")
    assert "credit" not in error["message"]


def test_model_outputs_of_openlineage_are_model_versions(cast: Cast, chain: dict[str, Any]) -> None:
    event = run_event(
        "COMPLETE",
        str(uuid.uuid4()),
        inputs=[dataset_ref("assay", "datasets/bureau-scores")],
        outputs=[dataset_ref("assay", "models/credit-scoring/versions/1")],
    )

    assert send(cast.ci, event).status_code == 201

    graph = model_lineage(cast.owner, "credit-scoring", 1, depth=1).json()
    assert node_ids(graph) == ["dataset:bureau-scores/v1", "dataset:credit-features/v1", "model:credit-scoring/v1"]
    assert ModelVersion.objects.get(pk=chain["model"].pk).lineage_links.count() == 2
