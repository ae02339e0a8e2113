"""A large dataset upload in the embedded default: the web request stores the file and returns 202 with the job
queued; a real worker on the embedded broker profiles it into the version (docs/data.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.actions.uploads import JOB
from governance.data.models import DatasetUpload, DatasetVersion, UploadStatus
from tests.conftest import Cast
from tests.crash_helpers import wait_for
from tests.data.conftest import german_csv, make_dataset
from tests.data.datasets_api_helpers import versions_url
from tests.jobs.conftest import queued_messages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("workers")]


@pytest.mark.usefixtures("media", "unprotected_trail", "queueing")
def test_a_large_upload_returns_at_once_and_a_real_worker_registers_it(
    cast: Cast, start_worker: Any, settings: Any
) -> None:
    settings.DATASET_PROFILE_IN_WORKER_BYTES = 1000
    make_dataset(cast, "applicants")
    content = german_csv(300, subjects=250)
    metadata = {"subject_id_column": "applicant_id", "label_column": "credit_risk"}
    response = cast.owner.client().post(
        versions_url("applicants"),
        {"file": SimpleUploadedFile("a.csv", content, content_type="text/csv"), "metadata": json.dumps(metadata)},
        format="multipart",
    )
    # The request has returned with the file stored and the job queued; no worker has run yet.
    assert response.status_code == 202, response.content
    upload = DatasetUpload.objects.get()
    assert upload.status == UploadStatus.QUEUED
    assert [m for m in queued_messages() if JOB in m.read_text(errors="replace")]  # checkpoint jobs queue too
    assert not DatasetVersion.objects.exists()

    start_worker()
    wait_for(
        lambda: DatasetUpload.objects.filter(pk=upload.pk, status__in=["done", "refused"]).exists(),
        "the worker to profile the upload",
    )
    polled = cast.owner.client().get(response["Location"]).json()
    assert (polled["status"], polled["version"], polled["error"]) == ("done", 1, "")
    version = DatasetVersion.objects.get()
    assert (version.row_count, version.subject_count, version.sha256) == (300, 250, upload.sha256)
