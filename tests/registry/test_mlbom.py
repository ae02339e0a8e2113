"""A version's CycloneDX 1.6 ML-BOM: valid against the schema cyclonedx-python-lib ships (strict), its hashes equal
the registry's and the bytes' own sha256, its datasets, libraries and audits as the database holds them, and the
version's access rules (404 for what is not yours)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy
import pytest
import skl2onnx
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from audits.models import AuditRun
from governance.data.models import DatasetVersion
from registry.models import RegisteredModel
from tests.conftest import Cast
from tests.data.conftest import media_root  # noqa: F401 - a fixture
from tests.exports.conftest import arrange_evidence
from tests.registry.api_helpers import client_of, refused, url

MEDIA_TYPE = "application/vnd.cyclonedx+json"
CAVEAT = "Not for applicants under 18."


def validation_errors(document: dict[str, Any]) -> Any:
    """None when ``document`` is a valid CycloneDX 1.6 JSON BOM, else the validator's error."""
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))


def mlbom(cast: Cast, name: str, number: int, who: str = "owner") -> dict[str, Any]:
    response = client_of(cast, who).get(url(name, number, "mlbom"))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == MEDIA_TYPE
    return dict(json.loads(response.content))


def by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in document.get("components", [])}


def properties(holder: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in holder.get("properties", [])}


@pytest.fixture(scope="module")
def onnx_bytes() -> bytes:
    features, labels = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)
    onnx = skl2onnx.to_onnx(model, features[:1].astype(numpy.float32), options={"zipmap": False})
    return bytes(onnx.SerializeToString())


def test_an_audited_version_gives_a_valid_bom_with_its_datasets_libraries_and_audit(
    cast: Cast,
    media_root: Any,  # noqa: F811 - the imported fixture, requested
) -> None:
    evidence = arrange_evidence(cast)
    document = mlbom(cast, evidence.model_name, evidence.version.number)

    assert validation_errors(document) is None
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    model = document["metadata"]["component"]
    assert (model["type"], model["name"], model["version"], model["bom-ref"]) == (
        "machine-learning-model",
        evidence.model_name,
        "1",
        f"model:{evidence.model_name}/v1",
    )
    assert "hashes" not in model, "a predictions-only version has no artifact, so no hash"

    run = AuditRun.objects.get(pk=evidence.run_id)
    training = DatasetVersion.objects.get(dataset__name=f"{evidence.model_name}-applicants")
    components = by_ref(document)
    training_ref = f"dataset:{training.dataset.name}/v1"
    evaluation_ref = f"dataset:{run.dataset_version.dataset.name}/v1"
    for ref, dataset in ((training_ref, training), (evaluation_ref, run.dataset_version)):
        component = components[ref]
        assert component["type"] == "data"
        assert component["hashes"] == [{"alg": "SHA-256", "content": dataset.sha256}]
        assert component["data"][0]["type"] == "dataset"
    assert properties(components[training_ref])["assay:role"] == "training"
    assert properties(components[evaluation_ref])["assay:role"] == "evaluation"
    card = model["modelCard"]
    assert card["modelParameters"]["datasets"] == [{"ref": training_ref}]

    libraries = {c["purl"] for c in components.values() if c["type"] == "library"}
    recorded = {f"pkg:pypi/{n.lower()}@{v}" for n, v in run.library_versions.items() if not n.startswith("numerics")}
    assert libraries == recorded
    assert "pkg:pypi/fairlearn@0.15.0" in libraries
    depends = {d["ref"]: set(d.get("dependsOn", [])) for d in document["dependencies"]}
    assert depends[f"model:{evidence.model_name}/v1"] == {training_ref, *recorded}

    # The audit's numbers as the run stored them: sex=F selected 45 of 100 (rate 9/20), with its Wilson interval.
    figures = run.results["group_metrics"]["groupings"]["sex"]["sex=F"]
    metrics = card["quantitativeAnalysis"]["performanceMetrics"]
    rate = next(m for m in metrics if m["type"] == "selection_rate" and m["slice"].endswith(": sex=F"))
    assert float(rate["value"]) == figures["selection_rate"] == 0.45
    assert [float(rate["confidenceInterval"][k]) for k in ("lowerBound", "upperBound")] == figures[
        "selection_rate_interval"
    ]
    assert {"type": "auc", "value": "0.78", "slice": "registration (claimed, not audited)"} in metrics
    audit = properties(card)
    assert audit[f"assay:audit:{run.pk}:verdict"] == "pass"
    assert audit[f"assay:audit:{run.pk}:check:disparate_impact"] == "pass"
    assert audit[f"assay:audit:{run.pk}:results_sha256"] == run.results_sha256


def test_the_validator_refuses_a_model_card_the_schema_does_not_allow(
    cast: Cast,
    media_root: Any,  # noqa: F811 - the imported fixture, requested
) -> None:
    """The schema check is not a formality: a learning type CycloneDX does not name makes the BOM invalid."""
    evidence = arrange_evidence(cast)
    document = mlbom(cast, evidence.model_name, evidence.version.number)
    broken = copy.deepcopy(document)
    broken["metadata"]["component"]["modelCard"]["modelParameters"]["approach"] = {"type": "guesswork"}
    assert validation_errors(document) is None
    assert validation_errors(broken) is not None


def test_the_model_hash_is_the_registrys_and_the_artifacts_own(
    cast: Cast, high_risk_model: RegisteredModel, onnx_bytes: bytes, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("scorer.onnx", onnx_bytes, content_type="application/octet-stream")
    response = cast.owner.client().post(
        url(high_risk_model.name, "versions"),
        {"artifact": upload, "metadata": json.dumps({"model_card": {"caveats_and_recommendations": CAVEAT}})},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    registered = response.json()["artifact_sha256"]

    document = mlbom(cast, high_risk_model.name, 1)
    assert validation_errors(document) is None
    model = document["metadata"]["component"]
    assert model["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(onnx_bytes).hexdigest()}]
    assert registered == hashlib.sha256(onnx_bytes).hexdigest()
    assert properties(model)["assay:framework"] == "onnx"
    card = model["modelCard"]
    assert card["modelParameters"]["modelArchitecture"] == "skl2onnx"
    assert len(card["modelParameters"]["inputs"]) == 1
    assert CAVEAT in card["considerations"]["technicalLimitations"]


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 401), ("outsider", 404), ("owner", 200), ("read_only", 200), ("regulator", 404)]
)
def test_who_may_read_a_versions_bom(cast: Cast, high_risk_model: RegisteredModel, who: str, status: int) -> None:
    cast.owner.client().post(url(high_risk_model.name, "versions"), {"metrics": {"auc": 0.7}}, format="json")
    if status == 200:
        assert mlbom(cast, high_risk_model.name, 1, who)["metadata"]["component"]["name"] == high_risk_model.name
    else:
        refused(lambda: client_of(cast, who).get(url(high_risk_model.name, 1, "mlbom")), status)


def test_a_version_that_does_not_exist_is_404(cast: Cast, high_risk_model: RegisteredModel) -> None:
    refused(lambda: cast.owner.client().get(url(high_risk_model.name, 7, "mlbom")), 404)
