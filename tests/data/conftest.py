"""Arrangements shared by the data-governance API tests: a small slice of UCI German Credit as CSV (with subject
ids), datasets and versions arranged through the actions, purposes and consent events, and model versions trained
on dataset versions.

Everything is arranged through the data and registry actions, as the cast's members, so the trail holds what it
would hold in production and a test can count the events its own request added. Nothing here is autouse.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from governance.access.models import Team
from governance.data import actions as data
from governance.data import crypto
from governance.data.models import Dataset, DatasetVersion, Purpose
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion, RegisteredModel
from tests import KNOWN_ANSWER_DATA
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.registry.conftest import register_model

API = "/api/v1"
TEAM = "credit-risk"
OTHER_TEAM = "hiring"
# UCI Statlog German Credit: 20 attributes (german.doc) and the label (1 good, 2 bad).
GERMAN_COLUMNS = [
    "checking_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit_risk",
]


def acting(member: Member) -> Actor:
    """The trail actor of a cast member acting in person."""
    return Actor.for_user(member.user)


def pseudonym(external_id: str) -> str:
    """A subject's pseudonym, computed here from the crypto module and the settings' key (not by the app's API)."""
    return crypto.pseudonym(external_id, key=settings.PSEUDONYM_KEY.encode("utf-8"))


def applicant_id(number: int) -> str:
    """The external id of applicant ``number`` in the CSV slices below (``DE-APPL-0001``...)."""
    return f"DE-APPL-{number:04d}"


def german_rows(rows: int) -> list[list[str]]:
    """The first ``rows`` records of german.data, split into their 21 fields."""
    lines = (KNOWN_ANSWER_DATA / "german.data").read_text(encoding="ascii").splitlines()
    return [line.split() for line in lines[:rows]]


def german_csv(rows: int = 300, *, subjects: int | None = None, first_id: int = 1, delimiter: str = ",") -> bytes:
    """The first ``rows`` applicants as CSV with an ``applicant_id`` column first, numbered from ``first_id``; with
    ``subjects`` fewer than ``rows``, ids repeat (row i is applicant ``first_id + i % subjects``), as when one
    person applies twice."""
    distinct = subjects or rows
    lines = [delimiter.join(["applicant_id", *GERMAN_COLUMNS])]
    for index, fields in enumerate(german_rows(rows)):
        lines.append(delimiter.join([applicant_id(first_id + index % distinct), *fields]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Stored dataset files go to a directory of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- datasets and versions, arranged through the actions -------------------------------------------------------


def make_dataset(cast: Cast, name: str, *, team: str = TEAM, by: Member | None = None, **extra: Any) -> Dataset:
    """A dataset registered by ``by`` (default: the credit-risk owner; the outsider for team hiring)."""
    member = by or (cast.outsider if team == OTHER_TEAM else cast.owner)
    return data.do_register_dataset(
        user=member.user, actor=acting(member), name=name, team=Team.objects.get(slug=team), **extra
    )


def make_external_version(cast: Cast, dataset: Dataset, *, by: Member | None = None, **extra: Any) -> DatasetVersion:
    """The next version of ``dataset``, stored elsewhere (an external URI)."""
    member = by or (cast.outsider if dataset.team.slug == OTHER_TEAM else cast.owner)
    number = DatasetVersion.objects.filter(dataset=dataset).count() + 1
    extra.setdefault("external_uri", f"s3://lake/{dataset.name}/v{number}.parquet")
    return data.do_register_dataset_version(dataset=dataset, user=member.user, actor=acting(member), **extra)


def make_file_version(
    cast: Cast, dataset: Dataset, content: bytes, *, name: str = "applicants.csv", **metadata: Any
) -> DatasetVersion:
    """The next version of ``dataset`` from file bytes (needs the ``media_root`` fixture)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(content)
        return data.do_register_dataset_version(
            dataset=dataset, user=cast.owner.user, actor=acting(cast.owner), file_path=path, file_name=name, **metadata
        )


def make_run(
    cast: Cast,
    job: str,
    *,
    inputs: Sequence[DatasetVersion] = (),
    outputs: Sequence[DatasetVersion] = (),
    models: Sequence[ModelVersion] = (),
    by: Member | None = None,
) -> Any:
    """A lineage run recorded through the action (default: by the cast's CI pipeline, in no team, which sees every
    team)."""
    member = by or cast.ci
    return data.do_record_run(
        user=member.user,
        actor=acting(member),
        job_name=job,
        inputs=list(inputs),
        outputs=list(outputs),
        model_outputs=list(models),
    )


# --- models trained on dataset versions ------------------------------------------------------------------------


def make_model(cast: Cast, name: str, tier: str = "minimal") -> RegisteredModel:
    """A model of team credit-risk registered by its owner."""
    return register_model(cast, tier, name=name)


def make_model_version(
    cast: Cast, model: RegisteredModel, *, trained_on: Sequence[DatasetVersion] = (), by: Member | None = None
) -> ModelVersion:
    """The next predictions-only version of ``model``, trained on ``trained_on`` (a registry training link)."""
    member = by or cast.owner
    return registry.do_register_version(
        model=model,
        user=member.user,
        actor=acting(member),
        metrics={"auc": 0.78},
        input_schema=[{"name": "credit_amount", "type": "int"}],
        training_datasets=[{"dataset": v.dataset.name, "version": v.number} for v in trained_on],
    )


# --- consent ---------------------------------------------------------------------------------------------------


def make_purpose(cast: Cast, code: str = "model_training", legal_basis: str = "consent") -> Purpose:
    return data.do_create_purpose(
        user=cast.officer.user,
        actor=acting(cast.officer),
        code=code,
        description=f"Processing for {code.replace('_', ' ')}.",
        legal_basis=legal_basis,
    )


def record_consent(
    cast: Cast,
    external_id: str,
    kind: str,
    occurred_at: datetime,
    *,
    purpose: Purpose,
    expires_at: datetime | None = None,
) -> Any:
    """A consent event recorded by the officer for the subject with ``external_id``."""
    return data.do_record_consent(
        user=cast.officer.user,
        actor=acting(cast.officer),
        purpose=purpose,
        kind=kind,
        occurred_at=occurred_at,
        external_id=external_id,
        expires_at=expires_at,
        source="web-form",
        notice_version="2026-01",
    )


# --- what the database holds -----------------------------------------------------------------------------------


def database_text() -> bytes:
    """Every cell of every table in the database (trail and Merkle nodes included), as bytes, for searching for
    something that must never be stored (a raw subject id, a plaintext e-mail address)."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            # Every table, not only Assay's models: Django's own (sessions, admin log) must not hold it either.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if value is None:
                        continue
                    if isinstance(value, memoryview | bytes | bytearray):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode("utf-8"))
    return b"\x1f".join(chunks)


def refused(
    response_of: Any, status: int, code: str | None = None, *, allowed_events: tuple[str, ...] = ("access.denied",)
) -> dict[str, Any]:
    """Send a request (``response_of()``) that must be refused; assert the error shape and that nothing changed
    (the trail included, apart from a recorded denial); return the error."""
    before, seq = db_state(), last_seq()
    error = assert_error(response_of(), status, code)
    assert db_state() == before
    assert [e.action for e in events_since(seq) if e.action not in allowed_events] == []
    return error


@pytest.fixture
def applicants(cast: Cast) -> Dataset:
    """The credit-risk team's dataset ``applicants``, with no version yet."""
    return make_dataset(cast, "applicants")


@pytest.fixture
def chain(cast: Cast) -> dict[str, Any]:
    """Three levels for team credit-risk: applications-raw v1 -> (clean) -> applications-clean v1 -> (features)
    -> credit-features v1 -> (training, through the registry) -> credit-scoring v1; plus bureau-scores v1 and a
    second model, unrelated, that nothing links to."""
    raw = make_external_version(cast, make_dataset(cast, "applications-raw"))
    clean = make_external_version(cast, make_dataset(cast, "applications-clean"))
    features = make_external_version(cast, make_dataset(cast, "credit-features"))
    bureau = make_external_version(cast, make_dataset(cast, "bureau-scores"))
    make_run(cast, "clean_applications", inputs=[raw], outputs=[clean])
    make_run(cast, "build_features", inputs=[clean], outputs=[features])
    model = make_model_version(cast, make_model(cast, "credit-scoring"), trained_on=[features])
    unrelated = make_model_version(cast, make_model(cast, "document-router"))
    return {"raw": raw, "clean": clean, "features": features, "bureau": bureau, "model": model, "unrelated": unrelated}
