"""Datasets over HTTP: registration (with an OpenLineage name or without) and team scope.

Every success is checked for its body, its rows and its trail event; every refusal for its error, the field at
fault, and that nothing changed (the trail included). Versions are in test_dataset_versions_api.py, consent
coverage in test_dataset_coverage_api.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from governance.data.models import Dataset
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import make_dataset, refused
from tests.data.datasets_api_helpers import DATASETS, only_event

# --- registering datasets --------------------------------------------------------------------------------------


def test_an_owner_registers_a_dataset_for_their_team(cast: Cast) -> None:
    seq = last_seq()

    response = cast.owner.client().post(
        DATASETS, {"name": "applicants", "team": "credit-risk", "description": "Loan applications."}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("name", "team", "description", "created_by", "versions")} == {
        "name": "applicants",
        "team": "credit-risk",
        "description": "Loan applications.",
        "created_by": "omar",
        "versions": 0,
    }
    dataset = Dataset.objects.get(name="applicants")
    assert (dataset.team.slug, dataset.created_by, dataset.openlineage_namespace) == (
        "credit-risk",
        cast.owner.user,
        "",
    )
    recorded = events_since(seq)
    assert [(e.action, e.object_id, e.payload) for e in recorded] == [
        ("dataset.registered", str(dataset.pk), {"name": "applicants", "team": "credit-risk", "openlineage": None})
    ]
    assert (recorded[0].actor_kind, recorded[0].actor_user_id) == ("token", cast.owner.user.pk)


def test_a_dataset_registered_with_its_openlineage_name_records_the_mapping(cast: Cast) -> None:
    seq = last_seq()
    body = {
        "name": "applicants",
        "team": "credit-risk",
        "openlineage_namespace": "postgres://warehouse:5432",
        "openlineage_name": "lending.public.applicants",
    }

    response = cast.owner.client().post(DATASETS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["openlineage_name"] == "lending.public.applicants"
    assert only_event(seq) == (
        "dataset.registered",
        {
            "name": "applicants",
            "team": "credit-risk",
            "openlineage": "postgres://warehouse:5432/lending.public.applicants",
        },
    )


def test_a_dataset_name_is_unique(cast: Cast, applicants: Dataset) -> None:
    error = refused(
        lambda: cast.owner.client().post(DATASETS, {"name": "applicants", "team": "credit-risk"}, format="json"),
        409,
        "duplicate",
    )

    assert "applicants" in error["message"]


def test_an_openlineage_name_maps_to_one_dataset_only(cast: Cast) -> None:
    make_dataset(cast, "applicants", openlineage_namespace="pg://wh", openlineage_name="public.applicants")
    body = {"name": "applicants-copy", "team": "credit-risk", "openlineage_namespace": "pg://wh"}

    error = refused(
        lambda: cast.owner.client().post(DATASETS, {**body, "openlineage_name": "public.applicants"}, format="json"),
        409,
        "duplicate",
    )

    assert "pg://wh/public.applicants" in error["message"]


def test_an_owner_cannot_register_a_dataset_for_a_team_they_are_not_in(cast: Cast) -> None:
    # Another team answers exactly like a team that does not exist: team names are not revealed to outsiders.
    other = refused(
        lambda: cast.outsider.client().post(DATASETS, {"name": "applicants", "team": "credit-risk"}, format="json"),
        422,
    )
    missing = refused(
        lambda: cast.outsider.client().post(DATASETS, {"name": "applicants", "team": "no-such-team"}, format="json"),
        422,
    )

    assert other == missing
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    "mapping",
    [{"openlineage_namespace": "pg://wh"}, {"openlineage_name": "public.applicants"}],
    ids=["namespace-only", "name-only"],
)
def test_an_openlineage_mapping_needs_both_its_fields(cast: Cast, mapping: dict[str, str]) -> None:
    error = refused(
        lambda: cast.owner.client().post(
            DATASETS, {"name": "applicants", "team": "credit-risk", **mapping}, format="json"
        ),
        422,
    )

    assert "openlineage_name" in error["details"]
    assert "both" in error["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "no-such-team"}, "team"),
        ({"name": "Not A Slug!"}, "name"),
        ({"owner": "omar"}, "owner"),  # an unknown field is refused, never ignored
    ],
)
def test_invalid_dataset_registrations_name_the_field(cast: Cast, changes: dict[str, Any], field: str) -> None:
    body = {"name": "applicants", "team": "credit-risk", **changes}

    error = refused(lambda: cast.owner.client().post(DATASETS, body, format="json"), 422, "validation_failed")

    assert field in error["details"]


# --- who sees which datasets -----------------------------------------------------------------------------------


@pytest.fixture
def two_teams(cast: Cast) -> None:
    make_dataset(cast, "applicants")
    make_dataset(cast, "bureau-scores")
    make_dataset(cast, "cv-archive", team="hiring")


@pytest.mark.parametrize(
    ("who", "query", "names"),
    [
        ("owner", "", ["applicants", "bureau-scores"]),
        ("reviewer", "", ["applicants", "bureau-scores"]),
        ("outsider", "", ["cv-archive"]),
        ("outsider", "?team=credit-risk", []),  # filtering never widens the scope
        ("officer", "", ["applicants", "bureau-scores", "cv-archive"]),
        ("officer", "?team=hiring", ["cv-archive"]),
        ("ci", "?team=credit-risk", ["applicants", "bureau-scores"]),
        ("regulator", "", None),  # no datasets:read scope
    ],
)
def test_the_dataset_list_is_scoped_to_the_callers_teams(
    cast: Cast, two_teams: None, who: str, query: str, names: list[str] | None
) -> None:
    response = getattr(cast, who).client().get(DATASETS + query)

    if names is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.content
    assert [d["name"] for d in response.json()["results"]] == names


def test_another_teams_dataset_is_not_found(cast: Cast, two_teams: None) -> None:
    seq = last_seq()

    response = cast.outsider.client().get(f"{DATASETS}applicants/")

    assert response.status_code == 404
    assert [e.action for e in events_since(seq)] == ["access.denied"]
