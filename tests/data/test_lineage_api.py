"""Lineage over HTTP: runs recorded through the API, upstream and downstream queries of dataset and model versions
to a depth, cycles and other refusals, another team's datasets shown as hidden nodes, and the PROV-JSON export
read back by the PROV library. OpenLineage RunEvents are in test_lineage_openlineage_api.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from prov.model import ProvActivity, ProvDocument, ProvEntity, ProvGeneration, ProvUsage

from governance.data.models import DatasetVersion, LineageLink, LineageRun
from tests.api import events_since, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import API, make_dataset, make_external_version, make_model_version, make_run, refused
from tests.data.lineage_api_helpers import model_lineage, node_ids

RUNS = f"{API}/lineage/runs/"


def dataset_lineage(member: Member, name: str, number: int, **params: Any) -> Any:
    return member.client().get(f"{API}/datasets/{name}/versions/{number}/lineage", params)


def run_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_name": "clean_applications",
        "inputs": [{"dataset": "applications-raw", "version": 1}],
        "outputs": [{"dataset": "applications-clean", "version": 1}],
    }
    return {**body, **changes}


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
