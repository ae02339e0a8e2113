"""POST /api/v1/consent/events/bulk: the whole CSV or nothing, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.models import ConsentEvent, ConsentImport
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import API, make_purpose, pseudonym, sha256_bytes

GOOD = (
    b"external_id,purpose,kind,occurred_at,source,pii_categories\n"
    b"DE-0001,model_training,given,2026-01-10T09:00:00+01:00,web,email;income\n"
    b"DE-0002,model_training,given,2026-01-10T09:05:00Z,web,email\n"
    b"DE-0001,model_training,withdrawn,2026-02-01T10:00:00Z,portal,\n"
)


def post(client: Any, content: bytes, name: str = "consents.csv") -> Any:
    return client.post(
        f"{API}/consent/events/bulk", {"file": SimpleUploadedFile(name, content, "text/csv")}, format="multipart"
    )


@pytest.mark.django_db
def test_an_officer_imports_a_csv_and_one_event_commits_to_it(cast: Cast) -> None:
    make_purpose(cast)
    seq = last_seq()

    response = post(cast.officer.client(), GOOD)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rows"], body["subjects"], body["sha256"]) == (3, 2, sha256_bytes(GOOD))
    batch = ConsentImport.objects.get(pk=body["batch"])
    stored = ConsentEvent.objects.filter(batch=batch).order_by("occurred_at")
    assert [(e.subject_id, e.kind) for e in stored] == [
        (pseudonym("DE-0001"), "given"),
        (pseudonym("DE-0002"), "given"),
        (pseudonym("DE-0001"), "withdrawn"),
    ]
    [imported] = events_since(seq, "consent.imported")
    assert imported.payload["sha256"] == sha256_bytes(GOOD)
    assert imported.payload["rows"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD.replace(b"+01:00", b""), "occurred_at"),
        (GOOD.replace(b"model_training,given,2026-01-10T09:05", b"marketing,given,2026-01-10T09:05"), "marketing"),
        (b"", "empty"),
        (GOOD.replace(b"DE-0002", "Jos\u00e9".encode("latin-1")), "UTF-8"),
    ],
    ids=["naive-time", "unknown-purpose", "empty", "latin-1"],
)
def test_a_bad_file_is_refused_whole_naming_the_problem(cast: Cast, content: bytes, expected: str) -> None:
    make_purpose(cast)
    before, seq = db_state(), last_seq()

    error = assert_error(post(cast.officer.client(), content), 422)

    assert expected.lower() in error["message"].lower()
    assert db_state() == before
    assert events_since(seq) == []


@pytest.mark.django_db
def test_the_file_field_is_required(cast: Cast) -> None:
    error = assert_error(cast.officer.client().post(f"{API}/consent/events/bulk", {}, format="multipart"), 422)
    assert "file" in error["details"]


@pytest.mark.django_db
@pytest.mark.parametrize("member", ["owner", "reviewer", "ci", "regulator"])
def test_only_consent_keepers_import(cast: Cast, member: str) -> None:
    make_purpose(cast)
    before = db_state()
    assert_error(post(getattr(cast, member).client(), GOOD), 403)
    assert db_state() == before
