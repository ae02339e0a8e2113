"""Bulk consent import: a file stores what recording its rows one by one stores, writes one trail event, opens
the findings a withdrawal opens, and a file with any problem is refused whole, naming the row and column.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from governance.access.models import Team
from governance.data import crypto
from governance.data.actions import (
    DataError,
    do_create_purpose,
    do_erase_subject,
    do_record_consent,
    do_record_run,
    do_register_dataset,
    do_register_dataset_version,
)
from governance.data.consent import latest_event, state_of
from governance.data.consent_import import (
    MAX_REPORTED_PROBLEMS,
    do_import_consent_csv,
    import_consent_file,
    pii_categories,
    pseudonyms_of,
)
from governance.data.models import ConsentEvent, ConsentImport, Purpose, Subject
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import Finding
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast, Member
from tests.registry.conftest import risk_answers

pytestmark = pytest.mark.django_db

HEADER = ("external_id", "purpose", "kind", "occurred_at", "expires_at", "source", "notice_version", "controller")
HEADER += ("pii_categories", "collection_method", "jurisdiction")


def event(
    external_id: str = "alice",
    kind: str = "given",
    occurred_at: str = "2026-01-01T00:00:00Z",
    purpose: str = "model_training",
    **fields: str,
) -> list[str]:
    """One row of a file under HEADER (the receipt fields left empty unless given)."""
    row = dict.fromkeys(HEADER, "") | fields
    row.update(external_id=external_id, kind=kind, occurred_at=occurred_at, purpose=purpose)
    return [row[name] for name in HEADER]


# Out of time order on purpose (withdrawals before the consents they withdraw), several offsets, fractions, ties at
# one instant, an id in two Unicode spellings (NFC and NFD) and one with spaces around it, text that CSV and COPY
# must quote or escape.
ROWS = [
    event("alice", "withdrawn", "2026-03-01T10:00:00+01:00", source="app", notice_version="v2", jurisdiction="EU"),
    event("alice", "given", "2026-01-10T08:00:00Z", notice_version="v1", pii_categories="email; income"),
    event(" bob ", "given", "2026-01-11T09:15:30.25-05:30", expires_at="2026-02-01T00:00:00Z"),
    event("bob", "given", "2026-01-12T00:00:00.000001+00:00", "analytics", pii_categories="email;;", source="web"),
    event("José", "given", "2026-01-13T12:00:00+02:00", controller="Acme Ltd", collection_method="toggle"),
    event("Jose\u0301", "expired", "2026-04-01T12:00:00+02:00"),
    event("carol", "given", "2026-02-01T00:00:00Z", "analytics", notice_version="v1"),
    event("carol", "withdrawn", "2026-02-01T00:00:00Z", "analytics", notice_version="v1"),
    event("carol", "given", "2026-02-02T00:00:00+00:00", "analytics", expires_at="2027-01-01T00:00:00+01:00"),
    event(
        "dave",
        "given",
        "2026-01-20 07:00+0100",
        "analytics",
        source="kiosk\t4 C:\\forms",
        controller='A "B"\r\nC',
        pii_categories="phone;a\\b",
    ),
]


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    """A CSV of ``rows`` under ``header``, quoted as a spreadsheet would write it."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def acting(member: Member) -> Actor:
    return Actor.for_user(member.user)


def pseudonym(external_id: str) -> str:
    return crypto.pseudonym(external_id, key=settings.PSEUDONYM_KEY.encode("utf-8"))


@pytest.fixture
def purposes(cast: Cast) -> dict[str, Purpose]:
    return {
        code: do_create_purpose(
            user=cast.officer.user, actor=acting(cast.officer), code=code, description=code, legal_basis="consent"
        )
        for code in ("analytics", "model_training")
    }


def import_file(cast: Cast, path: Path, *, by: Member | None = None) -> ConsentImport:
    member = by or cast.officer
    return do_import_consent_csv(user=member.user, actor=acting(member), path=path, file_name=path.name)


def record_one_by_one(cast: Cast, rows: Sequence[Sequence[str]], purposes: dict[str, Purpose]) -> None:
    """The rows through do_record_consent, in the order they happened (file order breaking ties)."""
    parsed = [dict(zip(HEADER, row, strict=True)) for row in rows]
    for row in sorted(parsed, key=lambda row: datetime.fromisoformat(row["occurred_at"])):
        do_record_consent(
            user=cast.officer.user,
            actor=acting(cast.officer),
            purpose=purposes[row["purpose"]],
            kind=row["kind"],
            occurred_at=datetime.fromisoformat(row["occurred_at"]),
            external_id=row["external_id"],
            expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
            source=row["source"],
            notice_version=row["notice_version"],
            controller=row["controller"],
            pii_categories=pii_categories(row["pii_categories"]),
            collection_method=row["collection_method"],
            jurisdiction=row["jurisdiction"],
        )


def stored_rows() -> list[tuple[Any, ...]]:
    """The consent events exactly as stored (raw SQL, no ORM conversion), ids and recording aside."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT subject_id, purpose_id, kind, occurred_at, expires_at, source, notice_version, controller, "
            "pii_categories, collection_method, jurisdiction FROM governance_consentevent"
        )
        return sorted(cursor.fetchall(), key=repr)


def states(purposes: dict[str, Purpose]) -> dict[tuple[str, str, datetime], tuple[Any, ...]]:
    """For every subject, purpose and instant that matters: the state and the event that decides it."""
    instants = {datetime(2025, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)}
    for event in ConsentEvent.objects.all():
        for moment in (event.occurred_at, event.expires_at):
            if moment is not None:
                instants |= {moment - timedelta(microseconds=1), moment, moment + timedelta(microseconds=1)}
    found = {}
    for subject in Subject.objects.all():
        for purpose in purposes.values():
            for at in sorted(instants):
                event = latest_event(subject, purpose, at)
                decided = None
                if event is not None:
                    decided = (event.kind, event.occurred_at, event.expires_at, event.notice_version, event.source)
                state = state_of(event.kind if event else None, event.expires_at if event else None, at)
                found[(subject.pseudonym, purpose.code, at)] = (state, decided)
    return found


def snapshot(purposes: dict[str, Purpose]) -> dict[str, Any]:
    return {
        "rows": stored_rows(),
        "subjects": sorted(Subject.objects.values_list("pseudonym", "erased_at")),
        "states": states(purposes),
    }


def test_an_import_stores_what_recording_each_row_stores(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "consent.csv", ROWS)
    with transaction.atomic():
        record_one_by_one(cast, ROWS, purposes)
        one_by_one = snapshot(purposes)
        transaction.set_rollback(True)
    assert ConsentEvent.objects.count() == 0

    batch = import_file(cast, path)

    assert snapshot(purposes) == one_by_one
    assert len(one_by_one["subjects"]) == 5  # " bob " is bob, José in either spelling is one person
    assert one_by_one["states"][(pseudonym("alice"), "model_training", datetime(2030, 1, 1, tzinfo=UTC))][0] == (
        "withdrawn"
    )
    events = {
        (e.subject_id, e.purpose.code, e.kind): e for e in ConsentEvent.objects.filter(batch=batch).select_related()
    }
    bob = events[(pseudonym("bob"), "model_training", "given")]
    assert bob.occurred_at == datetime(2026, 1, 11, 14, 45, 30, 250_000, tzinfo=UTC)
    assert bob.expires_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert bob.occurred_at.tzinfo is not None
    assert bob.recorded_at.tzinfo is not None
    assert events[(pseudonym("bob"), "analytics", "given")].pii_categories == ["email"]
    assert events[(pseudonym("alice"), "model_training", "given")].pii_categories == ["email", "income"]
    dave = events[(pseudonym("dave"), "analytics", "given")]
    assert dave.occurred_at == datetime(2026, 1, 20, 6, tzinfo=UTC)
    assert (dave.source, dave.controller, dave.pii_categories) == (
        "kiosk\t4 C:\\forms",
        'A "B"\r\nC',
        ["phone", "a\\b"],
    )
    assert {e.batch_id for e in ConsentEvent.objects.all()} == {batch.pk}


def test_the_batch_and_its_one_trail_event(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "october.csv", ROWS)
    seq = last_seq()

    batch = import_file(cast, path)

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (batch.sha256, batch.file_name, batch.row_count, batch.subject_count, batch.created_by) == (
        digest,
        "october.csv",
        len(ROWS),
        5,
        cast.officer.user,
    )
    recorded = events_since(seq)
    assert [e.action for e in recorded] == ["consent.imported"]  # no dataset holds anyone: no findings
    event = recorded[0]
    assert (event.object_type, event.object_id) == ("governance.consentimport", str(batch.pk))
    assert (event.actor_kind, event.actor_user_id) == ("user", cast.officer.user.pk)
    assert event.payload == {"batch": batch.pk, "sha256": digest, "rows": 10, "subjects": 5, "withdrawals": 3}
    assert ConsentEvent.objects.filter(batch=batch).count() == len(ROWS)


def test_subjects_by_pseudonym_and_a_withdrawal_of_consent_given_before_in_the_database(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    do_record_consent(
        user=cast.officer.user,
        actor=acting(cast.officer),
        purpose=purposes["analytics"],
        kind="given",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        external_id="erin",
    )
    erin = pseudonym("erin")
    path = write_csv(
        tmp_path / "p.csv",
        [
            (erin.upper(), "analytics", "withdrawn", "2026-01-02T00:00:00Z"),
            (pseudonym("x"), "analytics", "given", "2026-01-02T00:00:00Z"),
        ],
        header=("pseudonym", "purpose", "kind", "occurred_at"),
    )

    batch = import_file(cast, path)

    assert batch.subject_count == 2
    withdrawal = ConsentEvent.objects.get(batch=batch, kind="withdrawn")
    assert withdrawal.subject_id == erin
    assert (withdrawal.source, withdrawal.pii_categories, withdrawal.expires_at) == ("", [], None)
    assert Subject.objects.count() == 2


def test_a_spreadsheet_export_with_a_byte_order_mark_and_crlf_lines(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffexternal_id,purpose,kind,occurred_at\r\nzoë,analytics,given,2026-01-01T00:00:00+01:00\r\n".encode()
    )
    batch = import_file(cast, path)
    stored = ConsentEvent.objects.get(batch=batch)
    assert (stored.subject_id, stored.occurred_at) == (pseudonym("zoë"), datetime(2025, 12, 31, 23, tzinfo=UTC))


def test_a_withdrawal_before_the_consent_recorded_in_the_database_is_refused(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    do_record_consent(
        user=cast.officer.user,
        actor=acting(cast.officer),
        purpose=purposes["model_training"],
        kind="given",
        occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
        external_id="alice",
    )
    rows = [event("bob"), event("alice", "withdrawn", "2026-05-31T23:59:59Z")]
    message = refused(cast, write_csv(tmp_path / "early.csv", rows))
    assert "row 2, kind: nothing to 'withdrawn': no consent for 'model_training' was given for this subject" in message


def test_pseudonyms_match_the_crypto_module() -> None:
    key = settings.PSEUDONYM_KEY.encode("utf-8")
    ids = ["alice", "  alice\t", "José", "Jose\u0301", "\u00a0bob\u2003", "ÅNGSTRÖM", "x\x1f", "", "   ", "\u3000"]

    def expected(value: str) -> str:
        try:
            return crypto.pseudonym(value, key=key)
        except ValueError:
            return ""

    assert pseudonyms_of(ids, key=key) == [expected(value) for value in ids]


# --- refused files: the problem is named, and nothing is written -------------------------------------------------


def refused(cast: Cast, path: Path, *, by: Member | None = None, status: int = 422) -> str:
    """Import a file that must be refused: assert nothing changed and no event was added; the message."""
    before, seq = db_state(), last_seq()
    with pytest.raises(DataError) as caught:
        import_file(cast, path, by=by)
    assert caught.value.status == status
    assert events_since(seq) == []
    assert db_state() == before
    return str(caught.value)


BAD_ROWS: dict[str, tuple[list[list[str]], list[str]]] = {
    "unknown purposes": (
        [event(), event("b", purpose="marketing"), event("c", purpose="profiling"), event("d", purpose="marketing")],
        [
            "3 problems",
            "row 2, purpose: unknown purpose 'marketing'",
            "row 3, purpose: unknown purpose 'profiling'",
            "row 4, purpose",
            "Unknown purposes: 'marketing', 'profiling'. Known purposes: analytics, model_training.",
        ],
    ),
    "bad kind": ([event(), event(kind="revoked")], ["row 2, kind: 'revoked' is not one of given, withdrawn, expired"]),
    "time without timezone": (
        [event(occurred_at="2026-05-01T09:30:00")],
        ["row 1, occurred_at: '2026-05-01T09:30:00' has no timezone offset"],
    ),
    "date without time": ([event(occurred_at="2026-05-01")], ["row 1, occurred_at: '2026-05-01' has no timezone"]),
    "unparseable time": ([event(occurred_at="yesterday")], ["row 1, occurred_at: 'yesterday' is not an ISO 8601 time"]),
    "impossible date": (
        [event(), event(occurred_at="2026-02-30T10:00:00Z")],
        ["row 2, occurred_at: '2026-02-30T10:00:00Z' is not a valid time"],
    ),
    "missing time": ([event(occurred_at="")], ["row 1, occurred_at: is empty"]),
    "expiry without timezone": (
        [event(expires_at="2027-01-01 00:00")],
        ["row 1, expires_at: '2027-01-01 00:00' has no timezone offset"],
    ),
    "empty id": ([event(), event("   ")], ["1 problem", "row 2, external_id: is empty"]),
    "expiry on a withdrawal": (
        [event(), event(kind="withdrawn", occurred_at="2026-02-01T00:00:00Z", expires_at="2027-01-01T00:00:00Z")],
        ["row 2, expires_at: only a consent given can expire; this row is 'withdrawn'"],
    ),
    "withdrawal before its consent": (
        [event(kind="withdrawn", occurred_at="2025-12-31T23:59:59Z"), event()],
        ["row 1, kind: nothing to 'withdrawn': no consent for 'model_training' was given for this subject before"],
    ),
    "expiry of a consent to another purpose": (
        [event(), event(purpose="analytics", kind="expired", occurred_at="2026-06-01T00:00:00+02:00")],
        ["row 2, kind: nothing to 'expired': no consent for 'analytics'"],
    ),
    "text too long": ([event(jurisdiction="E" * 21)], ["row 1, jurisdiction: is longer than 20 characters (21)"]),
    "NUL character": ([event(), event(source="a\x00b")], ["row 2, source: contains a NUL character"]),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_refuses_the_whole_file(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path, case: str) -> None:
    rows, expected = BAD_ROWS[case]
    message = refused(cast, write_csv(tmp_path / "bad.csv", rows))
    assert message.startswith("The file was not imported")
    for fragment in expected:
        assert fragment in message


BAD_FILES: dict[str, tuple[bytes, list[str]]] = {
    "empty file": (b"", ["The file is empty."]),
    "header only": (b"external_id,purpose,kind,occurred_at\n", ["a header but no rows"]),
    "unknown columns": (
        b"external_id,purpose,kind,occurred_at,colour\nalice,model_training,given,2026-01-01T00:00:00Z,red\n",
        ["header (line 1)", "unknown columns 'colour'"],
    ),
    "missing required columns": (
        b"external_id,purpose,occurred_at\nalice,model_training,2026-01-01T00:00:00Z\n",
        ["missing required columns kind"],
    ),
    "both subject columns": (
        b"external_id,pseudonym,purpose,kind,occurred_at\n",
        ["exactly one column, external_id or pseudonym"],
    ),
    "a column twice": (b"external_id,purpose,kind,occurred_at,kind\n", ["columns named twice: kind"]),
    "invalid UTF-8": (
        b"external_id,purpose,kind,occurred_at\nalice,model_training,given,2026-01-01T00:00:00Z\n"
        b"b\xffb,model_training,given,2026-01-01T00:00:00Z\n",
        ["line 3: byte 2 is not valid UTF-8"],
    ),
    "ragged row": (
        b"external_id,purpose,kind,occurred_at\nalice,model_training,given,2026-01-01T00:00:00Z\n"
        b"bob,model_training,given\ncarol,model_training,given,2026-01-01T00:00:00Z,extra\n",
        ["2 problems", "line 3: 3 fields, the header has 4", "line 4: 5 fields, the header has 4"],
    ),
    "bad pseudonym": (
        b"pseudonym,purpose,kind,occurred_at\nnot-a-pseudonym,model_training,given,2026-01-01T00:00:00Z\n",
        ["row 1, pseudonym: 'not-a-pseudonym' is not a pseudonym (64 hexadecimal digits)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path, case: str) -> None:
    content, expected = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    message = refused(cast, path)
    for fragment in expected:
        assert fragment in message


def test_problems_are_counted_and_the_first_ones_listed(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    rows = [event(f"s{i}", kind="maybe") for i in range(30)] + [event("z", occurred_at="2026-01-01")]
    message = refused(cast, write_csv(tmp_path / "bad.csv", rows))
    assert f"31 problems; the first {MAX_REPORTED_PROBLEMS} are listed" in message
    listed = [line for line in message.splitlines() if line.startswith("- row")]
    assert len(listed) == MAX_REPORTED_PROBLEMS
    assert listed[0] == "- row 1, kind: 'maybe' is not one of given, withdrawn, expired"


def test_an_erased_subject_cannot_consent_again(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path) -> None:
    officer, actor = cast.officer.user, acting(cast.officer)
    do_record_consent(
        user=officer,
        actor=actor,
        purpose=purposes["analytics"],
        kind="given",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        external_id="alice",
    )
    do_erase_subject(subject=Subject.objects.get(pk=pseudonym("alice")), user=officer, actor=actor)
    message = refused(cast, write_csv(tmp_path / "bad.csv", [event("bob"), event(" alice")]))
    assert "row 2, external_id: this subject was erased; new consent needs a new identity" in message


@pytest.mark.parametrize("role", ["owner", "reviewer", "ci", "regulator"])
def test_only_officers_and_admins_import(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path, role: str) -> None:
    path = write_csv(tmp_path / "consent.csv", [event()])
    message = refused(cast, path, by=getattr(cast, role), status=403)
    assert message == f"Only admin, officer may import consent; you are {role}."


def test_an_administrator_imports(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path) -> None:
    batch = import_file(cast, write_csv(tmp_path / "consent.csv", [event()]), by=cast.admin)
    assert batch.created_by == cast.admin.user


# --- withdrawals open findings on models trained on the subject's data ---------------------------------------


@pytest.fixture
def trained_on_alice(cast: Cast, settings: Any, tmp_path: Path) -> Any:
    """A model version trained (through lineage) on a dataset version that holds alice and bob."""
    settings.MEDIA_ROOT = tmp_path / "media"
    owner, actor = cast.owner.user, acting(cast.owner)
    team = Team.objects.get(slug="credit-risk")
    dataset = do_register_dataset(user=owner, actor=actor, name="applications", team=team)
    upload = tmp_path / "applications.csv"
    upload.write_text("applicant,income,label\nalice,100,1\nbob,200,0\n", encoding="utf-8")
    version = do_register_dataset_version(
        dataset=dataset, user=owner, actor=actor, file_path=upload, file_name=upload.name, subject_id_column="applicant"
    )
    model = registry.do_register_model(
        user=owner,
        actor=actor,
        name="credit-scoring",
        team=team,
        purpose="Scores",
        risk_answers=risk_answers("minimal"),
    )
    model_version = registry.do_register_version(model=model, user=owner, actor=actor, metrics={"auc": 0.8})
    do_record_run(user=owner, actor=actor, job_name="train", inputs=[version], model_outputs=[model_version])
    return model_version


def test_a_withdrawal_in_the_file_opens_findings(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path, trained_on_alice: Any
) -> None:
    rows = [
        event("alice"),
        event("alice", purpose="analytics"),
        event("alice", kind="withdrawn", occurred_at="2026-02-01T00:00:00Z"),
        event("alice", purpose="analytics", kind="expired", occurred_at="2026-03-01T00:00:00Z"),
        event("carol"),
        event("carol", kind="withdrawn", occurred_at="2026-02-01T00:00:00Z"),  # in no dataset
    ]
    seq = last_seq()

    outcome = import_consent_file(
        user=cast.officer.user, actor=acting(cast.officer), path=write_csv(tmp_path / "c.csv", rows)
    )

    findings = Finding.objects.filter(version=trained_on_alice).order_by("id")
    assert [(f.kind, f.details["purpose"], f.details["change"], f.details["subject"]) for f in findings] == [
        ("consent_withdrawn", "analytics", "expired", pseudonym("alice")),
        ("consent_withdrawn", "model_training", "withdrawn", pseudonym("alice")),
    ]
    assert {f.pk for f in outcome.findings} == {f.pk for f in findings}
    assert outcome.withdrawals == 3
    actions = [e.action for e in events_since(seq)]
    assert actions == ["consent.imported", "finding.opened", "finding.opened"]
    assert events_since(seq)[0].payload["withdrawals"] == 3


# --- manage.py import_consent ----------------------------------------------------------------------------------


def test_the_command_imports_and_reports(cast: Cast, purposes: dict[str, Purpose], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "consent.csv", ROWS)
    out = StringIO()
    call_command("import_consent", str(path), "--as", "olivia", stdout=out)
    batch = ConsentImport.objects.get()
    assert out.getvalue().splitlines() == [
        f"Imported consent batch {batch.pk} from consent.csv: 10 rows, 5 subjects, 3 withdrawals or expiries, "
        "0 findings opened.",
        f"sha256 {batch.sha256}",
    ]
    out = StringIO()
    call_command("import_consent", str(path), "--as", "ada", "--json", stdout=out)
    second = ConsentImport.objects.latest("id")
    assert json.loads(out.getvalue()) == {
        "import": second.pk,
        "sha256": batch.sha256,
        "rows": 10,
        "subjects": 5,
        "withdrawals": 3,
        "findings_opened": 0,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--as", "omar"], "Only admin, officer may import consent; you are owner."),
        (["--as", "nobody"], "There is no user named 'nobody'."),
    ],
)
def test_the_command_refuses_with_the_actions_message(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path, args: list[str], expected: str
) -> None:
    path = write_csv(tmp_path / "consent.csv", [event()])
    before = db_state()
    with pytest.raises(CommandError) as caught:
        call_command("import_consent", str(path), *args)
    assert str(caught.value) == expected
    assert db_state() == before


def test_the_command_names_the_bad_row_and_a_missing_file(
    cast: Cast, purposes: dict[str, Purpose], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "consent.csv", [event(), event(kind="revoked")])
    before = db_state()
    with pytest.raises(CommandError, match="row 2, kind: 'revoked' is not one of given, withdrawn, expired"):
        call_command("import_consent", str(path), "--as", "olivia")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_consent", str(tmp_path / "missing.csv"), "--as", "olivia")
    assert db_state() == before
