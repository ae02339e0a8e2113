"""The registry's HTTP API for versions: registration from JSON metadata and artifact uploads (inspected, hashed,
stored once, refused when unsafe or too large), each refusal leaving nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy
import pytest
import skl2onnx
import skops.io
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from governance.data.models import LineageRun
from governance.trail.models import Event
from registry.models import ModelVersion, RegisteredModel
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.registry.api_helpers import client_of, refused, url
from tests.registry.conftest import MakeVersion, register_model
from tests.storage_files import read_stored, stored_names

METADATA = {
    "hyperparameters": {"C": 1.0, "penalty": "l2"},
    "metrics": {"auc": 0.83, "accuracy": 0.91},
    "code_repository": "https://git.example.org/credit/scoring",
    "code_commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "training_datasets": [{"dataset": "applications-2025", "version": 3}],
    "model_card": {"model_details": "Logistic regression.", "intended_use": "Pre-screening."},
    "input_schema": [{"name": "income", "type": "float"}, {"name": "age", "type": "int"}],
}


# --- versions: predictions only --------------------------------------------------------------------------------


def test_a_predictions_only_version_is_registered_from_json(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    seq = last_seq()

    response = cast.owner.client().post(url("credit-scoring", "versions"), METADATA, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("model", "number", "state", "framework", "artifact_sha256", "artifact_size")} == {
        "model": "credit-scoring",
        "number": 1,
        "state": "draft",
        "framework": "predictions-only",
        "artifact_sha256": "",
        "artifact_size": None,
    }
    for field in ("hyperparameters", "metrics", "code_repository", "code_commit", "training_datasets", "model_card"):
        assert body[field] == METADATA[field], field
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    assert (version.created_by, version.input_schema, version.artifact.name) == (
        cast.owner.user,
        METADATA["input_schema"],
        "",
    )
    assert [(e.action, e.object_id, e.payload) for e in events_since(seq)] == [
        (
            "model_version.registered",
            str(version.pk),
            {
                "model": "credit-scoring",
                "version": 1,
                "framework": "predictions-only",
                "artifact_sha256": None,
                "artifact_size": None,
            },
        ),
        (
            "lineage_run.recorded",
            str(LineageRun.objects.get(links__model_version=version).pk),
            {
                "run_id": str(LineageRun.objects.get(links__model_version=version).run_id),
                "job": "assay/train/credit-scoring/v1",
                "state": "COMPLETE",
                "source": "registry",
                "inputs": ["dataset:applications-2025/v3"],
                "outputs": ["model:credit-scoring/v1"],
                "openlineage_sha256": None,
            },
        ),
    ]


def test_training_datasets_must_name_dataset_versions_the_caller_can_see(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    for references, expected in (
        ([{"dataset": "applications-2025", "version": 9}], "no dataset version applications-2025 v9"),
        ([{"dataset": "ghost", "version": 1}], "no dataset version ghost v1"),
        ([{"dataset": "applications-2025"}], "must be {"),
        ([{"dataset": "applications-2025", "version": "3"}], "version a number"),
    ):
        before, seq = db_state(), last_seq()
        error = refused(
            lambda references=references: cast.owner.client().post(
                url("credit-scoring", "versions"), {"training_datasets": references}, format="json"
            ),
            422,
            "invalid_training_datasets",
        )
        assert expected in error["message"]
        assert (db_state(), events_since(seq)) == (before, [])


def test_version_numbers_count_up_per_model(
    cast: Cast, high_risk_model: RegisteredModel, minimal_risk_model: RegisteredModel
) -> None:
    owner, ci = cast.owner.client(), cast.ci.client()

    numbers = [
        owner.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
        ci.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
        owner.post(url("document-router", "versions"), {}, format="json").json()["number"],
        owner.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
    ]

    assert numbers == [1, 2, 1, 3]
    listed = owner.get(url("credit-scoring", "versions")).json()["results"]
    assert [(v["number"], v["created_by"]) for v in listed] == [(1, "omar"), (2, "ci-bot"), (3, "omar")]


def test_metadata_may_come_as_a_multipart_field_without_an_artifact(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    response = cast.owner.client().post(
        url("credit-scoring", "versions"), {"metadata": json.dumps(METADATA)}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["framework"], response.json()["metrics"]) == ("predictions-only", METADATA["metrics"])


def test_malformed_metadata_json_is_422_naming_metadata(cast: Cast, high_risk_model: RegisteredModel) -> None:
    error = refused(
        lambda: cast.owner.client().post(
            url("credit-scoring", "versions"), {"metadata": '{"metrics": {"auc": 0.8}'}, format="multipart"
        ),
        422,
        "validation_failed",
    )

    assert list(error["details"]) == ["metadata"]
    assert "metadata" in error["message"]
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"metrics": {"auc": 0.8}, "learning_rate": 0.1}, "learning_rate"),  # not a metadata field
        ({"code_commit": "not-a-sha"}, "code_commit"),
        ({"model_card": {"favourite_colour": "blue"}}, "model_card"),  # not a Model Cards section
        ({"model_card": {"factors": ["age"]}}, "model_card"),  # sections are text
        ({"training_datasets": "applications-2025"}, "training_datasets"),
        ({"hyperparameters": [1, 2]}, "hyperparameters"),
    ],
)
def test_invalid_metadata_is_422_naming_the_field(
    cast: Cast, high_risk_model: RegisteredModel, metadata: dict[str, Any], field: str
) -> None:
    for send in (
        lambda: cast.owner.client().post(url("credit-scoring", "versions"), metadata, format="json"),
        lambda: cast.owner.client().post(
            url("credit-scoring", "versions"), {"metadata": json.dumps(metadata)}, format="multipart"
        ),
    ):
        error = refused(send, 422, "validation_failed")
        assert field in error["details"], error

    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
    ],
)
def test_who_may_not_register_a_version(
    cast: Cast, high_risk_model: RegisteredModel, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).post(url("credit-scoring", "versions"), METADATA, format="json"), status, code)


@pytest.fixture(scope="session")
def artifacts() -> dict[str, bytes]:
    """A real classifier (logistic regression on the breast cancer data) as ONNX, skops and pickle bytes."""
    features, labels = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)
    onnx = skl2onnx.to_onnx(model, features[:1].astype(numpy.float32), options={"zipmap": False})
    return {"onnx": onnx.SerializeToString(), "skops": skops.io.dumps(model), "pickle": pickle.dumps(model)}


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Stored artifacts go to a directory of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(member: Member, filename: str, data: bytes, metadata: dict[str, Any] | None = None) -> Any:
    fields: dict[str, Any] = {"artifact": SimpleUploadedFile(filename, data, content_type="application/octet-stream")}
    if metadata is not None:
        fields["metadata"] = json.dumps(metadata)
    return member.client().post(url("credit-scoring", "versions"), fields, format="multipart")


# --- versions: artifacts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["onnx", "skops"])
def test_an_artifact_is_inspected_hashed_and_stored(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path, framework: str
) -> None:
    data, seq = artifacts[framework], last_seq()
    sha256 = hashlib.sha256(data).hexdigest()

    response = upload(cast.owner, f"scorer.{framework}", data, {"metrics": {"auc": 0.99}})

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("number", "framework", "artifact_name", "artifact_sha256", "artifact_size")} == {
        "number": 1,
        "framework": framework,
        "artifact_name": f"scorer.{framework}",
        "artifact_sha256": sha256,
        "artifact_size": len(data),
    }
    # The schema comes from the file itself: 30 float features in, a label and two probabilities out.
    assert [(f["type"], f["shape"]) for f in body["input_schema"]] == [("float", [None, 30])]
    assert {f["name"] for f in body["output_schema"]} == {"label", "probabilities"}
    assert body["metrics"] == {"auc": 0.99}
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    assert read_stored(version.artifact.name) == data
    assert stored_names() == [version.artifact.name]
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        (
            "model_version.registered",
            {
                "model": "credit-scoring",
                "version": 1,
                "framework": framework,
                "artifact_sha256": sha256,
                "artifact_size": len(data),
            },
        )
    ]


def test_identical_bytes_are_stored_once(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    first = upload(cast.owner, "model.onnx", artifacts["onnx"])
    second = upload(cast.ci, "same-model.onnx", artifacts["onnx"])

    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["number"], second.json()["number"]] == [1, 2]
    assert len(stored_names()) == 1


@pytest.mark.parametrize("filename", ["model.pkl", "model.onnx", "model.skops", "model"])
def test_a_pickle_is_refused_under_any_name_and_nothing_is_created(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path, filename: str
) -> None:
    error = refused(lambda: upload(cast.owner, filename, artifacts["pickle"]), 422, "pickle_refused")

    assert "pickle" in error["message"]
    assert "skops" in error["message"]  # it says what to upload instead
    assert not ModelVersion.objects.exists()
    assert stored_names() == []


def test_a_file_that_is_not_a_model_is_refused(cast: Cast, high_risk_model: RegisteredModel, media_root: Path) -> None:
    refused(lambda: upload(cast.owner, "model.onnx", b"name,income\nada,42\n"), 422, "not_onnx")

    assert stored_names() == []


def test_an_artifact_above_the_limit_is_413_and_nothing_is_created(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    with override_settings(ARTIFACT_MAX_BYTES=len(artifacts["onnx"]) - 1):
        error = refused(lambda: upload(cast.owner, "model.onnx", artifacts["onnx"]), 413, "too_large")

    assert f"{len(artifacts['onnx']) - 1:,}" in error["message"]
    assert stored_names() == []


def test_a_body_far_above_the_artifact_limit_is_refused_before_it_is_read(
    cast: Cast, high_risk_model: RegisteredModel, media_root: Path
) -> None:
    with override_settings(ARTIFACT_MAX_BYTES=1024):
        # The limit plus the 1 MiB allowed for multipart framing, plus one more MiB.
        error = refused(lambda: upload(cast.owner, "model.onnx", b"\0" * (2 * 1024 * 1024 + 1024)), 413)

    assert error["code"] == "payload_too_large"
    assert stored_names() == []


def test_an_artifact_upload_with_malformed_metadata_stores_nothing(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    fields = {"artifact": SimpleUploadedFile("model.onnx", artifacts["onnx"]), "metadata": "{"}

    error = refused(
        lambda: cast.owner.client().post(url("credit-scoring", "versions"), fields, format="multipart"), 422
    )

    assert "metadata" in error["details"]
    assert stored_names() == []


def test_a_missing_version_of_a_visible_model_is_404_without_a_denial(cast: Cast, make_version: MakeVersion) -> None:
    """Version 2 exists on another model; asking for it on this one is "not there", not "not yours"."""
    first = register_model(cast, "minimal", name="alpha")
    second = register_model(cast, "minimal", name="beta")
    make_version(first)
    make_version(second)
    make_version(second)
    before = Event.objects.filter(action="access.denied").count()
    response = cast.owner.client().get("/api/v1/models/alpha/versions/2/")
    assert response.status_code == 404
    assert Event.objects.filter(action="access.denied").count() == before
