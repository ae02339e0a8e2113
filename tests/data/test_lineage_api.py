"""Lineage over HTTP: runs recorded through the API, upstream and downstream queries of dataset and model versions
to a depth, cycles and other refusals, another team's datasets shown as hidden nodes, the PROV-JSON export read
back by the PROV library, and OpenLineage RunEvents (START then COMPLETE, merged links, unmapped datasets,
idempotent retries, bad events).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prov.model import ProvActivity, ProvDocument, ProvEntity, ProvGeneration, ProvUsage

from governance.data.lineage import node_id
from governance.data.models import DatasetVersion, LineageLink, LineageRun, OpenLineageEvent
from registry.models import ModelVersion
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import (
    API,
    make_dataset,
    make_external_version,
    make_model,
    make_model_version,
    make_run,
    refused,
)

RUNS = f"{API}/lineage/runs/"
OPENLINEAGE = f"{API}/lineage/openlineage"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/airflow"
WAREHOUSE = "postgres://warehouse.internal:5432"


def dataset_lineage(member: Member, name: str, number: int, **params: Any) -> Any:
    return member.client().get(f"{API}/datasets/{name}/versions/{number}/lineage", params)


def model_lineage(member: Member, name: str, number: int, **params: Any) -> Any:
    return member.client().get(f"{API}/models/{name}/versions/{number}/lineage", params)


def node_ids(graph: dict[str, Any]) -> list[str]:
    return sorted(node["id"] for node in graph["nodes"])


def run_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_name": "clean_applications",
        "inputs": [{"dataset": "applications-raw", "version": 1}],
        "outputs": [{"dataset": "applications-clean", "version": 1}],
    }
    return {**body, **changes}


@pytest.fixture
def chain(cast: Cast) -> dict[str, Any]:
    """Three levels for team credit-risk: applications-raw v1 -> (clean) -> applications-clean v1 -> (features)
    -> credit-features v1 -> (training, through the registry) -> credit-scoring v1; plus bureau-scores v1 and a
    second model, unrelated, that nothing links to."""
    raw = make_external_version(cast, make_dataset(cast, "applications-raw"))
    clean = make_external_version(cast, make_dataset(cast, "applications-clean"))
    features = make_external_version(cast, make_dataset(cast, "credit-features"))
    bureau = make_external_version(cast, make_dataset(cast, "bureau-scores"))
    make_run(cast, "clean_applications", inputs=[raw], outputs=[clean])
    make_run(cast, "build_features", inputs=[clean], outputs=[features])
    model = make_model_version(cast, make_model(cast, "credit-scoring"), trained_on=[features])
    unrelated = make_model_version(cast, make_model(cast, "document-router"))
    return {"raw": raw, "clean": clean, "features": features, "bureau": bureau, "model": model, "unrelated": unrelated}


# --- recording runs --------------------------------------------------------------------------------------------


def test_a_run_is_recorded_with_its_inputs_outputs_and_the_model_it_trained(cast: Cast, chain: dict[str, Any]) -> None:
    model_v2 = make_model_version(cast, chain["model"].model)
    run_id = uuid.uuid4()
    seq = last_seq()
    body = {
        "run_id": str(run_id),
        "job_name": "retrain_scoring",
        "code_ref": "https://git.example.org/credit/pipelines@9fceb02",
        "parameters": {"seed": 7},
        "started_at": "2026-03-01T08:00:00Z",
        "ended_at": "2026-03-01T08:05:00Z",
        "inputs": [{"dataset": "credit-features", "version": 1}, {"dataset": "bureau-scores", "version": 1}],
        "outputs": [{"model": "credit-scoring", "version": 2}],
    }

    response = cast.owner.client().post(RUNS, body, format="json")

    assert response.status_code == 201, response.content
    answered = response.json()
    assert {k: answered[k] for k in ("run_id", "job_namespace", "job_name", "state", "source", "team")} == {
        "run_id": str(run_id),
        "job_namespace": "assay",
        "job_name": "retrain_scoring",
        "state": "COMPLETE",
        "source": "api",
        "team": "credit-risk",
    }
    assert sorted(answered["inputs"]) == ["dataset:bureau-scores/v1", "dataset:credit-features/v1"]
    assert answered["outputs"] == ["model:credit-scoring/v2"]
    run = LineageRun.objects.get(run_id=run_id)
    assert (run.code_ref, run.parameters, run.created_by) == (body["code_ref"], {"seed": 7}, cast.owner.user)
    assert {(link.direction, link.dataset_version_id, link.model_version_id) for link in run.links.all()} == {
        ("input", chain["features"].pk, None),
        ("input", chain["bureau"].pk, None),
        ("output", None, model_v2.pk),
    }
    assert [(e.action, e.object_id, e.payload) for e in events_since(seq)] == [
        (
            "lineage_run.recorded",
            str(run.pk),
            {
                "run_id": str(run_id),
                "job": "assay/retrain_scoring",
                "state": "COMPLETE",
                "source": "api",
                "inputs": ["dataset:bureau-scores/v1", "dataset:credit-features/v1"],
                "outputs": ["model:credit-scoring/v2"],
                "openlineage_sha256": None,
            },
        )
    ]
    assert cast.reviewer.client().get(f"{RUNS}{run_id}/").json()["job_name"] == "retrain_scoring"


def test_a_run_id_is_recorded_once(cast: Cast, chain: dict[str, Any]) -> None:
    run = LineageRun.objects.get(job_name="build_features")

    error = refused(
        lambda: cast.owner.client().post(RUNS, run_body(run_id=str(run.run_id)), format="json"), 409, "duplicate"
    )

    assert "run_id" in error["details"]


@pytest.mark.parametrize(
    ("who", "jobs"),
    [
        ("owner", ["build_features", "clean_applications", "train/credit-scoring/v1"]),
        ("outsider", ["import_cvs"]),
        ("ci", ["build_features", "clean_applications", "import_cvs", "train/credit-scoring/v1"]),
    ],
)
def test_the_run_list_is_scoped_to_the_callers_teams(
    cast: Cast, chain: dict[str, Any], who: str, jobs: list[str]
) -> None:
    archive = make_dataset(cast, "cv-archive", team="hiring")
    make_run(
        cast,
        "import_cvs",
        inputs=[make_external_version(cast, archive)],
        outputs=[make_external_version(cast, archive)],
    )

    response = getattr(cast, who).client().get(RUNS)

    assert response.status_code == 200, response.content
    assert sorted(r["job_name"] for r in response.json()["results"]) == jobs


def test_another_teams_run_is_not_found(cast: Cast, chain: dict[str, Any]) -> None:
    run = LineageRun.objects.get(job_name="build_features")

    refused(lambda: cast.outsider.client().get(f"{RUNS}{run.run_id}/"), 404, "not_found")


# --- upstream and downstream -----------------------------------------------------------------------------------


ALL_UPSTREAM = ["dataset:applications-clean/v1", "dataset:applications-raw/v1", "dataset:credit-features/v1"]
BOTH_RUNS = ["assay/build_features", "assay/clean_applications"]


@pytest.mark.parametrize(
    ("depth", "nodes", "jobs", "reached"),
    [
        ("", ALL_UPSTREAM, BOTH_RUNS, 2),
        ("1", ["dataset:applications-clean/v1", "dataset:credit-features/v1"], ["assay/build_features"], 1),
        ("2", ALL_UPSTREAM, BOTH_RUNS, 2),
        ("9", ALL_UPSTREAM, BOTH_RUNS, 2),  # deeper than the lineage goes: it stops where the lineage ends
    ],
)
def test_upstream_of_a_dataset_version_to_a_depth(
    cast: Cast, chain: dict[str, Any], *, depth: str, nodes: list[str], jobs: list[str], reached: int
) -> None:
    response = dataset_lineage(cast.reviewer, "credit-features", 1, direction="upstream", depth=depth)

    assert response.status_code == 200, response.content
    graph = response.json()
    assert (graph["root"], graph["direction"], graph["depth"]) == ("dataset:credit-features/v1", "upstream", reached)
    assert node_ids(graph) == nodes
    assert sorted(r["job"] for r in graph["runs"]) == jobs


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (1, ["dataset:applications-clean/v1"]),
        (2, ["dataset:applications-clean/v1", "dataset:credit-features/v1"]),
        (3, ["dataset:applications-clean/v1", "dataset:credit-features/v1", "model:credit-scoring/v1"]),
        (None, ["dataset:applications-clean/v1", "dataset:credit-features/v1", "model:credit-scoring/v1"]),
    ],
)
def test_downstream_of_a_dataset_version_reaches_the_model_at_depth_three(
    cast: Cast, chain: dict[str, Any], depth: int | None, expected: list[str]
) -> None:
    params = {"direction": "downstream"} | ({"depth": depth} if depth else {})

    graph = dataset_lineage(cast.owner, "applications-raw", 1, **params).json()

    assert node_ids(graph) == sorted(["dataset:applications-raw/v1", *expected])
    assert "model:document-router/v1" not in json.dumps(graph)


def test_upstream_of_a_model_version_names_every_input_with_its_run(cast: Cast, chain: dict[str, Any]) -> None:
    graph = model_lineage(cast.owner, "credit-scoring", 1).json()

    assert (graph["root"], graph["depth"]) == ("model:credit-scoring/v1", 3)
    assert node_ids(graph) == [
        "dataset:applications-clean/v1",
        "dataset:applications-raw/v1",
        "dataset:credit-features/v1",
        "model:credit-scoring/v1",
    ]
    runs = {run["job"]: (run["inputs"], run["outputs"]) for run in graph["runs"]}
    assert runs == {
        "assay/clean_applications": (["dataset:applications-raw/v1"], ["dataset:applications-clean/v1"]),
        "assay/build_features": (["dataset:applications-clean/v1"], ["dataset:credit-features/v1"]),
        "assay/train/credit-scoring/v1": (["dataset:credit-features/v1"], ["model:credit-scoring/v1"]),
    }
    features = next(n for n in graph["nodes"] if n["id"] == "dataset:credit-features/v1")
    assert features["location"] == chain["features"].external_uri


def test_one_level_up_from_a_model_version_is_its_training_data(cast: Cast, chain: dict[str, Any]) -> None:
    graph = model_lineage(cast.owner, "credit-scoring", 1, depth=1).json()

    assert node_ids(graph) == ["dataset:credit-features/v1", "model:credit-scoring/v1"]


def test_nothing_is_downstream_of_a_model_version(cast: Cast, chain: dict[str, Any]) -> None:
    graph = model_lineage(cast.owner, "credit-scoring", 1, direction="downstream").json()

    assert (node_ids(graph), graph["runs"], graph["depth"]) == (["model:credit-scoring/v1"], [], 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"direction": "sideways"}, "direction"), ({"depth": "0"}, "depth"), ({"depth": "two"}, "depth")],
)
def test_lineage_parameters_are_checked(cast: Cast, chain: dict[str, Any], params: dict[str, str], field: str) -> None:
    for response_of in (
        lambda: dataset_lineage(cast.owner, "credit-features", 1, **params),
        lambda: model_lineage(cast.owner, "credit-scoring", 1, **params),
    ):
        error = refused(response_of, 422)
        assert field in error["details"]


# --- refused runs ----------------------------------------------------------------------------------------------


def test_a_run_that_would_close_a_loop_is_refused(cast: Cast, chain: dict[str, Any]) -> None:
    body = run_body(
        job_name="backfill",
        inputs=[{"dataset": "credit-features", "version": 1}],
        outputs=[{"dataset": "applications-raw", "version": 1}],
    )

    error = refused(lambda: cast.owner.client().post(RUNS, body, format="json"), 422, "lineage_cycle")

    assert "outputs" in error["details"]
    assert "dataset:applications-raw/v1" in error["message"]


def test_a_version_cannot_be_input_and_output_of_one_run(cast: Cast, chain: dict[str, Any]) -> None:
    same = [{"dataset": "bureau-scores", "version": 1}]

    error = refused(lambda: cast.owner.client().post(RUNS, run_body(inputs=same, outputs=same), format="json"), 422)

    assert "outputs" in error["details"]
    assert "both an input and an output" in error["message"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"inputs": [{"model": "credit-scoring", "version": 1}]}, "inputs", "a model version can only be an output"),
        ({"outputs": []}, "outputs", ""),
        ({"outputs": [{"dataset": "bureau-scores", "model": "credit-scoring", "version": 1}]}, "outputs", "either"),
        ({"started_at": "2026-03-02T00:00:00Z", "ended_at": "2026-03-01T00:00:00Z"}, "started_at", "after"),
        ({"job_name": ""}, "job_name", ""),
        ({"state": "DONE"}, "state", ""),  # the state of a run posted here is COMPLETE
    ],
    ids=["model-as-input", "no-outputs", "dataset-and-model", "ends-before-it-starts", "no-job", "unknown-field"],
)
def test_a_bad_run_names_its_field_and_writes_nothing(
    cast: Cast, chain: dict[str, Any], changes: dict[str, Any], field: str, words: str
) -> None:
    error = refused(lambda: cast.owner.client().post(RUNS, run_body(**changes), format="json"), 422)

    assert field in error["details"], error
    assert words.lower() in json.dumps(error).lower()


def test_a_run_naming_a_version_that_does_not_exist_is_404(cast: Cast, chain: dict[str, Any]) -> None:
    refused(
        lambda: cast.owner.client().post(
            RUNS, run_body(inputs=[{"dataset": "applications-raw", "version": 9}]), format="json"
        ),
        404,
        "not_found",
    )


# --- another team's datasets -----------------------------------------------------------------------------------


@pytest.fixture
def hiring_archive(cast: Cast) -> DatasetVersion:
    """Team hiring's dataset cv-archive-confidential v1."""
    return make_external_version(cast, make_dataset(cast, "cv-archive-confidential", team="hiring"))


def test_an_owner_cannot_reference_another_teams_dataset(
    cast: Cast, chain: dict[str, Any], hiring_archive: DatasetVersion
) -> None:
    body = run_body(inputs=[{"dataset": "cv-archive-confidential", "version": 1}])

    refused(lambda: cast.owner.client().post(RUNS, body, format="json"), 404, "not_found")

    assert not LineageLink.objects.filter(dataset_version=hiring_archive).exists()


def test_a_cross_team_link_shows_the_other_teams_dataset_as_a_hidden_node(
    cast: Cast, chain: dict[str, Any], hiring_archive: DatasetVersion
) -> None:
    # The officer role cannot write lineage; the organisation-wide CI pipeline links across teams.
    body = run_body(
        job_name="enrich_features",
        inputs=[{"dataset": "cv-archive-confidential", "version": 1}, {"dataset": "bureau-scores", "version": 1}],
        outputs=[{"dataset": "credit-features", "version": 1}],
    )
    response = cast.ci.client().post(RUNS, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["team"] == "credit-risk"

    seen_by_owner = model_lineage(cast.owner, "credit-scoring", 1)
    seen_by_officer = model_lineage(cast.officer, "credit-scoring", 1)

    assert seen_by_owner.status_code == 200
    assert b"cv-archive" not in seen_by_owner.content
    assert b"hiring" not in seen_by_owner.content
    graph = seen_by_owner.json()
    hidden = [n for n in graph["nodes"] if n.get("hidden")]
    assert hidden == [{"id": "hidden:1", "kind": "dataset_version", "hidden": True}]
    enrich = next(r for r in graph["runs"] if r["job"] == "assay/enrich_features")
    assert enrich["inputs"] == ["dataset:bureau-scores/v1", "hidden:1"]
    assert "dataset:cv-archive-confidential/v1" in node_ids(seen_by_officer.json())


def test_the_other_team_sees_a_downstream_run_of_credit_risk_as_hidden(
    cast: Cast, chain: dict[str, Any], hiring_archive: DatasetVersion
) -> None:
    make_run(cast, "enrich_features", inputs=[hiring_archive], outputs=[chain["features"]])

    response = dataset_lineage(cast.outsider, "cv-archive-confidential", 1, direction="downstream")

    assert response.status_code == 200
    for secret in (b"credit-features", b"credit-scoring", b"enrich_features", b"credit-risk"):
        assert secret not in response.content, secret
    graph = response.json()
    assert node_ids(graph) == ["dataset:cv-archive-confidential/v1", "hidden:1", "hidden:2"]
    assert [(run["run_id"], run["hidden"]) for run in graph["runs"]] == [(None, True), (None, True)]


# --- PROV-JSON -------------------------------------------------------------------------------------------------


def prov_of(member: Member, name: str, number: int) -> Any:
    response = member.client().get(f"{API}/models/{name}/versions/{number}/lineage/prov")
    assert response.status_code == 200, response.content
    return response, ProvDocument.deserialize(content=response.content.decode("utf-8"), format="json")


def test_the_prov_export_names_every_upstream_input(cast: Cast, chain: dict[str, Any]) -> None:
    response, document = prov_of(cast.owner, "credit-scoring", 1)

    assert response["Content-Disposition"] == 'inline; filename="credit-scoring-v1.prov.json"'
    records = document.get_records()
    entities = sorted(r.identifier.localpart for r in records if isinstance(r, ProvEntity))
    assert entities == [
        "dataset/applications-clean/v1",
        "dataset/applications-raw/v1",
        "dataset/credit-features/v1",
        "model/credit-scoring/v1",
    ]
    runs = {str(r.identifier.localpart): r for r in records if isinstance(r, ProvActivity)}
    assert {f"run/{run.run_id}" for run in LineageRun.objects.all()} == set(runs)
    used = {
        (str(r.formal_attributes[0][1].localpart), str(r.formal_attributes[1][1].localpart))
        for r in records
        if isinstance(r, ProvUsage)
    }
    generated = {
        (str(r.formal_attributes[0][1].localpart), str(r.formal_attributes[1][1].localpart))
        for r in records
        if isinstance(r, ProvGeneration)
    }
    by_job = {run.job_name: f"run/{run.run_id}" for run in LineageRun.objects.all()}
    assert used == {
        (by_job["clean_applications"], "dataset/applications-raw/v1"),
        (by_job["build_features"], "dataset/applications-clean/v1"),
        (by_job["train/credit-scoring/v1"], "dataset/credit-features/v1"),
    }
    assert generated == {
        ("dataset/applications-clean/v1", by_job["clean_applications"]),
        ("dataset/credit-features/v1", by_job["build_features"]),
        ("model/credit-scoring/v1", by_job["train/credit-scoring/v1"]),
    }


def test_the_prov_export_does_not_name_another_teams_dataset(
    cast: Cast, chain: dict[str, Any], hiring_archive: DatasetVersion
) -> None:
    make_run(cast, "enrich_features", inputs=[hiring_archive], outputs=[chain["features"]])

    response, _ = prov_of(cast.owner, "credit-scoring", 1)

    assert b"cv-archive-confidential" not in response.content


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
