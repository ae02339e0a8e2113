"""Server-side Merkle tree operations for the audit trail (pure Python, no Django).

Every hashing, verification and proof-building rule lives in :mod:`governance.trail.verifier`,
the standalone file regulators run. This module re-exports those functions so the server
builds proofs with the very code that verifies them, and adds the pieces only the server needs.

Storage model
=============
The server keeps one row per *perfect* subtree, ``(level, index, hash)``, addressed by
:class:`NodeId`: node ``(level, index)`` covers leaves ``[index * 2**level, (index + 1) *
2**level)``. A perfect node's hash never changes once written, so the table is append-only,
like the log. :meth:`CompactRange.append` returns exactly the nodes to insert for each new
leaf (the leaf at level 0 plus every parent it completes: two per leaf on average).

Nodes that are not perfect (on the right edge of a tree whose size is not a power of two)
are never stored; every proof element is the hash of a leaf range ``[a, b)`` that is split
into perfect stored nodes with :func:`range_node_ids` and folded back together.

Reads are batched through a ``get_nodes(ids) -> {id: hash}`` callable that is called at most
once per proof, with O(log n) ids, so in Django it is a single query such as
``Node.objects.filter(Q(level=l, index=i) | ...)`` (or a ``VALUES`` list join).

To resume appending after a restart, load the frontier with one query:
``CompactRange.load(size, get_nodes)`` reads the nodes listed by ``CompactRange.peak_ids(size)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from governance.trail.verifier import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    GetNodes,
    NodeId,
    VerificationError,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_path_ranges,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_node_ids,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "GetNodes",
    "MemoryNodeStore",
    "NodeId",
    "VerificationError",
    "consistency_proof",
    "consistency_proof_ranges",
    "inclusion_path_ranges",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_node_ids",
    "root_at",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]


class MemoryNodeStore:
    """An in-memory node table with the same contract as the database one.

    Used by tests, benchmarks and offline tools. It counts calls and node reads, so tests can
    assert that proof generation asks storage once, for O(log n) nodes.
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self.nodes: dict[NodeId, bytes] = {}
        self.calls = 0
        self.reads = 0

    def add(self, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        """Store nodes, e.g. the list returned by :meth:`CompactRange.append`.

        Rewriting a stored node with a different hash is refused: perfect nodes are immutable,
        so a different value means the log's history changed.
        """
        for node, value in nodes:
            if len(value) != HASH_SIZE:
                raise ValueError(f"node {node} hash is {len(value)} bytes, expected {HASH_SIZE}")
            existing = self.nodes.setdefault(NodeId(*node), bytes(value))
            if existing != value:
                raise ValueError(f"node {node} is already stored with a different hash")

    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Return the stored hash of each requested node (missing nodes are left out)."""
        self.calls += 1
        self.reads += len(ids)
        return {node: self.nodes[node] for node in ids if node in self.nodes}

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> tuple[MemoryNodeStore, CompactRange]:
        """Build a store holding every perfect node of a log of ``hashes``, and its frontier."""
        store = cls()
        frontier = CompactRange()
        for value in hashes:
            store.add(frontier.append(value))
        return store, frontier
