"""Registering data in the portal (issue 19): a dataset, a version by upload with its quality profile shown when it
lands, and a lineage run, through the API's own actions (same trail events), refusals in the form's words and under
the field at fault, nothing changed by a refused request."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.models import Dataset, DatasetVersion, LineageRun
from governance.trail.models import Event
from tests.api import db_state
from tests.audits.conftest import FAILING_RATES, decision_rows, rows_csv
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version, media_root  # noqa: F401 - media_root
from tests.portal.conftest import signed_in
from tests.registry.conftest import register_model

pytestmark = pytest.mark.django_db

CSV = rows_csv(decision_rows(FAILING_RATES))  # 200 applicants, columns applicant_id, sex, age_band, income, ...


def text(response: Any) -> str:
    return unescape(response.content.decode("utf-8"))


def errors_of(page: str, field_id: str) -> str:
    """The error list under a field (``portal/_field.html``: ``<ul ... id="{id}-errors">``), '' when none."""
    marker = f'id="{field_id}-errors">'
    return page.split(marker, 1)[1].split("</ul>", 1)[0] if marker in page else ""


# --- a dataset -----------------------------------------------------------------------------------------------------


def test_an_owner_registers_a_dataset_with_the_apis_event(cast: Cast) -> None:
    owner = signed_in(cast.owner)
    form = text(owner.get("/data/datasets/new"))
    assert '<option value="credit-risk" selected>' in form  # their only team, chosen for them
    sent = owner.post("/data/datasets/new", {"name": "loan-applications", "team": "credit-risk", "description": "x"})
    assert sent.status_code == 302
    assert sent["Location"] == "/data/datasets/loan-applications/versions/new"
    dataset = Dataset.objects.get(name="loan-applications")
    assert (dataset.team.slug, dataset.created_by) == ("credit-risk", cast.owner.user)
    event = Event.objects.get(action="dataset.registered")
    assert event.payload == {"name": "loan-applications", "team": "credit-risk", "openlineage": None}
    assert event.actor_user_id == cast.owner.user.pk


def test_the_list_offers_registration_only_to_whom_may(cast: Cast) -> None:
    assert "Register a dataset" in text(signed_in(cast.owner).get("/data/datasets/"))
    assert "No datasets yet." in text(signed_in(cast.owner).get("/data/datasets/"))
    assert "Register a dataset" not in text(signed_in(cast.regulator).get("/data/datasets/"))
    assert signed_in(cast.regulator).get("/data/datasets/new").status_code == 403


def test_refusals_are_in_the_forms_words_under_their_field_and_change_nothing(cast: Cast) -> None:
    make_dataset(cast, "applications")
    owner = signed_in(cast.owner)
    state = db_state()
    duplicate = owner.post("/data/datasets/new", {"name": "applications", "team": "credit-risk"})
    assert duplicate.status_code == 409
    assert "A dataset named 'applications' already exists." in errors_of(text(duplicate), "id_name")
    half = owner.post("/data/datasets/new", {"name": "lake", "team": "credit-risk", "openlineage_namespace": "s3://x"})
    assert half.status_code == 422
    page = text(half)
    said = errors_of(page, "id_openlineage_name")
    assert "Give both “OpenLineage namespace” and “OpenLineage name”, or neither." in said
    assert "openlineage_" not in said + page.split('data-testid="form-error">', 1)[1].split("</p>", 1)[0]
    other_team = owner.post("/data/datasets/new", {"name": "lake", "team": "hiring"})
    assert other_team.status_code == 400
    assert "hiring is not one of the available choices" in errors_of(text(other_team), "id_team")
    assert db_state() == state
    make_dataset(cast, "lake-a", openlineage_namespace="s3://lake", openlineage_name="a")
    state = db_state()
    mapped = owner.post(
        "/data/datasets/new",
        {"name": "lake-b", "team": "credit-risk", "openlineage_namespace": "s3://lake", "openlineage_name": "a"},
    )
    assert mapped.status_code == 409
    said = errors_of(text(mapped), "id_openlineage_name")
    assert "Another dataset is already mapped to OpenLineage s3://lake/a." in said
    assert db_state() == state


# --- a version -----------------------------------------------------------------------------------------------------


def test_an_upload_lands_on_its_version_page_with_the_quality_profile(cast: Cast, media_root: Any) -> None:  # noqa: F811
    make_dataset(cast, "applications")
    owner = signed_in(cast.owner)
    page = text(owner.get("/data/datasets/applications/versions/new"))
    assert "Upload applications v1" in page
    assert 'id="dataset-dropzone"' in page
    upload = SimpleUploadedFile("applications.csv", CSV, content_type="text/csv")
    sent = owner.post(
        "/data/datasets/applications/versions/new",
        {
            "file": upload,
            "delimiter": ",",
            "subject_id_column": "applicant_id",
            "label_column": "label",
            "missing_markers": "NA, ?",
            "licence": "CC BY 4.0",
            "collected_from": "2026-01-01",
        },
    )
    assert sent.status_code == 302, text(sent)[:3000]
    assert sent["Location"] == "/data/datasets/applications/versions/1/"
    version = DatasetVersion.objects.get(dataset__name="applications", number=1)
    assert (version.row_count, version.subject_count, version.label_column) == (200, 200, "label")
    assert version.licence == "CC BY 4.0"
    assert str(version.collected_from) == "2026-01-01"
    event = Event.objects.get(action="dataset_version.registered")
    assert (event.payload["rows"], event.payload["subjects"], event.payload["format"]) == (200, 200, "csv")
    landed = text(owner.get(sent["Location"]))
    assert "applications v1 is registered (200 rows, " in landed
    assert "Quality profile" in landed
    assert "Label balance" in landed
    # The label agrees with the decision but on every 7th row: F has 25-4+11 = 32 ones, M 50-8+7 = 49; 81 in all.
    assert "Label balance</dt><dd>0: 119, 1: 81 (minority 0.41)" in landed


def test_a_file_that_is_not_data_is_refused_under_the_file_field(cast: Cast, media_root: Any) -> None:  # noqa: F811
    make_dataset(cast, "applications")
    owner = signed_in(cast.owner)
    state = db_state()
    zipped = SimpleUploadedFile("data.csv", b"PK\x03\x04" + bytes(200), content_type="text/csv")
    sent = owner.post("/data/datasets/applications/versions/new", {"file": zipped, "delimiter": ",", "source": "crm"})
    assert sent.status_code == 422
    page = text(sent)
    said = errors_of(page, "id_file")
    assert said.startswith("<li>Data file (CSV or Parquet): data.csv was refused: ")
    assert said.rstrip("</li>\n").endswith("Choose a file again.")
    assert 'value="crm"' in page  # what was typed is kept
    assert db_state() == state


def test_a_missing_subject_column_and_dates_the_wrong_way_round_are_said_in_labels(
    cast: Cast,
    media_root: Any,  # noqa: F811
) -> None:
    make_dataset(cast, "applications")
    owner = signed_in(cast.owner)
    state = db_state()
    dates = owner.post(
        "/data/datasets/applications/versions/new",
        {
            "file": SimpleUploadedFile("a.csv", CSV),
            "delimiter": ",",
            "collected_from": "2026-02-01",
            "collected_to": "2026-01-01",
        },
    )
    assert dates.status_code == 422
    assert "“Collected from” is after “Collected to”." in errors_of(text(dates), "id_collected_from")
    column = owner.post(
        "/data/datasets/applications/versions/new",
        {"file": SimpleUploadedFile("a.csv", CSV), "delimiter": ",", "subject_id_column": "customer"},
    )
    assert column.status_code == 422
    assert "customer" in errors_of(text(column), "id_subject_id_column")
    neither = owner.post("/data/datasets/applications/versions/new", {"delimiter": ","})
    assert neither.status_code == 400
    assert "Choose a file, or give the URI where the data lives." in errors_of(text(neither), "id_file")
    secret = owner.post(
        "/data/datasets/applications/versions/new", {"delimiter": ",", "external_uri": "s3://me:pw@lake/a.parquet"}
    )
    assert secret.status_code == 400
    assert "must not carry credentials" in errors_of(text(secret), "id_external_uri")
    assert db_state() == state


def test_an_upload_over_the_limit_is_refused_before_the_body_is_read(
    cast: Cast,
    media_root: Any,  # noqa: F811
    settings: Any,
) -> None:
    make_dataset(cast, "applications")
    settings.DATASET_MAX_BYTES = 1024
    owner = signed_in(cast.owner)
    big = SimpleUploadedFile("big.csv", b"a,b\n" + b"1,2\n" * 400_000)
    sent = owner.post("/data/datasets/applications/versions/new", {"file": big, "delimiter": ","})
    assert sent.status_code == 413
    assert "a dataset file may have at most 1,024 bytes" in text(sent)
    assert not DatasetVersion.objects.exists()


def test_another_teams_dataset_is_404(cast: Cast) -> None:
    make_dataset(cast, "roles", team="hiring")
    assert signed_in(cast.owner).get("/data/datasets/roles/versions/new").status_code == 404


# --- a lineage run -------------------------------------------------------------------------------------------------


def test_a_lineage_run_is_recorded_with_the_apis_event_and_shown(cast: Cast, media_root: Any) -> None:  # noqa: F811
    raw = make_dataset(cast, "raw-applications")
    clean = make_dataset(cast, "applications")
    make_file_version(cast, raw, CSV, name="raw.csv")
    make_file_version(cast, clean, CSV, name="clean.csv")
    owner = signed_in(cast.owner)
    offered = text(owner.get("/data/lineage/runs/new?output=applications@1"))
    assert '<option value="applications@1" selected>applications v1</option>' in offered
    sent = owner.post(
        "/data/lineage/runs/new",
        {
            "job_name": "clean-applications",
            "job_namespace": "assay",
            "code_ref": "abc123",
            "inputs": ["raw-applications@1"],
            "outputs": ["applications@1"],
        },
    )
    assert sent.status_code == 302
    assert sent["Location"] == "/data/datasets/applications/versions/1/"
    run = LineageRun.objects.get()
    assert (run.job_name, run.code_ref, run.source) == ("clean-applications", "abc123", "api")
    event = Event.objects.get(action="lineage_run.recorded")
    assert (event.payload["inputs"], event.payload["outputs"]) == (
        ["dataset:raw-applications/v1"],
        ["dataset:applications/v1"],
    )
    page = text(owner.get(sent["Location"]))
    assert "Lineage run assay/clean-applications is recorded (1 input(s))." in page


def test_a_run_that_would_loop_or_has_no_output_is_refused_in_words(cast: Cast, media_root: Any) -> None:  # noqa: F811
    raw = make_dataset(cast, "raw-applications")
    make_file_version(cast, raw, CSV, name="raw.csv")
    make_file_version(cast, raw, CSV + b"", name="raw2.csv")
    owner = signed_in(cast.owner)
    owner.post(
        "/data/lineage/runs/new",
        {
            "job_name": "a",
            "job_namespace": "assay",
            "inputs": ["raw-applications@1"],
            "outputs": ["raw-applications@2"],
        },
    )
    state = db_state()
    loop = owner.post(
        "/data/lineage/runs/new",
        {
            "job_name": "b",
            "job_namespace": "assay",
            "inputs": ["raw-applications@2"],
            "outputs": ["raw-applications@1"],
        },
    )
    assert loop.status_code == 422
    assert "lineage must not loop" in errors_of(text(loop), "id_outputs")
    nothing = owner.post("/data/lineage/runs/new", {"job_name": "c", "job_namespace": "assay"})
    assert nothing.status_code == 400
    assert "Choose at least one dataset version it wrote" in errors_of(text(nothing), "id_outputs")
    both = owner.post(
        "/data/lineage/runs/new",
        {
            "job_name": "d",
            "job_namespace": "assay",
            "inputs": ["raw-applications@1"],
            "outputs": ["raw-applications@1"],
        },
    )
    assert both.status_code == 422
    assert "cannot be both an input and an output" in errors_of(text(both), "id_outputs")
    unseen = owner.post("/data/lineage/runs/new", {"job_name": "e", "job_namespace": "assay", "outputs": ["roles@1"]})
    assert unseen.status_code == 400  # not offered: another team's, or not there
    assert db_state() == state


def test_a_version_naming_an_unknown_training_dataset_is_refused_in_the_forms_words(cast: Cast) -> None:
    """The registry's version form shows the data action's refusal with its own label, not ``training_datasets[0]``."""
    register_model(cast, "high")
    state = db_state()
    sent = signed_in(cast.owner).post(
        "/models/credit-scoring/versions/new", {"input_features": "income", "training_datasets": "nowhere/1"}
    )
    assert sent.status_code == 422
    page = text(sent)
    said = "“Training datasets” (item 1): there is no dataset version nowhere v1 that you can see."
    assert said in errors_of(page, "id_training_datasets")
    assert "training_datasets[" not in page
    assert db_state() == state


def test_the_quality_findings_of_an_upload_are_shown_when_it_lands(cast: Cast, media_root: Any) -> None:  # noqa: F811
    """Missing values marked "NA" (the form's own marker field) are counted and said on the version page."""
    make_dataset(cast, "applications")
    rows = decision_rows(FAILING_RATES)
    for row in rows[:20]:
        row["income"] = "NA"
    owner = signed_in(cast.owner)
    sent = owner.post(
        "/data/datasets/applications/versions/new",
        {"file": SimpleUploadedFile("a.csv", rows_csv(rows)), "delimiter": ",", "missing_markers": "NA"},
    )
    assert sent.status_code == 302, text(sent)[:3000]
    version = DatasetVersion.objects.get(dataset__name="applications")
    findings = list(version.quality_findings.values_list("kind", "column", "severity"))
    assert ("missing_values", "income", "warning") in findings  # 10% missing, above the 5% warning line
    landed = text(owner.get(sent["Location"]))
    assert f"applications v1 is registered (200 rows, {len(findings)} quality finding(s))." in landed
    assert "20 of 200 values (10.0%) in column 'income' are missing." in landed
