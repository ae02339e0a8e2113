"""Who may call each data-governance action, asked of the actions themselves (every entry point obeys them).

The expected role sets and refusal messages are those the actions gave when they kept their own role lists
(``DATA_WRITERS = {owner, ci, admin}``, ``CONSENT_KEEPERS = {officer, admin}``), written out here rather than read
from the code, so the move to the role-to-scope table (issue 18) is held to the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from governance.access.models import Team
from governance.data import actions as data
from governance.data.models import Dataset, DatasetVersion, Purpose, Subject
from tests.api import db_state, last_seq
from tests.conftest import Cast, Member
from tests.data.conftest import (
    TEAM,
    acting,
    make_dataset,
    make_external_version,
    make_purpose,
    pseudonym,
    record_consent,
)

ROLES = ["admin", "officer", "owner", "reviewer", "regulator", "ci"]
DATA_WRITERS = frozenset({"admin", "ci", "owner"})
CONSENT_KEEPERS = frozenset({"admin", "officer"})
OPENLINEAGE_EVENT = Path(__file__).parent / "openlineage" / "dbt_run_complete.json"


@dataclass
class Arranged:
    dataset: Dataset
    version: DatasetVersion
    purpose: Purpose
    subject: Subject


@pytest.fixture
def arranged(cast: Cast) -> Arranged:
    dataset = make_dataset(cast, "applicants")
    version = make_external_version(cast, dataset)
    purpose = make_purpose(cast)
    record_consent(cast, "DE-APPL-0001", "given", datetime(2026, 1, 5, 9, 0, tzinfo=UTC), purpose=purpose)
    return Arranged(dataset, version, purpose, Subject.objects.get(pseudonym=pseudonym("DE-APPL-0001")))


Call = Callable[[Member, Arranged], Any]


def _as(member: Member) -> dict[str, Any]:
    return {"user": member.user, "actor": acting(member)}


ACTIONS: dict[str, tuple[frozenset[str], Call]] = {
    "register datasets": (
        DATA_WRITERS,
        lambda m, a: data.do_register_dataset(**_as(m), name=f"by-{m.user.role}", team=Team.objects.get(slug=TEAM)),
    ),
    "register dataset versions": (
        DATA_WRITERS,
        lambda m, a: data.do_register_dataset_version(
            **_as(m), dataset=a.dataset, external_uri="s3://lake/applicants/next.parquet"
        ),
    ),
    "record lineage": (
        DATA_WRITERS,
        lambda m, a: data.do_record_run(**_as(m), job_name="clean-applicants", outputs=[a.version]),
    ),
    "record lineage (OpenLineage)": (
        DATA_WRITERS,
        lambda m, a: data.do_record_openlineage(**_as(m), body=json.loads(OPENLINEAGE_EVENT.read_text("utf-8"))),
    ),
    "define purposes": (
        CONSENT_KEEPERS,
        lambda m, a: data.do_create_purpose(
            **_as(m), code=f"fraud_checks_{m.user.role}", description="Fraud checks.", legal_basis="contract"
        ),
    ),
    "record consent": (
        CONSENT_KEEPERS,
        lambda m, a: data.do_record_consent(
            **_as(m),
            purpose=a.purpose,
            kind="given",
            occurred_at=datetime(2026, 2, 1, 12, 0, tzinfo=UTC),
            external_id="DE-APPL-0002",
        ),
    ),
    "store personal data": (
        CONSENT_KEEPERS,
        lambda m, a: data.do_store_personal_data(
            **_as(m), subject=a.subject, category="contact", data={"email": "anna@example.org"}
        ),
    ),
    "answer access requests": (CONSENT_KEEPERS, lambda m, a: data.do_export_subject(**_as(m), subject=a.subject)),
    "erase subjects": (CONSENT_KEEPERS, lambda m, a: data.do_erase_subject(**_as(m), subject=a.subject)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("what", list(ACTIONS))
def test_each_data_action_allows_and_refuses_the_same_roles(
    cast: Cast, arranged: Arranged, what: str, role: str
) -> None:
    may, call = ACTIONS[what]
    member = getattr(cast, role)
    before, seq = db_state(), last_seq()

    if role in may:
        call(member, arranged)
        assert last_seq() > seq, f"{role} may {what}, and doing it is recorded in the trail"
        return

    with pytest.raises(data.DataError) as refusal:
        call(member, arranged)
    verb = what.removesuffix(" (OpenLineage)")
    assert str(refusal.value) == f"Only {', '.join(sorted(may))} may {verb}; you are {role}."
    assert (refusal.value.status, refusal.value.code) == (403, "role_refused")
    assert db_state() == before
    assert last_seq() == seq


def test_the_role_lists_other_callers_still_import_are_the_same_roles() -> None:
    # The consent import and run_audit list these roles; they are now read from the table.
    assert data.DATA_WRITERS == DATA_WRITERS
    assert data.CONSENT_KEEPERS == CONSENT_KEEPERS
