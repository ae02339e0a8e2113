"""The Django admin shows data-governance records to administrators and never lets them edit one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from governance.access.models import Team
from governance.data import actions
from governance.trail.log import Actor
from tests.api import db_state, last_seq
from tests.conftest import Cast

PAGES = ["dataset", "datasetversion", "qualityfinding", "lineagerun", "purpose", "consentevent", "consentimport"]


@pytest.fixture
def records(cast: Cast) -> dict[str, Any]:
    owner, officer = cast.owner.user, cast.officer.user
    dataset = actions.do_register_dataset(
        user=owner, actor=Actor.system(), name="admin-data", team=Team.objects.get(slug="credit-risk")
    )
    version = actions.do_register_dataset_version(
        dataset=dataset, user=owner, actor=Actor.system(), external_uri="s3://bucket/admin.parquet", row_count=10
    )
    run = actions.do_record_run(user=owner, actor=Actor.system(), job_name="admin-job", outputs=[version])
    purpose = actions.do_create_purpose(
        user=officer, actor=Actor.system(), code="admin-purpose", description="Admin test.", legal_basis="contract"
    )
    consent = actions.do_record_consent(
        user=officer,
        actor=Actor.system(),
        purpose=purpose,
        kind="given",
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        external_id="subject-in-admin",
    )
    return {
        "dataset": dataset,
        "datasetversion": version,
        "lineagerun": run,
        "purpose": purpose,
        "consentevent": consent,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_data_records_are_listed_for_administrators(cast: Cast, records: dict[str, Any], page: str) -> None:
    client = Client()
    client.force_login(cast.admin.user)
    assert client.get(f"/admin/governance/{page}/").status_code == 200
    assert client.get(f"/admin/governance/{page}/add/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["dataset", "datasetversion", "lineagerun", "purpose", "consentevent"])
def test_a_data_record_is_shown_read_only_and_a_post_changes_nothing(
    cast: Cast, records: dict[str, Any], page: str
) -> None:
    client = Client()
    client.force_login(cast.admin.user)
    url = f"/admin/governance/{page}/{records[page].pk}/change/"
    html = client.get(url).content.decode()
    assert 'name="_save"' not in html  # shown, with no save button and no editable field
    assert 'name="name"' not in html
    assert 'name="kind"' not in html
    before, seq = db_state(), last_seq()
    response = client.post(url, {"name": "renamed", "code": "renamed", "kind": "withdrawn", "_save": "Save"})
    assert response.status_code == 403
    assert (db_state(), last_seq()) == (before, seq)
    assert client.post(f"/admin/governance/{page}/{records[page].pk}/delete/", {"post": "yes"}).status_code == 403
    assert db_state() == before


@pytest.mark.django_db
def test_subject_keys_and_sealed_records_are_not_in_the_admin(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.admin.user)
    assert client.get("/admin/governance/subjectkey/").status_code == 404
    assert client.get("/admin/governance/personalrecord/").status_code == 404
