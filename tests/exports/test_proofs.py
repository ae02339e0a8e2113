"""The batched proofs an evidence bundle carries are exactly the trail's single proofs."""

from __future__ import annotations

import random

from governance.trail.merkle import MemoryNodeStore, inclusion_proof, leaf_hash, root_at, verify_inclusion
from governance.trail.verifier import inclusion_proofs, range_node_ids


def _leaf(i: int) -> bytes:
    return leaf_hash(f"leaf {i}".encode())


def test_batched_inclusion_proofs_equal_single_ones() -> None:
    store, _ = MemoryNodeStore.from_leaf_hashes(_leaf(i) for i in range(1000))
    rng = random.Random(8)
    for size in (1, 2, 7, 64, 513, 1000):
        indices = sorted(set(rng.sample(range(size), min(size, 40))) | {size - 1})
        batched = list(inclusion_proofs(indices=indices, tree_size=size, get_nodes=store.get_nodes))
        single = [inclusion_proof(index=i, tree_size=size, get_nodes=store.get_nodes) for i in indices]
        assert batched == single
        root = root_at(size, store.get_nodes)
        for index, proof in zip(indices, batched, strict=True):
            verify_inclusion(leaf_hash=_leaf(index), index=index, tree_size=size, proof=proof, root=root)


def test_ranges_split_into_the_fewest_perfect_aligned_nodes() -> None:
    for begin in range(70):
        for end in range(begin, 140):
            ids = range_node_ids(begin, end)
            assert [leaf for node in ids for leaf in range(node.begin, node.end)] == list(range(begin, end))
            size = end - begin
            if size and not size & (size - 1) and begin % size == 0:
                assert len(ids) == 1  # a perfect aligned range is one node (the fast path)
