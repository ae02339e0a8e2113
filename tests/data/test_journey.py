"""The data-governance issue's "done when", walked through the HTTP API as its users would.

Upload a dataset (real UCI German Credit rows with an invented applicant id), record consents, link a training run to a
model version, withdraw one subject's consent: the affected model versions get findings, the subject's data is
erasable, the trail still verifies after erasure, and the PROV-JSON export of the model's lineage names every input.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.demo import german_credit_csv
from governance.data.models import PersonalRecord, SubjectKey
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.models import Event
from registry.models import Finding
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.registry.conftest import register_model
from tests.trail.helpers import run_verify_trail

API = "/api/v1"


def upload(client: Any, dataset: str, content: bytes, metadata: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"{API}/datasets/{dataset}/versions/",
        {"file": SimpleUploadedFile("german.csv", content, "text/csv"), "metadata": json.dumps(metadata)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def consent(client: Any, external_id: str, kind: str, when: str) -> dict[str, Any]:
    response = client.post(
        f"{API}/consent/events/",
        {
            "external_id": external_id,
            "purpose": "model_training",
            "kind": kind,
            "occurred_at": when,
            "source": "web-form",
            "notice_version": "2026-01",
            "controller": "Example Bank AG",
            "pii_categories": ["financial", "demographic"],
            "collection_method": "online form",
            "jurisdiction": "DE",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_withdrawal_opens_findings_erasure_keeps_the_trail_verifiable_and_prov_names_every_input(
    cast: Cast, tmp_path: Path
) -> None:
    owner, officer, reviewer = cast.owner.client(), cast.officer.client(), cast.reviewer.client()
    content = german_credit_csv(200)

    # 1. The owner registers a dataset and uploads a version with a subject-id column.
    assert (
        owner.post(f"{API}/datasets/", {"name": "german-credit", "team": "credit-risk"}, format="json").status_code
        == 201
    )
    version = upload(
        owner,
        "german-credit",
        content,
        {
            "subject_id_column": "applicant_id",
            "label_column": "credit_risk",
            "source": "UCI Statlog (German Credit Data)",
            "licence": "CC BY 4.0",
            "collected_from": "1973-01-01",
            "collected_to": "1975-12-31",
        },
    )
    assert (version["sha256"], version["row_count"], version["subject_count"]) == (
        hashlib.sha256(content).hexdigest(),
        200,
        200,
    )
    # The label's class balance matches the published 700/300 split closely enough in the first 200 rows: both
    # classes are there and counted.
    assert sum(version["profile"]["label"]["counts"].values()) == 200

    # A second, unrelated dataset and model: they must not be touched by the withdrawal.
    assert (
        owner.post(f"{API}/datasets/", {"name": "other-data", "team": "credit-risk"}, format="json").status_code == 201
    )
    upload(owner, "other-data", german_credit_csv(200, id_prefix="XX-"), {"subject_id_column": "applicant_id"})

    # 2. The officer defines the purpose and records consents for three applicants.
    purpose = {"code": "model_training", "description": "Training credit models.", "legal_basis": "consent"}
    assert officer.post(f"{API}/consent/purposes/", purpose, format="json").status_code == 201
    for applicant in ("DE-0001", "DE-0002", "DE-0003"):
        consent(officer, applicant, "given", "2026-01-10T09:00:00+01:00")

    # 3. A model version is registered with its training data: the registry links a training run.
    model = register_model(cast, "minimal")
    trained = owner.post(
        f"{API}/models/{model.name}/versions/",
        {
            "training_datasets": [{"dataset": "german-credit", "version": 1}],
            "code_commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        },
        format="json",
    )
    assert trained.status_code == 201, trained.content
    unrelated = owner.post(
        f"{API}/models/{model.name}/versions/",
        {"training_datasets": [{"dataset": "other-data", "version": 1}]},
        format="json",
    )
    assert unrelated.status_code == 201

    # Coverage for the owner: counts only.
    covered = owner.get(
        f"{API}/datasets/german-credit/versions/1/coverage", {"purpose": "model_training", "at": "2026-02-01T00:00:00Z"}
    ).json()
    assert {k: covered[k] for k in ("subjects", "consenting", "withdrawn", "expired", "never_asked")} == {
        "subjects": 200,
        "consenting": 3,
        "withdrawn": 0,
        "expired": 0,
        "never_asked": 197,
    }

    # 4. One applicant withdraws: the model version trained on their data gets a finding; the other does not.
    seq = last_seq()
    withdrawal = consent(officer, "DE-0002", "withdrawn", "2026-03-01T12:00:00+01:00")
    pseudonym = withdrawal["subject"]
    opened = events_since(seq, "finding.opened")
    assert [(e.payload["model"], e.payload["version"], e.payload["kind"]) for e in opened] == [
        (model.name, 1, "consent_withdrawn")
    ]
    findings = owner.get(f"{API}/models/{model.name}/versions/1/findings/").json()["results"]
    assert [(f["kind"], f["status"], "subject" in f["details"]) for f in findings] == [
        ("consent_withdrawn", "open", False)  # the team learns that a subject withdrew, not who
    ]
    seen_by_officer = officer.get(f"{API}/models/{model.name}/versions/1/findings/").json()["results"]
    assert [f["details"]["subject"] for f in seen_by_officer] == [pseudonym]
    assert owner.get(f"{API}/models/{model.name}/versions/2/findings/").json()["count"] == 0

    # A reviewer resolves it with a recorded reason.
    resolved = reviewer.post(
        f"{API}/models/{model.name}/versions/1/findings/{findings[0]['id']}/resolve",
        {"resolution": "retrain", "reason": "Retrain without DE-0002 in the next version."},
        format="json",
    )
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"

    # 5. The subject's personal data is sealed, then erased; the trail still verifies.
    stored = officer.post(
        f"{API}/subjects/{pseudonym}/personal-data",
        {"category": "contact", "data": {"email": "applicant2@example.org"}},
        format="json",
    )
    assert stored.status_code == 201, stored.content
    before = officer.post(f"{API}/subjects/{pseudonym}/access").json()
    assert before["personal_data"][0]["data"] == {"email": "applicant2@example.org"}
    assert before["datasets"] == ["dataset:german-credit/v1"]

    held = issue_checkpoint(reason="before erasure")
    erased = officer.post(f"{API}/subjects/{pseudonym}/erasure")
    assert (erased.status_code, erased.json()["erased_now"]) == (200, True)
    assert not SubjectKey.objects.filter(subject_id=pseudonym).exists()
    assert PersonalRecord.objects.filter(subject_id=pseudonym).count() == 1  # the ciphertext stays, unreadable
    after = officer.post(f"{API}/subjects/{pseudonym}/access").json()
    assert after["personal_data"][0]["data"] is None
    assert [e["kind"] for e in after["consent_events"]] == ["given", "withdrawn"]

    # Erasure again is idempotent; the trail holds the pseudonym only, never the external id or the e-mail.
    again = officer.post(f"{API}/subjects/{pseudonym}/erasure")
    assert (again.status_code, again.json()["erased_now"]) == (200, False)
    leaves = b"".join(bytes(leaf) for leaf in Event.objects.values_list("leaf", flat=True))
    assert b"DE-0002" not in leaves
    assert b"applicant2@example.org" not in leaves
    assert pseudonym.encode() in leaves

    note = tmp_path / "held.note"
    note.write_text(held.note)
    code, output = run_verify_trail("--checkpoint", str(note))
    assert code == 0, output

    # 6. The PROV-JSON export of the model version's lineage names its input, with its content hash.
    prov = owner.get(f"{API}/models/{model.name}/versions/1/lineage/prov").json()
    entities = prov["entity"]
    inputs = [e for e in entities.values() if "german-credit" in json.dumps(e)]
    assert inputs, entities
    assert hashlib.sha256(content).hexdigest() in json.dumps(inputs)
    assert len(prov["used"]) == 1
    assert len(prov["wasGeneratedBy"]) == 1
    assert Finding.objects.filter(version__number=2, version__model=model).count() == 0
