"""Helpers for trail tests: appending test events and acting as an attacker with database access."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection, transaction

from governance.trail import events
from governance.trail.db import drop_triggers, install_triggers
from governance.trail.log import Actor, record_event
from governance.trail.merkle import CompactRange, leaf_hash
from governance.trail.models import Event, MerkleNode

VERIFIER = Path(__file__).resolve().parents[2] / "governance" / "trail" / "verifier.py"


def append(n: int, *, start: int = 0) -> None:
    """Append ``n`` team.created events (each in its own transaction, as actions do)."""
    for i in range(start, start + n):
        with transaction.atomic():
            record_event(
                events.TEAM_CREATED, actor=Actor.system(), object_type="test", object_id=i, payload={"slug": f"t{i}"}
            )


def as_attacker(change: Callable[[Any], None]) -> None:
    """Run raw SQL with the protective triggers dropped, as someone with database access would."""
    drop_triggers(connection)
    try:
        with connection.cursor() as cursor:
            change(cursor)
    finally:
        install_triggers(connection)


def rebuild_nodes(cursor: Any) -> None:
    """Recompute every stored Merkle node from the (tampered) leaves, as a careful attacker would."""
    cursor.execute("DELETE FROM governance_merklenode")
    edge = CompactRange()
    rows = []
    for leaf in Event.objects.order_by("seq").values_list("leaf", flat=True):
        rows.extend(edge.append(leaf_hash(bytes(leaf))))
    MerkleNode.objects.bulk_create([MerkleNode(level=level, index=index, hash=h) for (level, index), h in rows])


def run_verify_trail(*args: str) -> tuple[int, str]:
    """``manage.py verify_trail`` in process; returns (exit code, stdout + stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_trail", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def run_offline_verifier(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The standalone verifier as a regulator runs it: a separate Python process, no Django."""
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
