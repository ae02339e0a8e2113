"""Payload numbers that PostgreSQL's jsonb spells differently from the leaf still verify, on every path.

``record_event`` takes floats; RFC 8785 writes 1e16 as 10000000000000000, and jsonb prints every number in plain
decimal, so on PostgreSQL the payload column hands back integers beyond 2**53 that the leaf encoder refuses. These
tests run on whichever database the suite uses (SQLite by default; PostgreSQL with DATABASE_URL), in both
sequencing modes: the whole trail, issuing a checkpoint, the incremental run, the worker processes, the export and
its standalone verifier, and the events API must all read such a payload as the float it was; and a column edited
to another number must still be reported as edited, never crash the verifier.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from governance.trail import events
from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint
from governance.trail.log import Actor, record_event
from governance.trail.models import Event
from tests.conftest import Cast
from tests.trail.helpers import append, as_attacker, run_offline_verifier, run_verify_trail
from tests.trail.test_sequencer import batched

__all__ = ["batched"]  # the fixture, imported for the tests here

# Known answers from Python's float literals and RFC 8785 (ECMAScript) number spelling: the leaf text of each.
NUMBERS = [
    (1e16, b"10000000000000000"),
    (float(2**53), b"9007199254740992"),
    (-1e300, b"-1e+300"),
    (1.5e-7, b"1.5e-7"),
    (9007199254740993.0, b"9007199254740992"),  # the literal rounds to 2**53
    (1.2345678901234567e19, b"12345678901234567000"),
]


@pytest.fixture(params=["inline", "batched"])
def mode(request: pytest.FixtureRequest, settings: Any, unprotected_trail: None) -> str:
    if request.param == "batched":
        request.getfixturevalue("batched")
    return str(request.param)


def record_numbers(start: int = 0) -> list[int]:
    """One event per edge number (each in its own transaction, as actions do); returns their seqs."""
    seqs = []
    for i, (number, _) in enumerate(NUMBERS, start=start):
        with transaction.atomic():
            event = record_event(
                events.TEAM_CREATED, actor=Actor.system(), object_type="n", object_id=i, payload={"slug": number}
            )
            seqs.append(event.seq)  # batched: reading the seq sequences the event there and then
    return seqs


def edit_payload(seq: int, text: str) -> None:
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET payload = %s WHERE seq = %s", [text, seq]))


@pytest.mark.django_db(transaction=True)
def test_edge_numbers_verify_on_every_path(mode: str, tmp_path: Path) -> None:
    append(3)
    seqs = record_numbers()
    for seq, (number, text) in zip(seqs, NUMBERS, strict=True):
        assert b'"payload":{"slug":' + text + b"}" in bytes(Event.objects.get(seq=seq).leaf), number
    issue_checkpoint()  # checks the events since the last checkpoint first
    state = tmp_path / "verified.note"
    assert run_verify_trail("--incremental", "--state", str(state))[0] == 0
    record_numbers(start=100)
    issue_checkpoint()
    for args in (["--workers", "1"], ["--workers", "2"], ["--incremental", "--state", str(state)]):
        code, output = run_verify_trail(*args)
        assert code == 0, (args, output)
    out = tmp_path / "export"
    call_command("export_trail", "--out", str(out), stdout=StringIO())
    result = run_offline_verifier("verify", out, "--trusted-keys", out / "keys.txt")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "edited",
    [
        '{"slug": 10000000000000002}',  # another float's spelling
        '{"slug": 10000000000000001}',  # no float's spelling: beyond what RFC 8785 encodes
        '{"slug": 1e400}',  # infinity, as Python reads it
        '{"slug": 1e16, "x": 1}',
    ],
)
def test_an_edited_edge_number_is_reported_as_an_edit(mode: str, edited: str, tmp_path: Path) -> None:
    append(2)
    issue_checkpoint()
    state = tmp_path / "verified.note"
    assert run_verify_trail("--incremental", "--state", str(state))[0] == 0
    covered = record_numbers()[0]  # 1e16, under the next checkpoint
    issue_checkpoint()
    after = record_numbers(start=10)[0]  # 1e16, after it
    edit_payload(covered, edited)
    edit_payload(after, edited)
    with pytest.raises(CheckpointRefused, match=f"first bad event: {after}"):
        issue_checkpoint()
    edited_row = "event {}: its columns no longer match its stored leaf bytes (the row was edited)"
    for workers in ("1", "2"):
        code, output = run_verify_trail("--workers", workers)
        assert code == 1, output
        assert edited_row.format(covered) in output
        assert edited_row.format(after) in output
    code, output = run_verify_trail("--incremental", "--state", str(state))
    assert code == 1, output
    assert edited_row.format(covered) in output


@pytest.mark.django_db
def test_the_events_api_shows_the_number_recorded(cast: Cast) -> None:
    seqs = record_numbers()
    client = cast.officer.client()
    for seq, (number, _) in zip(seqs, NUMBERS, strict=True):
        body = client.get(f"/api/v1/trail/events/{seq}/")
        assert body.status_code == 200
        shown = json.loads(body.content)["payload"]["slug"]
        assert shown == number
        assert type(shown) is float
