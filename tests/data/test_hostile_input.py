"""Hostile values at the data-governance API: each is refused with a clear message, never a 500, and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from governance.trail.models import Event
from tests.api import assert_error, db_state, last_seq
from tests.conftest import Cast
from tests.data.conftest import API, make_dataset, make_external_version, make_purpose

DATASETS = f"{API}/datasets/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "uri",
    ["https://AKIAEXAMPLE:secret@bucket.example.org/data.parquet", "s3://user@bucket/data.parquet", "s3://b/x\r\ny"],
    ids=["user-and-password", "user", "newline"],
)
def test_an_external_uri_with_credentials_is_refused(cast: Cast, uri: str) -> None:
    make_dataset(cast, "lake")
    before = db_state()
    error = assert_error(
        cast.owner.client().post(f"{DATASETS}lake/versions/", {"external_uri": uri}, format="json"), 422
    )
    assert "credentials" in error["message"]
    assert db_state() == before


@pytest.mark.django_db
def test_a_signed_urls_query_never_reaches_the_trail(cast: Cast) -> None:
    make_dataset(cast, "lake")
    uri = "https://bucket.example.org/data.parquet?X-Amz-Signature=abc123&X-Amz-Credential=AKIA"
    seq = last_seq()
    assert (
        cast.owner.client().post(f"{DATASETS}lake/versions/", {"external_uri": uri}, format="json").status_code == 201
    )
    leaves = b"".join(bytes(e.leaf) for e in Event.objects.filter(seq__gt=seq))
    assert b"X-Amz-Signature" not in leaves
    assert b"https://bucket.example.org/data.parquet" in leaves


@pytest.mark.django_db
@pytest.mark.parametrize("value", [2**60, 10**30, -1])
def test_an_impossible_row_count_is_refused(cast: Cast, value: int) -> None:
    make_dataset(cast, "lake")
    body = {"external_uri": "s3://lake/x.parquet", "row_count": value}
    error = assert_error(cast.owner.client().post(f"{DATASETS}lake/versions/", body, format="json"), 422)
    assert "row_count" in error["details"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["depth=\u00b2", "depth=\u0663", "depth=99999999999999999999"], ids=["superscript", "arabic", "huge"]
)
def test_lineage_depth_accepts_ascii_digits_only(cast: Cast, query: str) -> None:
    make_external_version(cast, make_dataset(cast, "lake"))
    error = assert_error(cast.owner.client().get(f"{DATASETS}lake/versions/1/lineage?{query}"), 422)
    assert "depth" in error["details"]


@pytest.mark.django_db
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_out_of_range_is_refused(cast: Cast, moment: str) -> None:
    make_purpose(cast)
    before = db_state()
    body: dict[str, Any] = {"external_id": "DE-1", "purpose": "model_training", "kind": "given", "occurred_at": moment}
    error = assert_error(cast.officer.client().post(f"{API}/consent/events/", body, format="json"), 422)
    assert "out of range" in error["message"]
    assert db_state() == before


@pytest.mark.django_db
def test_an_openlineage_version_facet_with_unicode_digits_does_not_map(cast: Cast) -> None:
    make_dataset(cast, "lake")
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.org/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "etl", "name": "load"},
        "inputs": [],
        "outputs": [
            {
                "namespace": "assay",
                "name": "datasets/lake",
                "facets": {
                    "version": {
                        "_producer": "https://example.org/producer",
                        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
                        "datasetVersion": "\u00b2",
                    }
                },
            }
        ],
    }
    response = cast.ci.client().post(f"{API}/lineage/openlineage", event, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["unmapped"][0]["reason"].startswith("dataset lake has no version")
