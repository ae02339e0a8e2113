"""Large dataset uploads: the web node stores the file and answers 202; a worker profiles it into the version.

The threshold (``DATASET_PROFILE_IN_WORKER_BYTES``) is lowered so a few hundred German-credit rows count as large.
Jobs run as the test suite runs them (in process, when the request's transaction commits); the job is the same
function a Celery worker runs. What the worker registers must be what a synchronous upload of the same bytes
registers, and a refusal must leave no version and no stored file behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance.data.actions import uploads
from governance.data.actions.uploads import run_dataset_upload
from governance.data.models import Dataset, DatasetUpload, DatasetVersion
from governance.leases import worker_identity
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import german_csv, make_dataset, sha256_bytes
from tests.data.datasets_api_helpers import DATASETS, versions_url
from tests.storage_files import read_stored, replace_stored, stored_names

METADATA = {"subject_id_column": "applicant_id", "label_column": "credit_risk", "source": "UCI German credit"}


@pytest.fixture(autouse=True)
def small_threshold(settings: Any) -> None:
    settings.DATASET_PROFILE_IN_WORKER_BYTES = 1000


def post(member: Member, dataset: str, content: bytes, metadata: dict[str, Any], name: str = "a.csv") -> Any:
    fields = {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "metadata": json.dumps(metadata)}
    return member.client().post(versions_url(dataset), fields, format="multipart")


def dead_worker_identity() -> str:
    """This machine's identity with a PID that no process has (the highest PID Linux allows, plus one)."""
    host, namespace, _ = worker_identity().split("/")
    return f"{host}/{namespace}/{4194304 + 1}"


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    keep = ("format", "sha256", "size_bytes", "row_count", "schema", "profile", "subject_count", "label_column")
    return {k: body[k] for k in keep} | {"findings": [(f["kind"], f["column"]) for f in body["quality_findings"]]}


def test_a_large_upload_is_accepted_at_once_and_registered_by_the_job(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    content = german_csv(300, subjects=250)
    seq = last_seq()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(cast.owner, "applicants", content, METADATA)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["size_bytes"], body["sha256"]) == ("queued", len(content), sha256_bytes(content))
    assert response["Location"] == body["location"] == f"{DATASETS}applicants/uploads/{body['id']}/"

    polled = cast.owner.client().get(body["location"]).json()
    assert (polled["status"], polled["version"], polled["error"]) == ("done", 1, "")
    version = cast.owner.client().get(f"{versions_url('applicants')}1/").json()

    # The same bytes uploaded synchronously register the same version.
    other = make_dataset(cast, "applicants-sync")
    assert other.pk
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.conf.settings.DATASET_PROFILE_IN_WORKER_BYTES", 0)
        direct = post(cast.owner, "applicants-sync", content, METADATA)
    assert direct.status_code == 201, direct.content
    assert comparable(version) == comparable(direct.json())
    # One registration event, by the uploader's token, as a synchronous upload records it.
    registered = events_since(seq, "dataset_version.registered")
    assert [e.payload["dataset"] for e in registered] == ["applicants", "applicants-sync"]
    assert registered[0].actor_user_id == cast.owner.user.pk


def test_a_file_the_worker_refuses_leaves_no_version_and_keeps_its_reason(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    content = german_csv(300) + b"1,2,3\n"  # a ragged last row
    seq = last_seq()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(cast.owner, "applicants", content, METADATA)
    assert response.status_code == 202, response.content
    polled = cast.owner.client().get(response.json()["location"]).json()
    assert polled["status"] == "refused"
    assert "Row 301 has 3 fields, the header has 22" in polled["error"]
    assert polled["version"] is None
    assert not DatasetVersion.objects.filter(dataset=applicants).exists()
    # The stored bytes stay with the refused upload (another upload of the same bytes shares their name).
    assert stored_names() == [DatasetUpload.objects.get().file]
    assert not [e for e in events_since(seq) if e.action.startswith("dataset")]


def test_what_the_web_node_can_check_is_refused_at_once(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    before, seq = db_state(), last_seq()
    response = post(cast.owner, "applicants", b"\x00\x01 not a table " * 100, METADATA, name="a.parquet")
    assert_error(response, 422)
    response = post(
        cast.owner,
        "applicants",
        german_csv(50),
        {**METADATA, "collected_from": "2025-02-01", "collected_to": "2025-01-01"},
    )
    assert_error(response, 422)
    assert db_state() == before
    assert last_seq() == seq
    assert not DatasetUpload.objects.exists()
    assert stored_names() == []


def test_another_teams_upload_is_not_found(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        location = post(cast.owner, "applicants", german_csv(100), METADATA).json()["location"]
    assert cast.outsider.client().get(location).status_code == 404
    assert cast.owner.client().get(location.replace("/uploads/", "/uploads/9").rstrip("/") + "/").status_code == 404


def test_a_job_delivered_again_registers_one_version(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        upload_id = post(cast.owner, "applicants", german_csv(100), METADATA).json()["id"]
    assert DatasetUpload.objects.get(pk=upload_id).status == "queued"
    # A live worker holds it (this process): a second delivery leaves it alone.
    DatasetUpload.objects.filter(pk=upload_id).update(
        status="running", holder=worker_identity(), claimed_at=timezone.now()
    )
    assert run_dataset_upload(upload_id) == "running"
    assert not DatasetVersion.objects.exists()
    # Its holder died (a process of this machine that no longer exists): the next delivery takes over, once.
    DatasetUpload.objects.filter(pk=upload_id).update(holder=dead_worker_identity())
    assert run_dataset_upload(upload_id) == "done"
    assert run_dataset_upload(upload_id) == "done"
    for callback in queued:
        callback()
    assert DatasetVersion.objects.filter(dataset=applicants).count() == 1


def test_a_worker_that_lost_its_claim_commits_nothing(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    """Judged gone while it profiled, a worker finds another holder at the end: its version is rolled back."""
    with django_capture_on_commit_callbacks(execute=False):
        upload_id = post(cast.owner, "applicants", german_csv(100), METADATA).json()["id"]
    real = uploads.do_register_dataset_version

    def taken_over_meanwhile(**kwargs: Any) -> Any:
        DatasetUpload.objects.filter(pk=upload_id).update(holder="another-host/1/1")
        return real(**kwargs)

    monkeypatch.setattr(uploads, "do_register_dataset_version", taken_over_meanwhile)
    assert run_dataset_upload(upload_id) == "running"
    assert not DatasetVersion.objects.exists()


def test_an_altered_stored_file_is_refused_not_registered(
    cast: Cast, applicants: Dataset, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        upload_id = post(cast.owner, "applicants", german_csv(100), METADATA).json()["id"]
    upload = DatasetUpload.objects.get(pk=upload_id)
    replace_stored(upload.file, german_csv(99))  # swapped in the store after the upload
    assert sha256_bytes(read_stored(upload.file)) != upload.sha256
    assert run_dataset_upload(upload_id) == "refused"
    upload.refresh_from_db()
    assert "could not be read back as it was uploaded" in upload.error
    assert not DatasetVersion.objects.filter(dataset=applicants).exists()
