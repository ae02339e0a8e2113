"""Incremental verification (``manage.py verify_trail --incremental``): only what is new since the last run.

The verifier keeps the signed note of the last checkpoint it verified (a file, ``TRAIL_VERIFIED_CHECKPOINT_FILE`` by
default). On the next run it checks that note's signature again, proves with RFC 9162 consistency proofs built from
the stored nodes that the trail's latest checkpoint (and any checkpoint you hold) extends it, re-derives and hashes
only the events after it, appends their hashes to the tree's edge at the kept size (whose root must be the kept
root) and compares the nodes and checkpoints they complete. A first run, with no kept note, verifies everything.

What it cannot see: an event before the kept checkpoint whose row was edited but whose leaf, hashes and nodes were
left alone (its columns no longer re-derive its leaf; the tree is intact). A full run catches that; run one now and
then (docs/trail.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from governance.trail import verifier, verify_worker
from governance.trail.leaf import check_rows
from governance.trail.log import TrailError, get_nodes, tree_size
from governance.trail.merkle import CompactRange, consistency_proof, inclusion_proof
from governance.trail.models import Checkpoint
from governance.trail.verify import (
    Report,
    _check_against,
    _check_checkpoints,
    _check_witnesses,
    _trusted_keys_and_held,
    verify_trail,
)


def default_state_file() -> Path:
    """Where the last verified checkpoint is kept unless a path is given (setting TRAIL_VERIFIED_CHECKPOINT_FILE)."""
    return Path(settings.TRAIL_VERIFIED_CHECKPOINT_FILE)


def verify_incremental(
    *,
    state: Path,
    held: list[str] | tuple[str, ...] = (),
    trusted_keys: list[str] | None = None,
    workers: int | None = None,
    witnesses: list[str] | tuple[str, ...] = (),
    min_witnesses: int = 0,
) -> Report:
    """Verify from the checkpoint kept in ``state`` to the trail's end, and keep the last one it checked when all holds.

    Without a kept checkpoint this is ``verify_trail`` (``workers`` goes to it). The kept note is replaced only by
    the last checkpoint this run checked (``Report.verified_note``), and only when the run found no problem.
    """
    try:
        kept_text = state.read_text(encoding="utf-8")
    except FileNotFoundError:
        kept_text = None
    except (OSError, UnicodeDecodeError) as exc:
        report = Report()
        report.fail(f"the kept checkpoint {state} cannot be read: {exc}; nothing was verified")
        return report
    if kept_text is None:
        report = verify_trail(
            held=held, trusted_keys=trusted_keys, workers=workers, witnesses=witnesses, min_witnesses=min_witnesses
        )
    else:
        report = _verify_since(
            kept_text, state, held=held, trusted_keys=trusted_keys, witnesses=witnesses, min_witnesses=min_witnesses
        )
    # Keep the checkpoint this run checked, not the trail's latest: one issued while the run went on covers events
    # the run never re-derived, and the next run would start after them.
    if report.ok and report.verified_note is not None:
        _keep(state, report.verified_note)
    return report


def _keep(state: Path, note: str) -> None:
    """Replace the kept note atomically (a crash leaves the old one or the new one, never half of either)."""
    state.parent.mkdir(parents=True, exist_ok=True)
    partial = state.with_name(state.name + ".partial")
    partial.write_text(note, encoding="utf-8")
    os.replace(partial, state)


def _verify_since(
    kept_text: str,
    state: Path,
    *,
    held: list[str] | tuple[str, ...],
    trusted_keys: list[str] | None,
    witnesses: list[str] | tuple[str, ...],
    min_witnesses: int,
) -> Report:
    report = Report()
    keys, held_parsed = _trusted_keys_and_held(report, trusted_keys, held)
    try:
        kept = verifier.verify_checkpoint(kept_text, keys=keys, origin=settings.TRAIL_ORIGIN)
    except verifier.VerificationError as exc:
        report.fail(
            f"the checkpoint kept in {state} does not verify: {exc} (it was changed, or is signed by a key you do not "
            "trust); nothing was verified: delete the file to verify everything again"
        )
        return report
    start = kept.tree_size
    report.since = start
    checkpoints = list(Checkpoint.objects.select_related("key").filter(tree_size__gte=start).order_by("id"))
    label = f"the checkpoint you verified last ({start})"
    latest = checkpoints[-1] if checkpoints else None
    size = tree_size()
    if start > size:
        report.fail(f"{label} covers {start} events but the trail has {size}: the trail was truncated", size)
        return report
    if latest is not None:
        _check_consistency(report, start, kept.root, latest, label)
    try:
        edge = _edge_at(start, kept.root, label)
        roots_at = _check_new_events(report, edge, {cp.tree_size for cp in checkpoints})
    except _Refused as exc:
        report.fail(*exc.args)
        return report
    _check_checkpoints(report, checkpoints, roots_at, keys)
    for parsed in held_parsed:
        what = f"the checkpoint you hold ({parsed.tree_size})"
        if parsed.tree_size >= start:
            _check_against(report, parsed.tree_size, parsed.root, roots_at, label=what)
        elif latest is not None:
            _check_consistency(report, parsed.tree_size, parsed.root, latest, what)
    if witnesses or min_witnesses:
        _check_witnesses(report, latest, witnesses, min_witnesses)
    return report


class _Refused(Exception):
    """A problem after which the new events cannot be checked (message, first bad seq)."""


def _edge_at(size: int, root: bytes, label: str) -> CompactRange:
    """The tree's edge at ``size`` from the stored nodes, which must give the kept root."""
    try:
        edge = CompactRange.load(size, get_nodes)
    except (TrailError, LookupError) as exc:
        raise _Refused(f"{label}: the stored tree cannot be read at its size: {exc}: nodes were deleted") from None
    if edge.root() != root:
        raise _Refused(
            f"{label}: the stored tree no longer has its root at size {size}: the first {size} events were rewritten"
        )
    return edge


def _check_new_events(report: Report, edge: CompactRange, sizes: set[int]) -> dict[int, bytes]:
    """Re-derive the events from the edge's size on, append their hashes, compare the nodes they complete."""
    start = edge.size
    anchor = max(start - 1, 0)  # the last verified event: its hash, proven in the kept root, starts the chain
    rows = verify_worker.read_events(anchor, 2**63 - 1)
    if start and (not rows or rows[0][0] != anchor):
        raise _Refused(f"event {anchor}: missing (it is under the checkpoint you verified last)", anchor)
    hashes, flagged = check_rows(rows, prev=None if start else b"")
    if start:
        _check_anchor(anchor, hashes[0], start, edge.root(), flagged)
        rows, hashes = rows[1:], hashes[1:]
        flagged = [flag for flag in flagged if flag[0] != anchor]
    roots_at: dict[int, bytes] = {start: edge.root()}
    completed: list[tuple[int, int, bytes]] = []
    problems = {flag[0]: flag for flag in flagged}
    for row, digest in zip(rows, hashes, strict=True):
        seq = row[0]
        if seq != edge.size:
            report.fail(f"event {edge.size}: missing (the next stored event is {seq}); events were deleted", edge.size)
            break
        if seq in problems:
            _, rederived, hash_ok, prev_ok = problems[seq]
            if not rederived:
                report.fail(f"event {seq}: its columns no longer match its stored leaf bytes (the row was edited)", seq)
            if not hash_ok:
                report.fail(
                    f"event {seq}: stored leaf hash is not SHA-256(0x00 || leaf) (leaf or hash was edited)", seq
                )
            if not prev_ok:
                report.fail(f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)", seq)
        completed.extend((level, index, value) for (level, index), value in edge.append(digest))
        if edge.size in sizes:
            roots_at[edge.size] = edge.root()
    report.events = edge.size
    report.root = edge.root()
    if report.ok:
        _check_nodes(report, start, edge.size, completed)
    return roots_at


def _check_anchor(anchor: int, digest: bytes, size: int, root: bytes, flagged: list[Any]) -> None:
    """The event before the new ones re-derives, and its recomputed hash is the leaf the kept root commits to."""
    if any(flag[0] == anchor and not (flag[1] and flag[2]) for flag in flagged):
        raise _Refused(
            f"event {anchor}: its row no longer matches its stored leaf and hash (it is under the checkpoint you "
            "verified last: the row was edited)",
            anchor,
        )
    try:
        proof = inclusion_proof(index=anchor, tree_size=size, get_nodes=get_nodes)
        verifier.verify_inclusion(leaf_hash=digest, index=anchor, tree_size=size, proof=proof, root=root)
    except (TrailError, LookupError, verifier.VerificationError) as exc:
        raise _Refused(
            f"event {anchor}: its leaf is not the one the checkpoint you verified last commits to ({exc}): the first "
            f"{size} events were rewritten",
            anchor,
        ) from None


def _check_nodes(report: Report, start: int, size: int, completed: list[tuple[int, int, bytes]]) -> None:
    """The stored nodes from the kept size on are exactly the ones the new events completed (none edited or extra)."""
    expected: dict[int, list[tuple[int, bytes]]] = {}
    for level, index, value in completed:
        expected.setdefault(level, []).append((index, value))
    with connection.cursor() as cursor:
        for level in range(max(size.bit_length(), 1) + 1):
            first = start >> level  # the first position a new event can complete (earlier ones were complete)
            cursor.execute(
                'SELECT "index", hash FROM governance_merklenode WHERE level = %s AND "index" >= %s ORDER BY "index"',
                [level, first],
            )
            stored = [(index, bytes(value)) for index, value in cursor.fetchall()]
            wanted = [(index, value) for index, value in expected.get(level, []) if index >= first]
            if stored != wanted:
                where = next(
                    (a[0] for a, b in zip(stored, wanted, strict=False) if a != b), min(len(stored), len(wanted))
                )
                report.fail(
                    f"stored Merkle nodes at level {level} differ from the ones recomputed from the events after "
                    f"{start} (edited, missing or extra), from index {where}",
                    where if level == 0 else None,
                )
                return


def _check_consistency(report: Report, size: int, root: bytes, latest: Checkpoint, label: str) -> None:
    """A checkpoint older than the kept one: the latest checkpoint must extend it (RFC 9162 consistency proof)."""
    try:
        proof = consistency_proof(first_size=size, second_size=latest.tree_size, get_nodes=get_nodes)
        verifier.verify_consistency(
            first_size=size,
            second_size=latest.tree_size,
            first_root=root,
            second_root=bytes(latest.root_hash),
            proof=proof,
        )
    except (TrailError, LookupError, ValueError, verifier.VerificationError) as exc:
        report.fail(
            f"{label}: the trail's latest checkpoint ({latest.tree_size}) does not extend it ({exc}): the first "
            f"{size} events were rewritten"
        )
