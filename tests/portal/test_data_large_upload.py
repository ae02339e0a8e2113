"""A large dataset upload in the portal (issue 25): stored at once, profiled by a job worker, followed on the
dataset's page until its version is registered; the page polls only while an upload is in progress."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.actions.uploads import run_dataset_upload
from governance.data.models import DatasetUpload, DatasetVersion
from tests.audits.conftest import FAILING_RATES, decision_rows, rows_csv
from tests.conftest import Cast
from tests.data.conftest import make_dataset, media_root  # noqa: F401 - media_root
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db

CSV = rows_csv(decision_rows(FAILING_RATES))


def test_a_large_upload_is_handed_to_a_worker_and_followed_on_the_dataset_page(
    cast: Cast,
    media_root: Any,  # noqa: F811
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.DATASET_PROFILE_IN_WORKER_BYTES = 1000
    make_dataset(cast, "applications")
    owner = signed_in(cast.owner)
    with django_capture_on_commit_callbacks(execute=False):  # the job waits for a worker
        sent = owner.post(
            "/data/datasets/applications/versions/new",
            {
                "file": SimpleUploadedFile("applications.csv", CSV, content_type="text/csv"),
                "delimiter": ",",
                "subject_id_column": "applicant_id",
                "label_column": "label",
            },
        )
    assert sent.status_code == 302, unescape(sent.content.decode())[:2000]
    assert sent["Location"] == "/data/datasets/applications/"
    upload = DatasetUpload.objects.get()
    assert not DatasetVersion.objects.exists()
    page = unescape(owner.get(sent["Location"]).content.decode())
    assert "applications.csv is stored. A worker is profiling it" in page
    assert 'data-upload-status="queued"' in page
    assert 'hx-get="/data/datasets/applications/?part=uploads" hx-trigger="every 2s"' in page

    assert run_dataset_upload(upload.pk) == "done"  # what the worker runs
    panel = unescape(owner.get("/data/datasets/applications/?part=uploads").content.decode())
    assert 'data-upload-status="done"' in panel
    assert '<a href="/data/datasets/applications/versions/1/">v1</a>' in panel
    assert "hx-trigger" not in panel  # nothing left to follow
    assert DatasetVersion.objects.get().row_count == 200
