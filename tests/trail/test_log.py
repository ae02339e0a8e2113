"""Appending to the trail: leaf encoding, chaining, transactions, the append-only triggers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from django.core import checks
from django.core.management import get_commands, load_command_class
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, IntegrityError, connection, transaction

from governance.access import actions
from governance.access.models import Team
from governance.trail import events
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.checks import trail_triggers_present
from governance.trail.db import drop_triggers, install_triggers, installed_triggers, trigger_names
from governance.trail.log import Actor, TrailError, current_root, record_event
from governance.trail.merkle import root_from_leaf_hashes
from governance.trail.models import Checkpoint, Event, MerkleNode
from tests.trail.helpers import append

pytestmark = pytest.mark.django_db


def test_leaf_is_canonical_json_of_the_event_and_hashed_as_rfc9162() -> None:
    append(3)
    event = Event.objects.get(seq=2)
    leaf = bytes(event.leaf)
    decoded = json.loads(leaf)
    assert rfc8785.dumps(decoded) == leaf  # stored exactly as the canonical encoder produced it
    assert decoded["seq"] == 2
    assert decoded["action"] == "team.created"
    assert decoded["payload"] == {"slug": "t2"}
    assert decoded["time"].endswith("Z")
    assert decoded["prev"] == bytes(Event.objects.get(seq=1).leaf_hash).hex()
    assert bytes(event.leaf_hash) == hashlib.sha256(b"\x00" + leaf).digest()


def test_root_matches_recomputation_from_leaves() -> None:
    append(13)
    size, root = current_root()
    hashes = [bytes(h) for h in Event.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert size == 13
    assert root == root_from_leaf_hashes(hashes)


def test_actor_is_ids_only() -> None:
    user = actions.do_create_user(username="alice.smith", role="owner", email="alice@example.org", actor=Actor.system())
    with transaction.atomic():
        record_event(events.TEAM_CREATED, actor=Actor.for_user(user), payload={"slug": "x"})
    leaf = bytes(Event.objects.order_by("-seq").first().leaf)
    assert b"alice" not in leaf
    assert json.loads(leaf)["actor"] == {"kind": "user", "token": None, "user": user.pk}


def test_undeclared_event_type_or_payload_field_is_refused() -> None:
    with transaction.atomic():
        with pytest.raises(KeyError, match="not registered"):
            record_event("model.teleported", actor=Actor.system())
        with pytest.raises(TrailError, match="does not declare payload fields \\['email'\\]"):
            record_event(events.TEAM_CREATED, actor=Actor.system(), payload={"slug": "a", "email": "a@b.c"})
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused(unprotected_trail: None) -> None:
    with pytest.raises(TrailError, match="inside the action's transaction"):
        record_event(events.TEAM_CREATED, actor=Actor.system(), payload={"slug": "a"})
    assert Event.objects.count() == 0


def test_exception_after_business_write_leaves_neither_change_nor_event(monkeypatch: pytest.MonkeyPatch) -> None:
    real = actions.record_event

    def record_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("injected failure after the event was appended")

    monkeypatch.setattr(actions, "record_event", record_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        actions.do_create_team(slug="risk", actor=Actor.system())
    assert not Team.objects.filter(slug="risk").exists()
    assert Event.objects.count() == 0


def test_business_write_failure_after_event_rolls_back_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_create(*args, **kwargs):
        raise IntegrityError("injected")

    append(1)
    monkeypatch.setattr(Team.objects, "create", fail_create)
    with pytest.raises(IntegrityError):
        actions.do_create_team(slug="risk", actor=Actor.system())
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE governance_event SET action = 'x' WHERE seq = 0",
        "DELETE FROM governance_event WHERE seq = 1",
        "UPDATE governance_merklenode SET hash = hash",
        "DELETE FROM governance_merklenode",
        "DELETE FROM governance_checkpoint",
        "UPDATE governance_signingkey SET name = 'x'",
    ],
)
def test_triggers_refuse_update_and_delete(sql: str) -> None:
    append(2)

    issue_checkpoint()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def test_insert_that_does_not_extend_the_chain_is_refused() -> None:
    append(2)
    last = Event.objects.get(seq=1)
    with pytest.raises(DatabaseError, match="extend the chain"), transaction.atomic():
        Event.objects.create(
            seq=5,
            recorded_at=last.recorded_at,
            action="team.created",
            actor_kind="system",
            payload={},
            leaf=b"{}",
            leaf_hash=b"\x00" * 32,
            prev_hash=bytes(last.leaf_hash),
        )
    with pytest.raises(DatabaseError, match="extend the chain"), transaction.atomic():
        Event.objects.create(
            seq=2,
            recorded_at=last.recorded_at,
            action="team.created",
            actor_kind="system",
            payload={},
            leaf=b"{}",
            leaf_hash=b"\x00" * 32,
            prev_hash=b"\x01" * 32,
        )


def test_sqlite_insert_or_replace_cannot_overwrite_a_row() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite syntax; PostgreSQL has no such statement")
    append(2)
    before = bytes(Event.objects.get(seq=0).leaf)
    # Either guard may fire first (SQLite does not promise an order among BEFORE INSERT triggers).
    refused = "append-only|extend the chain"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA recursive_triggers = OFF")  # the guard must not depend on this pragma
    with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT OR REPLACE INTO governance_event (seq, recorded_at, action, actor_kind, object_type, object_id,"
            " payload, leaf, leaf_hash, prev_hash) VALUES (0, '2020-01-01', 'x', 'system', '', '', '{}', x'00',"
            " x'00', x'')"
        )
    assert bytes(Event.objects.get(seq=0).leaf) == before
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT OR REPLACE INTO governance_merklenode (level, \"index\", hash) VALUES (0, 0, x'00')")


def test_postgresql_truncate_is_refused() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE triggers exist on PostgreSQL only; SQLite has no TRUNCATE statement")
    append(1)
    with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE governance_event CASCADE")


def test_checkpoint_smaller_than_an_earlier_one_is_refused_by_the_database() -> None:
    append(3)
    checkpoint = issue_checkpoint()
    with pytest.raises(DatabaseError, match="fewer events"), transaction.atomic():
        Checkpoint.objects.create(
            tree_size=1, root_hash=b"\x00" * 32, note="x", key=checkpoint.key, issued_at=checkpoint.issued_at
        )


def test_system_check_fails_when_a_trigger_is_missing() -> None:
    assert trail_triggers_present() == []
    drop_triggers(connection)
    try:
        errors = trail_triggers_present()
    finally:
        install_triggers(connection)
    assert [e.id for e in errors] == ["assay.E001"]
    assert "governance_event_no_update" in errors[0].msg
    assert errors[0].level == checks.ERROR


def test_a_failed_append_caught_inside_the_action_still_rolls_the_whole_action_back() -> None:
    append(2)
    MerkleNode.objects.create(level=0, index=2, hash=b"\0" * 32)  # the next leaf's place, taken: its insert fails
    with transaction.atomic():
        Team.objects.create(slug="half-done", name="half-done")
        with pytest.raises(DatabaseError):
            record_event(events.TEAM_CREATED, actor=Actor.system(), payload={"slug": "half-done"})
        # Caught inside the action's block (a careless caller): the block must still roll back, as after an ORM
        # write's failure, never commit the team and an event without its Merkle nodes.
        assert connection.needs_rollback
    assert Event.objects.count() == 2
    assert not Team.objects.filter(slug="half-done").exists()


def _manage(*argv: str) -> None:
    """Run a command as ``manage.py`` does (its parser's defaults, so system checks run unless the command is
    exempt), in this process and test database (``run_from_argv`` would also close the connection)."""
    name, *rest = argv
    command = load_command_class(get_commands()[name], name)
    options = vars(command.create_parser("manage.py", name).parse_args(rest))
    command.execute(*options.pop("args", ()), **options)


@pytest.mark.parametrize("command", ["install_trail_triggers", "verify_trail"])
def test_the_commands_the_missing_trigger_hint_names_run_while_that_check_fails(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    append(2)
    drop_triggers(connection)
    try:
        # The check blocks an ordinary command, as manage.py runs it...
        with pytest.raises(SystemCheckError, match=r"assay\.E001"):
            _manage("trail_checkpoint")
        # ...but not the repair and the verification its hint names.
        _manage(command)
    finally:
        install_triggers(connection)
    assert trigger_names(connection.vendor) <= installed_triggers(connection)
    assert "verify_trail" in capsys.readouterr().out or command == "verify_trail"


def test_trail_keygen_runs_while_the_configured_key_cannot_load(tmp_path: Path, settings: Any) -> None:
    settings.TRAIL_SIGNING_KEY = "not a PEM key"
    with pytest.raises(SystemCheckError, match=r"assay\.E003"):
        _manage("trail_checkpoint")
    _manage("trail_keygen", "--out", str(tmp_path / "new.pem"))
    assert (tmp_path / "new.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
