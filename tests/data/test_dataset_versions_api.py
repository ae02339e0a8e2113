"""Dataset versions over HTTP: uploads (CSV, Parquet) and external versions, the subject index (pseudonyms only),
and bad input that is named and loses nothing.

Every success is checked for its body, its rows and its trail event; every refusal for its error, the field at
fault, and that nothing changed (the trail and the stored files included).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from governance.data.models import Dataset, DatasetSubject, DatasetVersion, QualityFinding
from tests.api import db_state, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import (
    GERMAN_COLUMNS,
    applicant_id,
    database_text,
    german_csv,
    german_rows,
    make_dataset,
    make_external_version,
    pseudonym,
    refused,
    sha256_bytes,
)
from tests.data.datasets_api_helpers import DATASETS, only_event, versions_url
from tests.storage_files import read_stored, stored_names

METADATA = {
    "subject_id_column": "applicant_id",
    "label_column": "credit_risk",
    "source": "UCI Statlog (German Credit Data), first rows",
    "licence": "CC-BY-4.0",
    "collected_from": "1994-01-01",
    "collected_to": "1994-12-31",
}


def upload(
    member: Member, dataset: str, content: bytes, metadata: dict[str, Any] | str | None = None, **extra: Any
) -> Any:
    """POST a multipart upload: ``file`` (named by ``filename``, default applicants.csv) and ``metadata``."""
    fields: dict[str, Any] = {
        "file": SimpleUploadedFile(extra.pop("filename", "applicants.csv"), content, content_type="text/csv")
    }
    if metadata is not None:
        fields["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return member.client().post(versions_url(dataset), {**fields, **extra}, format="multipart")


# --- versions: uploads -----------------------------------------------------------------------------------------


def test_a_csv_upload_is_hashed_profiled_and_its_subjects_indexed_by_pseudonym(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    content = german_csv(300, subjects=250)  # the last 50 rows are second applications of applicants 1-50
    seq = last_seq()

    response = upload(cast.owner, "applicants", content, METADATA)

    assert response.status_code == 201, response.content
    body = response.json()
    digest = sha256_bytes(content)
    assert {k: body[k] for k in ("dataset", "number", "format", "sha256", "size_bytes", "row_count")} == {
        "dataset": "applicants",
        "number": 1,
        "format": "csv",
        "sha256": digest,
        "size_bytes": len(content),
        "row_count": 300,
    }
    assert {k: body[k] for k in METADATA} == METADATA
    assert (body["subject_count"], body["original_name"], body["created_by"]) == (250, "applicants.csv", "omar")
    assert [c["name"] for c in body["schema"]] == ["applicant_id", *GERMAN_COLUMNS]
    dtypes = {c["name"]: c["dtype"] for c in body["schema"]}
    assert (dtypes["applicant_id"], dtypes["checking_status"], dtypes["credit_amount"]) == ("string", "string", "int64")
    assert not any(c["nullable"] for c in body["schema"])
    # The profile, against what the rows say.
    rows = german_rows(300)
    assert (body["profile"]["rows"], body["profile"]["columns"], body["profile"]["duplicate_rows"]) == (300, 22, 0)
    labels = Counter(row[-1] for row in rows)
    assert body["profile"]["label"]["counts"] == dict(labels)
    amounts = numpy.array([int(row[GERMAN_COLUMNS.index("credit_amount")]) for row in rows])
    q1, q3 = numpy.percentile(amounts, [25, 75])
    outside = int(((amounts < q1 - 1.5 * (q3 - q1)) | (amounts > q3 + 1.5 * (q3 - q1))).sum())
    assert body["profile"]["outliers"]["credit_amount"]["count"] == outside
    version = DatasetVersion.objects.get(dataset=applicants, number=1)
    # Quality findings: in the body, in the database, and counted in the trail.
    stored_findings = list(QualityFinding.objects.filter(version=version).values("kind", "column", "severity"))
    assert [{k: f[k] for k in ("kind", "column", "severity")} for f in body["quality_findings"]] == stored_findings
    assert {"kind": "outliers", "column": "credit_amount", "severity": "info"} in stored_findings
    # The subject index holds exactly the pseudonyms of the distinct ids.
    indexed = set(DatasetSubject.objects.filter(version=version).values_list("pseudonym", flat=True))
    assert indexed == {pseudonym(applicant_id(n)) for n in range(1, 251)}
    # The file is stored once, under its hash, byte for byte.
    assert body["location"] == f"storage:{version.file.name}"
    assert stored_names() == [version.file.name]
    assert read_stored(version.file.name) == content
    assert only_event(seq) == (
        "dataset_version.registered",
        {
            "dataset": "applicants",
            "version": 1,
            "sha256": digest,
            "size": len(content),
            "rows": 300,
            "format": "csv",
            "external_uri": None,
            "subjects": 250,
            "findings": len(stored_findings),
        },
    )


def test_raw_subject_ids_are_stored_nowhere_in_the_database(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    response = upload(cast.owner, "applicants", german_csv(120), METADATA)
    assert response.status_code == 201, response.content

    stored = database_text()

    assert b"DE-APPL-" not in stored  # neither in the index, the profile, the findings nor the trail
    assert pseudonym(applicant_id(1)).encode() in stored  # the search does reach the subject index


def test_a_parquet_upload_is_read_with_its_own_types(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    rows = german_rows(200)
    table = pa.table(
        {
            "applicant_id": pa.array([applicant_id(n) for n in range(1, 201)], pa.string()),
            "credit_amount": pa.array([int(r[4]) for r in rows], pa.int32()),
            "age": pa.array([float(r[12]) for r in rows], pa.float64()),
            "purpose": pa.array([r[3] for r in rows], pa.string()),
            "credit_risk": pa.array([int(r[20]) for r in rows], pa.int8()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    content = sink.getvalue()
    seq = last_seq()

    response = upload(cast.owner, "applicants", content, METADATA, filename="applicants.parquet")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["format"], body["sha256"], body["row_count"], body["subject_count"]) == (
        "parquet",
        sha256_bytes(content),
        200,
        200,
    )
    assert [(c["name"], c["dtype"]) for c in body["schema"]] == [
        ("applicant_id", "string"),
        ("credit_amount", "int32"),
        ("age", "double"),
        ("purpose", "string"),
        ("credit_risk", "int8"),
    ]
    assert body["profile"]["label"]["counts"] == dict(Counter(r[20] for r in rows))
    version = DatasetVersion.objects.get(dataset=applicants)
    assert DatasetSubject.objects.filter(version=version).count() == 200
    assert read_stored(version.file.name) == content
    action, payload = only_event(seq)
    assert (action, payload["format"], payload["sha256"], payload["subjects"]) == (
        "dataset_version.registered",
        "parquet",
        sha256_bytes(content),
        200,
    )


def test_an_external_version_is_recorded_as_given(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    schema = [
        {"name": "applicant_id", "dtype": "string", "nullable": False},
        {"name": "credit_amount", "dtype": "int64", "nullable": True},
    ]
    body = {
        "external_uri": "s3://lending-lake/applicants/2026-01.parquet",
        "sha256": "ab" * 32,
        "row_count": 1_250_000,
        "schema": schema,
        "source": "core banking export",
        "licence": "internal",
    }
    seq = last_seq()

    response = cast.owner.client().post(versions_url("applicants"), body, format="json")

    assert response.status_code == 201, response.content
    answered = response.json()
    assert {k: answered[k] for k in ("number", "format", "sha256", "row_count", "schema", "location")} == {
        "number": 1,
        "format": "external",
        "sha256": "ab" * 32,
        "row_count": 1_250_000,
        "schema": schema,
        "location": "s3://lending-lake/applicants/2026-01.parquet",
    }
    assert (answered["size_bytes"], answered["subject_count"], answered["profile"]) == (None, None, {})
    version = DatasetVersion.objects.get(dataset=applicants)
    assert (version.external_uri, version.file.name, version.source) == (
        body["external_uri"],
        "",
        "core banking export",
    )
    assert not DatasetSubject.objects.exists()
    assert stored_names() == []
    assert only_event(seq) == (
        "dataset_version.registered",
        {
            "dataset": "applicants",
            "version": 1,
            "sha256": "ab" * 32,
            "size": None,
            "rows": 1_250_000,
            "format": "external",
            "external_uri": "s3://lending-lake/applicants/2026-01.parquet",
            "subjects": None,
            "findings": 0,
        },
    )


def test_version_numbers_count_up_per_dataset(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    other = make_dataset(cast, "bureau-scores")
    make_external_version(cast, other)
    client = cast.owner.client()

    numbers = [
        client.post(versions_url("applicants"), {"external_uri": "s3://a/1"}, format="json").json()["number"],
        upload(cast.owner, "applicants", german_csv(20), METADATA).json()["number"],
        client.post(versions_url("applicants"), {"external_uri": "s3://a/3"}, format="json").json()["number"],
    ]

    assert numbers == [1, 2, 3]
    listed = client.get(versions_url("applicants")).json()["results"]
    assert [(v["number"], v["format"]) for v in listed] == [(1, "external"), (2, "csv"), (3, "external")]
    assert list(DatasetVersion.objects.filter(dataset=other).values_list("number", flat=True)) == [1]


def test_identical_bytes_are_stored_once(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    content = german_csv(30)

    first = upload(cast.owner, "applicants", content, METADATA)
    second = upload(cast.ci, "applicants", content, METADATA, filename="again.csv")

    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["number"], second.json()["number"]) == (1, 2)
    assert len(stored_names()) == 1
    assert DatasetSubject.objects.count() == 60  # each version has its own index


def test_an_outsider_cannot_add_a_version_to_another_teams_dataset(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    refused(lambda: upload(cast.outsider, "applicants", german_csv(10), METADATA), 404, "not_found")

    assert stored_names() == []


def test_a_semicolon_separated_file_is_read_when_the_delimiter_says_so(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    response = upload(cast.owner, "applicants", german_csv(40, delimiter=";"), {**METADATA, "delimiter": ";"})

    assert response.status_code == 201, response.content
    assert (response.json()["row_count"], response.json()["subject_count"], len(response.json()["schema"])) == (
        40,
        40,
        22,
    )


def test_an_excel_utf8_export_with_bom_and_crlf_is_read(cast: Cast, applicants: Dataset, media_root: Path) -> None:
    content = b"\xef\xbb\xbf" + german_csv(40).replace(b"\n", b"\r\n")

    response = upload(cast.owner, "applicants", content, METADATA)

    assert response.status_code == 201, response.content
    assert response.json()["schema"][0]["name"] == "applicant_id"
    assert response.json()["sha256"] == sha256_bytes(content)  # the bytes as uploaded, BOM and all
    version = DatasetVersion.objects.get(dataset=applicants)
    assert set(DatasetSubject.objects.filter(version=version).values_list("pseudonym", flat=True)) == {
        pseudonym(applicant_id(n)) for n in range(1, 41)
    }


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("reviewer", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
    ],
)
def test_who_may_not_write_datasets_or_versions(
    cast: Cast, applicants: Dataset, who: str, status: int, code: str
) -> None:
    client = APIClient() if who == "anonymous" else getattr(cast, who).client()

    refused(lambda: client.post(DATASETS, {"name": "more", "team": "credit-risk"}, format="json"), status, code)
    refused(lambda: client.post(versions_url("applicants"), {"external_uri": "s3://a/1"}, format="json"), status, code)


def test_a_version_is_read_back_by_number(cast: Cast, applicants: Dataset) -> None:
    make_external_version(cast, applicants, sha256="cd" * 32)

    found = cast.reviewer.client().get(f"{versions_url('applicants')}1/")
    missing = cast.reviewer.client().get(f"{versions_url('applicants')}2/")

    assert (found.status_code, found.json()["sha256"]) == (200, "cd" * 32)
    assert missing.status_code == 404


# --- versions: bad input is named and loses nothing ------------------------------------------------------------


def latin1_csv() -> bytes:
    text = german_csv(40).decode("utf-8").replace("DE-APPL-0007,A14", "DE-APPL-0007,Müller", 1)
    return text.encode("latin-1")


def ragged_csv() -> bytes:
    lines = german_csv(40).decode("utf-8").splitlines()
    lines[13] += ",extra"  # data row 13
    return ("\n".join(lines) + "\n").encode("utf-8")


BAD_UPLOADS = {
    # name: (content, filename, metadata, field, words the message must hold)
    "semicolons-with-the-default-comma": (german_csv(40, delimiter=";"), "a.csv", METADATA, "delimiter", "';'"),
    "latin-1-not-utf-8": (latin1_csv(), "a.csv", METADATA, "file", "UTF-8"),
    "non-ascii-delimiter": (
        german_csv(40, delimiter="é"),
        "a.csv",
        {**METADATA, "delimiter": "é"},
        "delimiter",
        "one ASCII character",
    ),
    "ragged-row": (ragged_csv(), "a.csv", METADATA, "file", "Row 13 has 23 fields, the header has 22"),
    "missing-subject-id-column": (
        german_csv(40),
        "a.csv",
        {**METADATA, "subject_id_column": "customer_id"},
        "subject_id_column",
        "'customer_id' is not in the file",
    ),
    "missing-label-column": (
        german_csv(40),
        "a.csv",
        {**METADATA, "label_column": "Credit_Risk"},
        "label_column",
        "Did you mean 'credit_risk'?",
    ),
    "a-parquet-name-on-csv-bytes": (german_csv(40), "a.parquet", METADATA, "file", "not a Parquet file"),
    "file-and-external-uri": (
        german_csv(40),
        "a.csv",
        {"external_uri": "s3://lake/a.csv"},
        "external_uri",
        "not both",
    ),
    "unknown-metadata-field": (german_csv(40), "a.csv", {**METADATA, "licence_url": "x"}, "licence_url", "recognised"),
    "malformed-metadata-json": (german_csv(40), "a.csv", '{"source": ', "metadata", "Not valid JSON"),
    "collected-backwards": (
        german_csv(40),
        "a.csv",
        {**METADATA, "collected_from": "2026-02-01", "collected_to": "2026-01-01"},
        "collected_from",
        "after",
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_names_its_field_and_writes_nothing(
    cast: Cast, applicants: Dataset, media_root: Path, case: str
) -> None:
    content, filename, metadata, field, words = BAD_UPLOADS[case]

    error = refused(lambda: upload(cast.owner, "applicants", content, metadata, filename=filename), 422)

    assert field in error["details"], error
    assert words in error["message"], error
    assert "DE-APPL" not in json.dumps(error)  # messages never quote cell values
    assert stored_names() == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "file", "either a file or an external_uri"),
        ({"source": "nowhere"}, "file", "either a file or an external_uri"),
        ({"external_uri": "lake/applicants.parquet"}, "external_uri", "needs a scheme"),
        (
            {"external_uri": "s3://lake/a.parquet", "subject_id_column": "applicant_id"},
            "subject_id_column",
            "needs the file",
        ),
        ({"external_uri": "s3://lake/a.parquet", "sha256": "not-a-hash"}, "sha256", ""),
        ({"external_uri": "s3://lake/a.parquet", "row_count": -1}, "row_count", ""),
    ],
    ids=["neither", "metadata-only", "uri-without-scheme", "subject-column-on-uri", "bad-sha256", "negative-rows"],
)
def test_a_bad_json_version_names_its_field_and_writes_nothing(
    cast: Cast, applicants: Dataset, body: dict[str, Any], field: str, words: str
) -> None:
    error = refused(lambda: cast.owner.client().post(versions_url("applicants"), body, format="json"), 422)

    assert field in error["details"], error
    assert words in error["message"], error


def test_neither_file_nor_uri_in_a_multipart_form_is_refused(cast: Cast, applicants: Dataset) -> None:
    error = refused(
        lambda: cast.owner.client().post(
            versions_url("applicants"), {"metadata": json.dumps(METADATA)}, format="multipart"
        ),
        422,
    )

    assert "file" in error["details"]


def test_a_body_far_above_the_dataset_limit_is_refused_before_it_is_read(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    with override_settings(DATASET_MAX_BYTES=1024):
        # The limit, the 1 MiB allowed for multipart framing, and one more MiB.
        error = refused(lambda: upload(cast.owner, "applicants", b"a,b\n" + b"1,2\n" * 530_000), 413)

    assert error["code"] == "payload_too_large"
    assert stored_names() == []


def test_a_file_above_the_dataset_limit_is_413_and_nothing_is_written(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    content = german_csv(100)
    assert len(content) > 4096

    with override_settings(DATASET_MAX_BYTES=4096):
        error = refused(lambda: upload(cast.owner, "applicants", content, METADATA), 413)

    assert any(size in error["message"] for size in ("4096", "4,096", "4 KiB")), error
    assert stored_names() == []


def test_an_unclosed_quote_is_refused_naming_its_line_and_nothing_is_stored(
    cast: Cast, applicants: Dataset, media_root: Path
) -> None:
    # Arrow would read everything after the opening quote as one value: rows 2 to 40 merged into row 1.
    lines = german_csv(40).split(b"\n")
    head, _, last = lines[2].rpartition(b",")
    lines[2] = head + b',"' + last  # the quote opens the row's last value
    before = db_state()
    response = upload(cast.owner, "applicants", b"\n".join(lines), METADATA)
    assert response.status_code == 422, response.content
    message = response.json()["error"]["message"]
    assert "never closed" in message
    assert "line 3" in message
    assert db_state() == before
