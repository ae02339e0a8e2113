"""Re-derive and check the whole stored trail (what ``manage.py verify_trail`` runs).

For every event, in sequence order: the leaf bytes re-derived from the row's columns equal the stored bytes;
the stored leaf hash equals SHA-256(0x00 || leaf); the sequence numbers are contiguous from 0; each event's
``prev_hash`` is the previous leaf's hash. Then the Merkle tree is rebuilt from the leaves and every stored
node is compared with the recomputed one, and every stored checkpoint must carry a valid signature by a
published key, never go backwards in size or time, and commit to the recomputed root at its size.
Checkpoints a reader kept from earlier (``held``) must match the recomputed root at their size too: that is
what catches a rewrite by someone who could also re-sign or delete the server's own checkpoints.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from governance.trail import verifier, verify_worker
from governance.trail.leaf import Checked, Row, rederive_batch
from governance.trail.log import TrailError, compact_range, current_root, tree_size
from governance.trail.merkle import CompactRange
from governance.trail.models import Checkpoint, Event, MerkleNode, SigningKey
from governance.trail.witnesses import cosigned_note

_BATCH = 5000
_NODE_BATCH = 20000


@dataclass
class Report:
    """What a verification found; ``ok`` only when there are no problems."""

    events: int = 0
    checkpoints: int = 0
    root: bytes = b""
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    cosignatures: list[verifier.Cosignature] | None = None  # with witnesses given: who cosigned the latest checkpoint

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, seq: int | None = None) -> None:
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        self.problems.append(message)


def _event_batches() -> Iterator[list[Row]]:
    # A raw cursor read in keyset-paginated batches: model instances would cost more than hashing at a million rows.
    columns = verify_worker.EVENT_COLUMNS
    last = -1
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM governance_event WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                [last, _BATCH],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _checked_batches(workers: int) -> Iterator[tuple[bytes, list[Checked]]]:
    """Every batch of event rows, checked by ``rederive_batch``, in sequence order.

    Re-encoding a leaf is the costly part of verification, and batches are independent, so with ``workers`` > 1
    they are checked in worker processes while this process reads the next batches. Rows are always read here,
    on the caller's database connection (and transaction); workers receive plain tuples and never touch the
    database.
    """
    if workers <= 1:
        for batch in _event_batches():
            yield rederive_batch(batch)
        return
    if not connection.in_atomic_block:
        # Committed data: workers can read their own ranges, so this process neither reads nor ships rows.
        yield from _checked_ranges(workers)
        return
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited locks or connections
    with context.Pool(workers) as pool:
        pending: deque[Any] = deque()
        for batch in _event_batches():
            pending.append(pool.apply_async(rederive_batch, (batch,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _checked_ranges(workers: int) -> Iterator[tuple[bytes, list[Checked]]]:
    """Batches read and checked entirely in worker processes, by ranges of sequence numbers, in order.

    Only possible outside a transaction (a worker's own connection cannot see uncommitted rows). A range whose
    rows were deleted comes back short, which the caller reports as missing events.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(seq) FROM governance_event")
        (last,) = cursor.fetchone()
    end = 0 if last is None else last + 1
    context = multiprocessing.get_context("spawn")
    database = {
        key: value for key, value in connection.settings_dict.items() if key in ("NAME", "HOST", "PORT", "USER")
    }
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "governance.settings")
    with context.Pool(workers, initializer=verify_worker.init, initargs=(settings_module, database)) as pool:
        pending: deque[Any] = deque()
        for start in range(0, end, _BATCH):
            pending.append(pool.apply_async(verify_worker.check_range, (start, min(start + _BATCH, end))))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def default_workers(events: int) -> int:
    """Worker processes worth starting: none below 50,000 events (starting them costs more than it saves)."""
    return min(os.cpu_count() or 1, 4) if events >= 50_000 else 1


def _trusted_keys_and_held(
    report: Report, trusted_keys: Sequence[str] | None, held: Sequence[str]
) -> tuple[list[verifier.VerifierKey], list[verifier.Checkpoint]]:
    """The verifier keys to trust (given, or those the server published) and the held checkpoints that verify."""
    held_parsed = []
    key_texts = (
        list(trusted_keys)
        if trusted_keys is not None
        else list(SigningKey.objects.values_list("verifier_key", flat=True))
    )
    keys = []
    for text in key_texts:
        try:
            keys.append(verifier.parse_verifier_key(text))
        except (verifier.VerificationError, ValueError) as exc:
            report.fail(f"verifier key {text[:40]!r} is malformed: {exc}")
    for note in held:
        try:
            held_parsed.append(verifier.verify_checkpoint(note, keys=keys, origin=settings.TRAIL_ORIGIN))
        except verifier.VerificationError as exc:
            report.fail(f"a checkpoint you hold does not verify: {exc}")
    return keys, held_parsed


def _check_events(report: Report, workers: int, wanted: set[int]) -> tuple[CompactRange, dict[int, bytes]]:
    """Check every event in order; returns the rebuilt tree's edge and its roots at the ``wanted`` sizes."""
    edge = CompactRange(0, [])
    roots_at: dict[int, bytes] = {0: verifier.EMPTY_ROOT}
    prev = b""
    expected_seq = 0
    for first_prev, results in _checked_batches(workers):
        if results and first_prev != prev and results[0][0] == expected_seq:
            report.fail(
                f"event {expected_seq}: prev_hash does not match event {expected_seq - 1}'s leaf hash (chain broken)",
                expected_seq,
            )
        for seq, computed, rederived, hash_ok, prev_ok in results:
            if seq != expected_seq:
                report.fail(
                    f"event {expected_seq}: missing (the next stored event is {seq}); events were deleted or reordered",
                    expected_seq,
                )
                break
            if not rederived:
                report.fail(f"event {seq}: its columns no longer match its stored leaf bytes (the row was edited)", seq)
            if not hash_ok:
                report.fail(
                    f"event {seq}: stored leaf hash is not SHA-256(0x00 || leaf) (leaf or hash was edited)", seq
                )
            if prev_ok is False:
                report.fail(f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)", seq)
            edge.append(computed)
            prev = computed
            expected_seq += 1
            if expected_seq in wanted:
                roots_at[expected_seq] = edge.root()
        else:
            if len(report.problems) <= 50:
                continue
            report.problems.append("… stopping after 50 problems")
        break
    report.events = expected_seq
    return edge, roots_at


def verify_trail(
    *,
    held: Sequence[str] = (),
    trusted_keys: Sequence[str] | None = None,
    workers: int | None = None,
    witnesses: Sequence[str] = (),
    min_witnesses: int = 0,
) -> Report:
    """Verify every event, node and checkpoint stored; ``held`` are checkpoint notes kept outside the server.

    ``workers``: processes that re-derive leaves in parallel (default: by the trail's size, see default_workers).
    ``witnesses``: witness keys (C2SP, type 0x04) whose stored cosignatures on the latest checkpoint are checked and
    counted; fewer than ``min_witnesses`` is a problem.
    """
    if workers is None:
        workers = default_workers(tree_size())
    report = Report()
    checkpoints = list(Checkpoint.objects.select_related("key").order_by("id"))
    keys, held_parsed = _trusted_keys_and_held(report, trusted_keys, held)
    wanted = {cp.tree_size for cp in checkpoints} | {cp.tree_size for cp in held_parsed}
    edge, roots_at = _check_events(report, workers, wanted)
    report.root = edge.root() if report.events else verifier.EMPTY_ROOT
    if report.ok:
        if MerkleNode.objects.filter(level=0, index__gte=report.events).exists():
            report.fail("there are stored Merkle leaf nodes beyond the last event (events were deleted)")
        _check_leaf_nodes(report)
        _check_inner_nodes(report)
    _check_checkpoints(report, checkpoints, roots_at, keys)
    for parsed in held_parsed:
        _check_against(
            report, parsed.tree_size, parsed.root, roots_at, label=f"the checkpoint you hold ({parsed.tree_size})"
        )
    if witnesses or min_witnesses:
        _check_witnesses(report, checkpoints[-1] if checkpoints else None, witnesses, min_witnesses)
    return report


def _check_witnesses(report: Report, latest: Checkpoint | None, witnesses: Sequence[str], minimum: int) -> None:
    """Check the stored cosignatures of the latest checkpoint by the given witnesses, and count them."""
    try:
        keys = [verifier.parse_witness_key(text) for text in witnesses]
    except verifier.VerificationError as exc:
        report.fail(f"--witness: {exc}")
        return
    if latest is None:
        report.fail(f"there is no checkpoint, so no witness cosignature (need {minimum})")
        return
    try:
        report.cosignatures = verifier.verify_cosignatures(cosigned_note(latest), witnesses=keys)
    except verifier.VerificationError as exc:
        report.fail(f"checkpoint {latest.id} (size {latest.tree_size}): {exc}")
        return
    problem = verifier.witness_problem(report.cosignatures, witnesses=keys, minimum=minimum)
    if problem:
        report.fail(f"checkpoint {latest.id} (size {latest.tree_size}): {problem}")


def _nodes_at(level: int) -> Iterator[tuple[int, bytes]]:
    """Stored nodes of one level in index order, read in batches (constant memory)."""
    # Raw SQL: two million node rows at a million events; the ORM's per-row cost would dominate the check.
    last = -1
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                'SELECT "index", hash FROM governance_merklenode WHERE level = %s AND "index" > %s '
                'ORDER BY "index" LIMIT %s',
                [level, last, _NODE_BATCH],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        for index, digest in rows:
            yield index, bytes(digest)
        last = rows[-1][0]


def _check_leaf_nodes(report: Report) -> None:
    """Every level-0 node equals its event's stored leaf hash (already checked equal to the recomputed one).

    One query in the database rather than a million rows through Python: the comparison is transitive.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.seq FROM governance_event e "
            'LEFT JOIN governance_merklenode n ON n.level = 0 AND n."index" = e.seq '
            "WHERE n.hash IS NULL OR n.hash <> e.leaf_hash ORDER BY e.seq LIMIT 1"
        )
        row = cursor.fetchone()
    if row is not None:
        report.fail(f"event {row[0]}: the stored Merkle leaf node is missing or differs from the leaf hash", row[0])


def _check_inner_nodes(report: Report) -> None:
    """Every stored node above the leaves is node_hash of its two children, and none is missing or extra."""
    size = report.events
    level = 1
    while size >> level:
        children = _nodes_at(level - 1)
        expected = size >> level
        seen = 0
        for index, digest in _nodes_at(level):
            left, right = next(children, (None, b"")), next(children, (None, b""))
            if index != seen or left[0] != 2 * index or right[0] != 2 * index + 1:
                report.fail(f"stored Merkle nodes at level {level} are missing or out of place near index {seen}")
                return
            if verifier.node_hash(left[1], right[1]) != digest:
                report.fail(f"stored Merkle node ({level}, {index}) is not the hash of its children (edited)")
                return
            seen += 1
        if seen != expected:
            report.fail(f"level {level} of the stored Merkle tree has {seen} nodes; {size} events need {expected}")
            return
        level += 1


def _check_against(report: Report, size: int, root: bytes, roots_at: dict[int, bytes], *, label: str) -> None:
    if size > report.events:
        report.fail(
            f"{label} covers {size} events but the trail has {report.events}: the trail was truncated",
            report.events,
        )
    elif roots_at.get(size) != root:
        report.fail(
            f"{label}: its root differs from the recomputed root at size {size}: the first {size} events were rewritten"
        )


def _check_checkpoints(
    report: Report, checkpoints: list[Checkpoint], roots_at: dict[int, bytes], keys: list[verifier.VerifierKey]
) -> None:
    previous: Checkpoint | None = None
    for checkpoint in checkpoints:
        label = f"checkpoint {checkpoint.id} (size {checkpoint.tree_size})"
        try:
            parsed = verifier.verify_checkpoint(checkpoint.note, keys=keys, origin=settings.TRAIL_ORIGIN)
        except verifier.VerificationError as exc:
            report.fail(f"{label}: signature or format does not verify: {exc}")
            continue
        if parsed.tree_size != checkpoint.tree_size or parsed.root != bytes(checkpoint.root_hash):
            report.fail(f"{label}: the signed note and the stored size/root disagree")
        if previous is not None:
            if checkpoint.tree_size < previous.tree_size:
                report.fail(f"{label}: size goes backwards from {previous.tree_size} (a stale checkpoint)")
            if checkpoint.issued_at < previous.issued_at:
                report.fail(f"{label}: issued before the checkpoint that precedes it (a stale checkpoint)")
        _check_against(report, parsed.tree_size, parsed.root, roots_at, label=label)
        previous = checkpoint
        report.checkpoints += 1


Problem = tuple[str, int | None]  # what is wrong, and the first bad sequence number when one is known


def problem_since_last_checkpoint() -> Problem | None:
    """What is wrong with the trail since its last checkpoint (message, first bad seq), or None when it holds.

    Run before signing a new checkpoint, inside the trail's lock, so a checkpoint never vouches for a trail that
    ``verify_trail`` would report broken (say, with its newest events and checkpoints deleted behind the triggers'
    back). Incremental: the last checkpoint's signature, its root against the stored tree and its count of events,
    then only the events after it (re-derived, hashed, chained), stored leaves beyond the last event, and the root
    a new checkpoint would sign recomputed from the leaves. Checkpoints come every
    ``TRAIL_CHECKPOINT_EVERY_EVENTS`` events, so the cost per event stays constant.
    """
    latest = Checkpoint.objects.select_related("key").order_by("-id").first()
    start = _checkpoint_problem(latest) if latest is not None else (CompactRange(0, []), b"")
    if not isinstance(start[0], CompactRange):
        return start  # type: ignore[return-value]
    edge, prev = start
    problem = _events_problem(edge, prev)
    if problem is not None:
        return problem
    if MerkleNode.objects.filter(level=0, index__gte=edge.size).exists():
        return f"stored Merkle leaf nodes beyond the last event ({edge.size - 1}): events were deleted", edge.size
    try:
        size, root = current_root()
    except TrailError as exc:
        return str(exc), None
    if size != edge.size or (size and root != edge.root()):
        return "the stored Merkle tree's root differs from the one recomputed from the events", None
    return None


def _checkpoint_problem(latest: Checkpoint) -> Problem | tuple[CompactRange, bytes]:
    """The last checkpoint checked (signature, root against the stored tree, events stored under it): a problem,
    or the tree's edge at its size and the leaf hash of its last event, to continue from."""
    label = f"checkpoint {latest.id} (size {latest.tree_size})"
    try:
        keys = [verifier.parse_verifier_key(latest.key.verifier_key)]
        parsed = verifier.verify_checkpoint(latest.note, keys=keys, origin=settings.TRAIL_ORIGIN)
        if parsed.tree_size != latest.tree_size or parsed.root != bytes(latest.root_hash):
            raise verifier.VerificationError("the signed note and the stored size/root disagree")
    except (verifier.VerificationError, ValueError) as exc:
        return f"{label}: its signature does not verify: {exc}", None
    try:
        edge = compact_range(latest.tree_size) if latest.tree_size else CompactRange(0, [])
    except TrailError as exc:
        return f"{label}: {exc}", None
    if not latest.tree_size:
        return edge, b""
    if edge.root() != parsed.root:
        return f"{label}: the stored tree no longer has its root (the first events were rewritten)", None
    # One count in the database: a row deleted under the checkpoint leaves its nodes and root intact.
    stored = Event.objects.filter(seq__lt=latest.tree_size).count()
    if stored != latest.tree_size:
        return f"{label}: only {stored} of its {latest.tree_size} events are stored (events were deleted)", None
    prev = Event.objects.filter(seq=latest.tree_size - 1).values_list("leaf_hash", flat=True).first()
    return edge, bytes(prev or b"")


def _events_problem(edge: CompactRange, prev: bytes) -> Problem | None:
    """Re-derive the events after ``edge.size`` in order, appending their leaf hashes to ``edge``."""
    for first_prev, results in _rederived_from(edge.size):
        if results and results[0][0] == edge.size and first_prev != prev:
            return f"event {edge.size}: prev_hash does not match event {edge.size - 1}'s leaf hash", edge.size
        for seq, computed, rederived, hash_ok, prev_ok in results:
            if seq != edge.size:
                return f"event {edge.size}: missing (the next stored event is {seq}); events were deleted", edge.size
            if not rederived:
                return f"event {seq}: its columns no longer match its stored leaf bytes (the row was edited)", seq
            if not hash_ok:
                return f"event {seq}: stored leaf hash is not SHA-256(0x00 || leaf)", seq
            if prev_ok is False:
                return f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash", seq
            edge.append(computed)
            prev = computed
    return None


def _rederived_from(start: int) -> Iterator[tuple[bytes, list[Checked]]]:
    """The events from ``start`` on, in batches, each checked by ``rederive_batch``."""
    last = start - 1
    columns = verify_worker.EVENT_COLUMNS
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM governance_event WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                [last, _BATCH],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield rederive_batch(rows)
        last = rows[-1][0]
