"""A regulator looking at a shared model's lineage sees the version and the data it was trained on (as the bundle
documents them), and nothing of the rest of the organisation's graph."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from governance.data.models import DatasetVersion
from tests.conftest import Cast
from tests.data.conftest import make_model, make_model_version
from tests.exports.conftest import API, Evidence


def _lineage(client, name: str, number: int) -> dict:
    response = client.get(f"{API}/models/{name}/versions/{number}/lineage?direction=upstream")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_regulator_sees_a_shared_versions_training_data_and_no_other_model(cast: Cast, evidence: Evidence) -> None:
    # Another model of the same team, trained on the same data: not shared.
    training = DatasetVersion.objects.filter(dataset__name=f"{evidence.model_name}-applicants").get()
    make_model_version(cast, make_model(cast, "hiring-screen"), trained_on=[training])
    expires = (timezone.now() + dt.timedelta(days=30)).isoformat()
    shared = cast.officer.client().post(
        f"{API}/shares/",
        {"model": evidence.model_name, "regulator": "regina", "expires_at": expires, "reason": "Art. 74"},
        format="json",
    )
    assert shared.status_code == 201, shared.content

    number = evidence.version.number
    by_officer = _lineage(cast.officer.client(), evidence.model_name, number)
    by_regulator = _lineage(cast.regulator.client(), evidence.model_name, number)
    assert not any(node.get("hidden") for node in by_officer["nodes"])
    # Everything the officer sees of this version's upstream lineage, the regulator sees too: the shape and names.
    assert by_regulator["nodes"] == by_officer["nodes"]
    assert by_regulator["runs"] == by_officer["runs"]
    assert any(node["kind"] == "dataset_version" for node in by_regulator["nodes"])

    # The other model is not shared: a 404, and its nodes never appear in the shared one's graph.
    response = cast.regulator.client().get(f"{API}/models/hiring-screen/versions/1/lineage")
    assert response.status_code == 404
    assert "hiring-screen" not in str(by_regulator)
    # Downstream of the shared version's training data, the other model is a hidden placeholder for the regulator.
    downstream = cast.regulator.client().get(
        f"{API}/models/{evidence.model_name}/versions/{number}/lineage?direction=downstream"
    )
    assert downstream.status_code == 200
    assert "hiring-screen" not in str(downstream.json())
