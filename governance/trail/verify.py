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

import bisect
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from governance.trail import verifier, verify_worker
from governance.trail.leaf import Checked, rederive_batch
from governance.trail.log import TrailError, compact_range, current_root, tree_size
from governance.trail.merkle import CompactRange
from governance.trail.models import Checkpoint, Event, MerkleNode, SigningKey
from governance.trail.witnesses import cosigned_note

_BATCH = 5000  # problems are counted at these boundaries (stop after 50), as when events were read in batches
_NODE_BATCH = 20000
_CHUNK_BITS = 14  # chunks of 16,384 events: a unit of work for a worker process


@dataclass
class Report:
    """What a verification found; ``ok`` only when there are no problems."""

    events: int = 0
    checkpoints: int = 0
    root: bytes = b""
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    since: int | None = None  # incremental: the size of the kept checkpoint the run started from (None: a full run)
    cosignatures: list[verifier.Cosignature] | None = None  # with witnesses given: who cosigned the latest checkpoint
    # The signed note of the last checkpoint this run checked against the roots it recomputed (None: none checked);
    # verify_trail --incremental keeps exactly this one, never a checkpoint issued while the run went on.
    verified_note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, seq: int | None = None) -> None:
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        self.problems.append(message)


def _chunks(workers: int, sizes: set[int]) -> Iterator[verify_worker.Chunk]:
    """Every chunk of the trail, checked by ``verify_worker``, in sequence order.

    Chunks are independent, so with ``workers`` > 1 they are checked in worker processes. Outside a transaction each
    worker reads its own chunks on its own connection (this process neither reads nor ships rows); inside one (a
    worker's connection cannot see uncommitted rows) this process reads and the workers check.
    """
    bits, width = _CHUNK_BITS, 1 << _CHUNK_BITS
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(seq) FROM governance_event")
        (last,) = cursor.fetchone()
    end = 0 if last is None else last + 1
    ordered = sorted(sizes)

    def options(start: int) -> dict[str, Any]:
        wanted = ordered[bisect.bisect_right(ordered, start) : bisect.bisect_right(ordered, start + width)]
        return {"bits": bits, "sizes": wanted, "batch": _BATCH}

    if workers <= 1:
        for start in range(0, end, width):
            yield verify_worker.check_range(start, min(start + width, end), **options(start))
        return
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited locks or connections
    if connection.in_atomic_block:
        with context.Pool(workers) as pool:
            pending: deque[Any] = deque()
            for start in range(0, end, width):
                rows = verify_worker.read_events(start, min(start + width, end))
                nodes = verify_worker.read_nodes(start, start + len(rows), bits + 1)
                pending.append(pool.apply_async(verify_worker.check_chunk, (start, rows, nodes), options(start)))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
        return
    database = {
        key: value for key, value in connection.settings_dict.items() if key in ("NAME", "HOST", "PORT", "USER")
    }
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "governance.settings")
    with context.Pool(workers, initializer=verify_worker.init, initargs=(settings_module, database)) as pool:
        pending = deque(
            pool.apply_async(verify_worker.check_range, (start, min(start + width, end)), options(start))
            for start in range(0, end, width)
        )
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


@dataclass
class _Walk:
    """The state of the walk over the chunks, in sequence order."""

    report: Report
    expected: int = 0  # the next sequence number
    prev: bytes = b""  # the recomputed leaf hash of the event before it
    check_at: int | None = _BATCH  # a batch end where the "over 50 problems" rule is still to be applied
    stopped: bool = False


def _check_events(report: Report, workers: int, wanted: set[int]) -> tuple[bytes, dict[int, bytes], _Nodes]:
    """Check every event in order; returns the root over the events checked, the roots at the ``wanted`` sizes, and
    what the chunks found of the stored nodes.

    Problems are reported exactly as a reading of the events in batches of ``_BATCH`` reports them (the messages,
    their order, and the stop after 50 problems at a batch's end), whatever the chunk size.
    """
    roots_at: dict[int, bytes] = {0: verifier.EMPTY_ROOT}
    upper = CompactRange(0, [])  # over the roots of the complete chunks: the tree's levels above a chunk
    nodes = _Nodes()
    walk = _Walk(report)
    root = verifier.EMPTY_ROOT
    short = False  # the previous chunk's events ended before the chunk did
    for chunk in _chunks(workers, wanted):
        if short or not chunk.count:
            following = chunk.start if chunk.count else chunk.next_seq
            if following is None:
                short = True  # nothing stored in this whole chunk: the next one says what follows
                continue
            _missing(report, walk.expected, following)
            break
        roots = {size: _fold([*upper.peaks, *peaks]) for size, peaks in chunk.peaks.items()}
        roots_at.update((size, value) for size, value in roots.items() if size in wanted)
        _report_rows(walk, chunk)
        if walk.stopped:
            root = roots[walk.expected]
            break
        walk.expected, walk.prev = chunk.start + chunk.count, chunk.last_hash
        root = roots[walk.expected]
        nodes.ok = nodes.ok and chunk.nodes_ok
        if chunk.next_seq is not None:
            _missing(report, walk.expected, chunk.next_seq)
            break
        if chunk.root is None:
            short = True
            continue
        for (level, index), value in upper.append(chunk.root)[1:]:
            nodes.upper.append((level + _CHUNK_BITS, index, value))
    else:
        if walk.check_at is not None and len(report.problems) > 50:  # the last batch, however short
            report.problems.append("… stopping after 50 problems")
    report.events = walk.expected
    return root, roots_at, nodes


def _missing(report: Report, seq: int, following: int) -> None:
    report.fail(f"event {seq}: missing (the next stored event is {following}); events were deleted or reordered", seq)


def _report_rows(walk: _Walk, chunk: verify_worker.Chunk) -> None:
    """Report the problems of a chunk's events in order, stopping at the end of a batch once there are over 50."""
    report = walk.report
    flagged = list(chunk.flagged)
    if chunk.count and chunk.first_prev != walk.prev:  # the one chain link the chunk could not check on its own
        if flagged and flagged[0][0] == chunk.start:
            flagged[0] = (*flagged[0][:3], False)
        else:
            flagged.insert(0, (chunk.start, True, True, False))
    for seq, rederived, hash_ok, prev_ok in flagged:
        if walk.check_at is not None and seq >= walk.check_at and _stop(walk, walk.check_at):
            return
        batch_start = seq % _BATCH == 0  # there the chain is checked before the event's own checks
        if batch_start and not prev_ok:
            report.fail(f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)", seq)
        if not rederived:
            report.fail(f"event {seq}: its columns no longer match its stored leaf bytes (the row was edited)", seq)
        if not hash_ok:
            report.fail(f"event {seq}: stored leaf hash is not SHA-256(0x00 || leaf) (leaf or hash was edited)", seq)
        if not batch_start and not prev_ok:
            report.fail(f"event {seq}: prev_hash does not match event {seq - 1}'s leaf hash (chain broken)", seq)
        walk.check_at = (seq // _BATCH + 1) * _BATCH
    if walk.check_at is not None and walk.check_at <= chunk.start + chunk.count:
        _stop(walk, walk.check_at)


def _stop(walk: _Walk, at: int) -> bool:
    """Apply the rule at the end of the batch that ends at ``at``: stop there once there are over 50 problems."""
    walk.check_at = None
    if len(walk.report.problems) <= 50:
        return False
    walk.report.problems.append("… stopping after 50 problems")
    walk.expected, walk.stopped = at, True
    return True


def _fold(peaks: Sequence[bytes]) -> bytes:
    """The root over consecutive perfect subtrees, given left to right (as ``CompactRange.root``)."""
    if not peaks:
        return verifier.EMPTY_ROOT
    current = peaks[-1]
    for peak in reversed(peaks[:-1]):
        current = verifier.node_hash(peak, current)
    return current


@dataclass
class _Nodes:
    """What the chunks found of the stored Merkle nodes, and the recomputed nodes above the chunks' level."""

    ok: bool = True
    upper: list[tuple[int, int, bytes]] = field(default_factory=list)


def _nodes_match(size: int, nodes: _Nodes) -> bool:
    """Every stored node is the recomputed one and there are no others (the chunks checked levels up to theirs)."""
    if not nodes.ok:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT level, "index", hash FROM governance_merklenode WHERE level > %s ORDER BY level, "index"',
            [_CHUNK_BITS],
        )
        if [(level, index, bytes(digest)) for level, index, digest in cursor.fetchall()] != sorted(nodes.upper):
            return False
        cursor.execute("SELECT COUNT(*) FROM governance_merklenode")
        (count,) = cursor.fetchone()
    return bool(count == sum(size >> level for level in range(size.bit_length())))


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
    report.root, roots_at, nodes = _check_events(report, workers, wanted)
    if report.ok:
        before = len(report.problems)
        if MerkleNode.objects.filter(level=0, index__gte=report.events).exists():
            report.fail("there are stored Merkle leaf nodes beyond the last event (events were deleted)")
        if not _nodes_match(report.events, nodes):
            # Something differs: the node-by-node checks below say exactly what (they read every node, so they
            # only run when the bulk comparison failed).
            _check_leaf_nodes(report)
            _check_inner_nodes(report)
            if len(report.problems) == before:
                report.fail(
                    f"the stored Merkle tree holds nodes that a tree of {report.events} events does not have "
                    "(rows were added to it)"
                )
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
        before = len(report.problems)
        _check_against(report, parsed.tree_size, parsed.root, roots_at, label=label)
        if len(report.problems) == before:
            report.verified_note = checkpoint.note
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
