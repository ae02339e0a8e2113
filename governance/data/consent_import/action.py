"""The import action: the whole file checked (against the database too, inside the transaction that writes), then its
batch, subjects, events, trail event and the findings its withdrawals open, in one transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from governance.access.actions import require_role
from governance.access.models import User
from governance.data import events
from governance.data.actions import CONSENT_KEEPERS, DataError, open_impact_findings, pseudonym_key
from governance.data.consent_import.header import _Problems, _show
from governance.data.consent_import.rows import ParsedConsent, parse_consent_csv
from governance.data.consent_import.write import _insert_events, _insert_subjects
from governance.data.models import ConsentEvent, ConsentImport, ConsentKind, Purpose, Subject
from governance.trail.log import Actor, record_event

_IN_CHUNK = 900  # values per IN (...) query, below SQLite's parameter limit


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: its batch, how many rows withdrew or expired a consent, and the findings opened."""

    batch: ConsentImport
    withdrawals: int
    findings: list[Any]


def do_import_consent_csv(*, user: User, actor: Actor, path: Path, file_name: str = "") -> ConsentImport:
    """Import the consent events of a CSV file in one transaction (all rows or none); see the module's docstring."""
    return import_consent_file(user=user, actor=actor, path=path, file_name=file_name).batch


def import_consent_file(*, user: User, actor: Actor, path: Path, file_name: str = "") -> ImportOutcome:
    """``do_import_consent_csv``, answering also the withdrawals counted and the findings opened."""
    require_role(user, CONSENT_KEEPERS, "import consent", error=DataError)
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    purposes = dict(Purpose.objects.values_list("code", "pk"))
    parsed = parse_consent_csv(path, purposes=purposes, key=pseudonym_key())
    with transaction.atomic():
        # Checked inside the transaction that writes, so that what was checked is what is written over.
        _check_against_database(parsed)
        batch = ConsentImport.objects.create(
            sha256=sha256,
            file_name=file_name[:255],
            row_count=parsed.rows,
            subject_count=len(parsed.subjects),
            created_by=user,
        )
        now = timezone.now()
        _insert_subjects(parsed.subjects, now=now)
        _insert_events(parsed, batch=batch, now=now)
        withdrawals = int(parsed.withdrawal_mask().sum())
        record_event(
            events.CONSENT_IMPORTED,
            actor=actor,
            obj=batch,
            payload={
                "batch": batch.pk,
                "sha256": sha256,
                "rows": parsed.rows,
                "subjects": len(parsed.subjects),
                "withdrawals": withdrawals,
            },
        )
        findings = []
        for code, change, pseudonyms in parsed.withdrawn_by_purpose():
            findings += open_impact_findings(
                pseudonyms, kind="consent_withdrawn", detail={"purpose": code, "change": change}, actor=actor
            )
    return ImportOutcome(batch=batch, withdrawals=withdrawals, findings=findings)


def _check_against_database(parsed: ParsedConsent) -> None:
    """What only the database knows: erased subjects giving consent, and withdrawals of consent given earlier."""
    import pyarrow as pa
    import pyarrow.compute as pc

    problems = _Problems()
    erased = list(Subject.objects.filter(erased_at__isnull=False).values_list("pseudonym", flat=True))
    if erased:
        erased_subjects = np.asarray(pc.is_in(parsed.subjects, value_set=pa.array(erased, pa.string())))
        giving = ~parsed.withdrawal_mask() & erased_subjects[parsed.subject_index.to_numpy()]
        problems.flag(
            pa.array(giving),
            parsed.id_column,
            lambda i: "this subject was erased; new consent needs a new identity",
        )

    unmatched = parsed.unmatched_withdrawals
    if len(unmatched):
        subjects = parsed.subjects.to_pylist()
        members = parsed.subject_index.to_numpy()[unmatched]
        purposes = parsed.purpose_index.to_numpy()[unmatched]
        times = parsed.occurred_at.cast("int64").to_numpy()[unmatched]
        earliest = _earliest_given_in_database(
            sorted({subjects[i] for i in members.tolist()}), purpose_pks=parsed.purpose_pks
        )
        lacking = np.zeros(parsed.rows, dtype=bool)
        for row, member, purpose, at in zip(unmatched.tolist(), members, purposes, times, strict=True):
            first = earliest.get((subjects[member], parsed.purpose_pks[purpose]))
            if first is None or first > at:
                lacking[row] = True
        kind, codes = parsed.kind, parsed.purpose_codes
        problems.flag(
            pa.array(lacking),
            "kind",
            lambda i: (
                f"nothing to {_show(kind[i])}: no consent for {_show(codes[parsed.purpose_index[i].as_py()])} "
                "was given for this subject before this row's occurred_at (record the consent first, or check the id)"
            ),
        )
    problems.raise_if_any()


def _earliest_given_in_database(pseudonyms: list[str], *, purpose_pks: list[int]) -> dict[tuple[str, int], int]:
    """(pseudonym, purpose pk) -> the earliest consent given, in microseconds since the epoch."""
    earliest = {}
    for start in range(0, len(pseudonyms), _IN_CHUNK):
        rows = (
            ConsentEvent.objects.filter(
                kind=ConsentKind.GIVEN, subject_id__in=pseudonyms[start : start + _IN_CHUNK], purpose_id__in=purpose_pks
            )
            .values_list("subject_id", "purpose_id")
            .annotate(first=Min("occurred_at"))
        )
        for subject, purpose, first in rows:
            earliest[(subject, purpose)] = _micros(first)
    return earliest


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
