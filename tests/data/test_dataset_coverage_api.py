"""Consent coverage of a dataset version over HTTP: counts per state at an instant, never who, and refused for
versions without a subject column, bad instants, and other teams.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from governance.data.models import Dataset, DatasetVersion
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import (
    applicant_id,
    german_csv,
    make_external_version,
    make_file_version,
    make_purpose,
    pseudonym,
    record_consent,
    refused,
)
from tests.data.datasets_api_helpers import DATASETS, versions_url

# --- consent coverage of a version -----------------------------------------------------------------------------


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"2026-{day}T12:00:00+00:00")


@pytest.fixture
def covered(cast: Cast, applicants: Dataset, media_root: Path, settings: Any) -> DatasetVersion:
    """Version 1 of ``applicants``: six applicants, whose consent to model_training changes over 2026.

    1: given 01-01, withdrawn 03-01.
    2: given 01-01, expiring 02-15.
    3: given 02-01.
    4: given 01-01, withdrawn 02-01, given again 04-01.
    5: only ever asked about marketing (given 01-01).
    6: never asked.
    An applicant who is not in the version (99) consents from 01-01 and must not be counted.
    Six subjects are below the privacy floor for owners (COVERAGE_MIN_SUBJECTS); these tests lower it to see the
    arithmetic, and a test of its own keeps it.
    """
    settings.COVERAGE_MIN_SUBJECTS = 1
    version = make_file_version(cast, applicants, german_csv(6), subject_id_column="applicant_id")
    training, marketing = make_purpose(cast, "model_training"), make_purpose(cast, "marketing")
    for number, kind, day, extra in (
        (1, "given", "01-01", {}),
        (2, "given", "01-01", {"expires_at": at("02-15")}),
        (4, "given", "01-01", {}),
        (99, "given", "01-01", {}),
        (3, "given", "02-01", {}),
        (4, "withdrawn", "02-01", {}),
        (1, "withdrawn", "03-01", {}),
        (4, "given", "04-01", {}),
    ):
        record_consent(cast, applicant_id(number), kind, at(day), purpose=training, **extra)
    record_consent(cast, applicant_id(5), "given", at("01-01"), purpose=marketing)
    return version


@pytest.mark.parametrize(
    ("instant", "counts"),
    [
        # (consenting, withdrawn, expired, never_asked), worked out from the fixture's story by hand.
        ("2025-12-31T12:00:00+00:00", (0, 0, 0, 6)),  # before anything
        ("2026-01-15T12:00:00+00:00", (3, 0, 0, 3)),  # 1, 2, 4 consent; 3 not yet asked
        ("2026-02-01T12:00:00+00:00", (3, 1, 0, 2)),  # 3 joins, 4 withdraws at this very instant
        ("2026-02-15T12:00:00+00:00", (2, 1, 1, 2)),  # 2's consent expires at this very instant
        ("2026-03-02T12:00:00+00:00", (1, 2, 1, 2)),  # 1 has withdrawn
        ("2026-04-02T14:00:00+02:00", (2, 1, 1, 2)),  # 4 consents again (the same instant, given in CEST)
    ],
)
def test_coverage_counts_each_state_at_an_instant(
    cast: Cast, covered: DatasetVersion, instant: str, counts: tuple[int, int, int, int]
) -> None:
    seq = last_seq()

    response = cast.owner.client().get(
        f"{versions_url('applicants')}1/coverage", {"purpose": "model_training", "at": instant}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["consenting"], body["withdrawn"], body["expired"], body["never_asked"]) == counts
    assert (body["dataset"], body["version"], body["purpose"], body["subjects"]) == (
        "applicants",
        1,
        "model_training",
        6,
    )
    assert datetime.fromisoformat(body["at"]) == datetime.fromisoformat(instant)
    assert events_since(seq) == []  # reading coverage records nothing


def test_coverage_without_an_instant_is_now(cast: Cast, covered: DatasetVersion) -> None:
    response = cast.owner.client().get(f"{versions_url('applicants')}1/coverage", {"purpose": "model_training"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["consenting"], body["withdrawn"], body["expired"], body["never_asked"]) == (2, 1, 1, 2)
    assert abs((datetime.fromisoformat(body["at"]) - datetime.now(UTC)).total_seconds()) < 60


def test_coverage_says_how_many_never_who(cast: Cast, covered: DatasetVersion) -> None:
    response = cast.owner.client().get(f"{versions_url('applicants')}1/coverage", {"purpose": "model_training"})

    assert set(response.json()) == {
        "dataset",
        "version",
        "purpose",
        "at",
        "subjects",
        "consenting",
        "withdrawn",
        "expired",
        "never_asked",
    }
    assert pseudonym(applicant_id(1)) not in response.content.decode()


def test_coverage_of_an_unknown_purpose_lists_the_known_ones(cast: Cast, covered: DatasetVersion) -> None:
    error = refused(
        lambda: cast.owner.client().get(f"{versions_url('applicants')}1/coverage", {"purpose": "model_trainign"}), 422
    )

    assert "purpose" in error["details"]
    assert "marketing, model_training" in error["message"]


def test_coverage_of_a_version_without_a_subject_column_is_422(cast: Cast, applicants: Dataset) -> None:
    make_purpose(cast)
    make_external_version(cast, applicants)

    error = refused(
        lambda: cast.owner.client().get(f"{versions_url('applicants')}1/coverage", {"purpose": "model_training"}), 422
    )

    assert "dataset" in error["details"]
    assert "dataset:applicants/v1 has no subject-id column" in error["message"]


@pytest.mark.parametrize("instant", ["2026-02-01T12:00:00", "2026-02-30T12:00:00Z", "yesterday"])
def test_coverage_at_a_time_without_timezone_or_impossible_is_422(
    cast: Cast, covered: DatasetVersion, instant: str
) -> None:
    error = refused(
        lambda: cast.owner.client().get(
            f"{versions_url('applicants')}1/coverage", {"purpose": "model_training", "at": instant}
        ),
        422,
    )

    assert "at" in error["details"]
    assert "timezone" in error["message"]


def test_coverage_of_another_teams_version_is_not_found(cast: Cast, covered: DatasetVersion) -> None:
    refused(
        lambda: cast.outsider.client().get(f"{versions_url('applicants')}1/coverage", {"purpose": "model_training"}),
        404,
        "not_found",
    )


def test_coverage_of_a_handful_of_subjects_is_shown_to_consent_keepers_only(
    cast: Cast, covered: DatasetVersion, settings: Any
) -> None:
    # Counts over six applicants at two instants would tell an owner one person's consent history.
    settings.COVERAGE_MIN_SUBJECTS = 10
    url = f"{DATASETS}applicants/versions/1/coverage?purpose=model_training&at=2026-02-01T12:00:00Z"
    error = refused(lambda: cast.owner.client().get(url), 422)
    assert "fewer than 10 subjects" in error["message"]
    assert cast.officer.client().get(url).json()["subjects"] == 6
