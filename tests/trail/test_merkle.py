"""Tests for governance/trail/merkle.py: node addressing, compact ranges, proof generation.

Generated proofs are compared element by element with a literal transcription of RFC 9162's
recursive definitions (MTH, PATH, SUBPROOF), and every mutation of a valid proof is refused.
Plain pytest and Hypothesis; no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.trail.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryNodeStore,
    NodeId,
    VerificationError,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_path_ranges,
    inclusion_proof,
    leaf_hash,
    range_node_ids,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------------------------
# REFERENCE: RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1 transcribed literally (recursive,
# slow, tests only). Leaf *data* in, hashlib directly: no code shared with the implementation.
# ---------------------------------------------------------------------------------------------


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n])."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _largest_power_of_two_below(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the inclusion proof of leaf m."""
    if len(leaves) == 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), defined for 0 < m < n."""
    return ref_subproof(m, leaves, True)


# ---------------------------------------------------------------------------------------------
# Fixtures: one log of MAX_SIZE leaves; every perfect node stored from CompactRange appends.
# ---------------------------------------------------------------------------------------------

MAX_SIZE = 302  # property tests use sizes up to 300, plus room for "size + 1" mutations
LEAVES = [f"event {i}".encode() for i in range(MAX_SIZE)]  # distinct, so no accidental equal hashes
HASHES = [leaf_hash(leaf) for leaf in LEAVES]
STORE, FRONTIER = MemoryNodeStore.from_leaf_hashes(HASHES)


@cache
def ref_root(size: int) -> bytes:
    return ref_mth(LEAVES[:size])


class CountingNodes:
    """get_nodes over STORE that records each call, to check batching and read bounds."""

    def __init__(self) -> None:
        self.calls: list[list[NodeId]] = []

    def __call__(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        self.calls.append(list(ids))
        return STORE.get_nodes(ids)


def flip_bit(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


# Known answers from transparency-dev/merkle testonly/constants.go (RFC 6962 reference tree of
# 8 leaves): the hash of every perfect node, by level then index.
KNOWN_LEAVES = [
    bytes.fromhex(text)
    for text in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
KNOWN_NODES = {
    NodeId(0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    NodeId(0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    NodeId(0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    NodeId(0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    NodeId(0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    NodeId(0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    NodeId(0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    NodeId(0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    NodeId(1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    NodeId(1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    NodeId(1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    NodeId(1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    NodeId(2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    NodeId(2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    NodeId(3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# The compact range (peaks) after each append, from the same file's CompactTrees().
KNOWN_PEAKS = {
    1: [NodeId(0, 0)],
    2: [NodeId(1, 0)],
    3: [NodeId(1, 0), NodeId(0, 2)],
    4: [NodeId(2, 0)],
    5: [NodeId(2, 0), NodeId(0, 4)],
    6: [NodeId(2, 0), NodeId(1, 2)],
    7: [NodeId(2, 0), NodeId(1, 2), NodeId(0, 6)],
    8: [NodeId(3, 0)],
}


# ---------------------------------------------------------------------------------------------
# Node addressing
# ---------------------------------------------------------------------------------------------


def test_node_id_covers_an_aligned_power_of_two_range() -> None:
    assert (NodeId(0, 5).begin, NodeId(0, 5).end) == (5, 6)
    assert (NodeId(3, 2).begin, NodeId(3, 2).end) == (16, 24)
    assert NodeId(1, 2) == (1, 2)  # plain tuples from a database row address the same node


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        (0, 0, []),
        (0, 1, [(0, 0)]),
        (0, 13, [(3, 0), (2, 2), (0, 12)]),  # 13 = 8 + 4 + 1
        (8, 13, [(2, 2), (0, 12)]),
        (3, 9, [(0, 3), (2, 1), (0, 8)]),  # not a tree node: grows then shrinks
        (5, 6, [(0, 5)]),
        (16, 32, [(4, 1)]),
    ],
)
def test_range_node_ids_examples(begin: int, end: int, expected: list[tuple[int, int]]) -> None:
    assert range_node_ids(begin, end) == expected


@settings(max_examples=200, deadline=None)
@given(begin=st.integers(0, 5000), length=st.integers(0, 5000))
def test_range_node_ids_tile_the_range_with_few_aligned_nodes(begin: int, length: int) -> None:
    end = begin + length
    ids = range_node_ids(begin, end)
    position = begin
    for node in ids:
        assert node.begin == position  # contiguous, left to right, and aligned by construction
        position = node.end
    assert position == end
    assert len(ids) <= 2 * max(length, 1).bit_length()


def test_range_node_ids_refuses_reversed_ranges() -> None:
    with pytest.raises(ValueError, match=r"reversed leaf range \[5, 4\)"):
        range_node_ids(5, 4)


# ---------------------------------------------------------------------------------------------
# CompactRange
# ---------------------------------------------------------------------------------------------


def test_compact_range_known_answers() -> None:
    frontier = CompactRange()
    emitted: dict[NodeId, bytes] = {}
    for size, data in enumerate(KNOWN_LEAVES, start=1):
        for node, value in frontier.append(leaf_hash(data)):
            assert node not in emitted, f"{node} emitted twice"
            emitted[node] = value
        assert CompactRange.peak_ids(size) == KNOWN_PEAKS[size]
        assert [value.hex() for value in frontier.peaks] == [KNOWN_NODES[node] for node in KNOWN_PEAKS[size]]
        assert frontier.root() == ref_mth(KNOWN_LEAVES[:size])
    # Every perfect node of the 8-leaf tree was emitted exactly once, with the published hash.
    assert {node: value.hex() for node, value in emitted.items()} == KNOWN_NODES


def test_append_returns_the_leaf_and_every_parent_it_completes() -> None:
    frontier = CompactRange()
    for data in KNOWN_LEAVES[:7]:
        frontier.append(leaf_hash(data))
    completed = frontier.append(leaf_hash(KNOWN_LEAVES[7]))
    assert [node for node, _ in completed] == [NodeId(0, 7), NodeId(1, 3), NodeId(2, 1), NodeId(3, 0)]
    assert frontier.size == 8


def test_appends_cost_about_two_hashes_each() -> None:
    # Nodes emitted = hash operations + 1 per append (the leaf itself). Over n appends the
    # total is exactly 2n - popcount(n), i.e. fewer than two per leaf amortised.
    frontier = CompactRange()
    emitted = sum(len(frontier.append(value)) for value in HASHES[:300])
    assert emitted == 2 * 300 - (300).bit_count()
    assert emitted - 300 < 300  # hash operations


def test_compact_range_resumes_from_stored_peaks() -> None:
    for size in (0, 1, 7, 8, 13, 255, 256, 301):
        resumed = CompactRange.load(size, STORE.get_nodes)
        assert resumed.size == size
        assert resumed.root() == ref_root(size)
        assert CompactRange(size, resumed.peaks).root() == resumed.root()
    # Appending to a resumed range continues the same log.
    resumed = CompactRange.load(100, STORE.get_nodes)
    for value in HASHES[100:150]:
        resumed.append(value)
    assert resumed.root() == ref_root(150)


def test_compact_range_refuses_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="size 3 has 2 peaks, got 1"):
        CompactRange(3, [HASHES[0]])
    with pytest.raises(ValueError, match="peak 0 is 31 bytes"):
        CompactRange(1, [HASHES[0][:31]])
    with pytest.raises(ValueError, match="leaf hash is 33 bytes"):
        CompactRange().append(HASHES[0] + b"\x00")
    with pytest.raises(LookupError, match="no hash for peak"):
        CompactRange.load(5, lambda ids: {})


def test_empty_compact_range() -> None:
    assert CompactRange().root() == EMPTY_ROOT
    assert CompactRange.peak_ids(0) == []


# ---------------------------------------------------------------------------------------------
# Proof generation: shape, batching, errors
# ---------------------------------------------------------------------------------------------


def test_inclusion_path_ranges_example() -> None:
    # RFC 9162 2.1.5: the inclusion proof for d3 in the 7-leaf tree is [c, g, l]
    # = leaf 2, node over leaves 0-1, node over leaves 4-6.
    assert inclusion_path_ranges(3, 7) == [(2, 3), (0, 2), (4, 7)]


def test_consistency_proof_ranges_examples() -> None:
    # RFC 9162 2.1.5: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4, D[7]) = [l]; PROOF(6, D[7]) = [i, j, k].
    assert consistency_proof_ranges(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]
    assert consistency_proof_ranges(4, 7) == [(4, 7)]
    assert consistency_proof_ranges(6, 7) == [(4, 6), (6, 7), (0, 4)]
    assert consistency_proof_ranges(0, 7) == []
    assert consistency_proof_ranges(7, 7) == []


def test_proof_generation_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="leaf index 7 is out of range for a tree of size 7"):
        inclusion_proof(index=7, tree_size=7, get_nodes=STORE.get_nodes)
    with pytest.raises(ValueError, match="first size 8 is larger than second size 7"):
        consistency_proof(first_size=8, second_size=7, get_nodes=STORE.get_nodes)


def test_proof_generation_reports_missing_and_malformed_nodes() -> None:
    with pytest.raises(LookupError, match=r"no hash for node NodeId\(level=0, index=1\)"):
        inclusion_proof(index=0, tree_size=2, get_nodes=lambda ids: {})
    with pytest.raises(ValueError, match="returned 3 bytes"):
        inclusion_proof(index=0, tree_size=2, get_nodes=lambda ids: dict.fromkeys(ids, b"abc"))


def test_root_at_reads_only_the_peaks() -> None:
    nodes = CountingNodes()
    assert root_at(13, nodes) == ref_root(13)
    assert nodes.calls == [[NodeId(3, 0), NodeId(2, 2), NodeId(0, 12)]]
    assert root_at(0, nodes) == EMPTY_ROOT
    assert len(nodes.calls) == 1  # the empty tree needs no read


def test_memory_store_refuses_to_rewrite_a_node() -> None:
    store = MemoryNodeStore()
    store.add([(NodeId(0, 0), HASHES[0])])
    store.add([(NodeId(0, 0), HASHES[0])])  # idempotent
    with pytest.raises(ValueError, match="already stored with a different hash"):
        store.add([(NodeId(0, 0), HASHES[1])])


def test_proofs_do_not_authenticate_tree_size_on_their_own() -> None:
    """Documents an RFC 9162 property, not a bug: why sizes must come from signed checkpoints.

    A proof binds hashes to a root; nothing in it binds the root to a size. For some shapes
    the proof for size s also "verifies" when the caller claims size s' with s's root. Here:
    leaf 0 in 5 leaves vs 6 leaves, and consistency 4 -> 6 vs 4 -> 7. So every verifier of ours
    takes size and root together from one signed checkpoint.
    """
    proof = inclusion_proof(index=0, tree_size=5, get_nodes=STORE.get_nodes)
    verify_inclusion(leaf_hash=HASHES[0], index=0, tree_size=6, proof=proof, root=ref_root(5))
    with pytest.raises(VerificationError, match="root mismatch"):
        verify_inclusion(leaf_hash=HASHES[0], index=0, tree_size=6, proof=proof, root=ref_root(6))

    proof = consistency_proof(first_size=4, second_size=6, get_nodes=STORE.get_nodes)
    verify_consistency(first_size=4, second_size=7, first_root=ref_root(4), second_root=ref_root(6), proof=proof)
    with pytest.raises(VerificationError, match="second root mismatch"):
        verify_consistency(first_size=4, second_size=7, first_root=ref_root(4), second_root=ref_root(7), proof=proof)


# ---------------------------------------------------------------------------------------------
# Properties (Hypothesis)
# ---------------------------------------------------------------------------------------------


def _read_bound(size: int) -> int:
    # Each proof element is one perfect node except at most one right-edge range per proof,
    # which splits into at most log2(n) + 1 perfect nodes.
    return 2 * size.bit_length() + 2


def _refused(**arguments: object) -> bool:
    verify = verify_inclusion if "index" in arguments else verify_consistency
    try:
        verify(**arguments)  # type: ignore[arg-type]
    except VerificationError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_roots_agree_everywhere(data: st.DataObject) -> None:
    size = data.draw(st.integers(0, 300), label="size")
    expected = ref_root(size)
    assert root_from_leaf_hashes(HASHES[:size]) == expected
    assert root_at(size, STORE.get_nodes) == expected
    assert CompactRange.load(size, STORE.get_nodes).root() == expected
    frontier = CompactRange()
    for value in HASHES[:size]:
        frontier.append(value)
    assert frontier.root() == expected


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_verify_and_every_mutation_is_refused(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 300), label="tree_size")
    index = data.draw(st.integers(0, size - 1), label="index")
    nodes = CountingNodes()
    proof = inclusion_proof(index=index, tree_size=size, get_nodes=nodes)

    # Exactly the RFC's PATH, read with one batched call of O(log n) nodes inside the tree.
    assert proof == ref_path(index, LEAVES[:size])
    assert len(nodes.calls) == (1 if proof else 0)
    requested = [node for call in nodes.calls for node in call]
    assert len(requested) <= _read_bound(size)
    assert all(node.end <= size for node in requested)

    valid = {"leaf_hash": HASHES[index], "index": index, "tree_size": size, "proof": proof, "root": ref_root(size)}
    verify_inclusion(**valid)  # type: ignore[arg-type]

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        mutated = [*proof]
        mutated[position] = flip_bit(proof[position], bit)
        assert _refused(**{**valid, "proof": mutated})
    bit = data.draw(st.integers(0, 255), label="bit")
    assert _refused(**{**valid, "root": flip_bit(valid["root"], bit)})  # type: ignore[arg-type]
    assert _refused(**{**valid, "leaf_hash": flip_bit(HASHES[index], bit)})

    other_index = data.draw(st.integers(-1, size + 1), label="other_index")
    for wrong in {index - 1, index + 1, other_index} - {index}:
        assert _refused(**{**valid, "index": wrong})

    # A different size is refused against that size's real root (the root a signed
    # checkpoint of that size would carry); see test_proofs_do_not_authenticate_tree_size...
    other_size = data.draw(st.integers(0, MAX_SIZE), label="other_size")
    for wrong in {size - 1, size + 1, other_size} - {size}:
        assert _refused(**{**valid, "tree_size": wrong, "root": ref_root(wrong)})


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_consistency_proofs_verify_and_every_mutation_is_refused(data: st.DataObject) -> None:
    second = data.draw(st.integers(1, 300), label="second_size")
    first = data.draw(st.integers(0, second), label="first_size")
    nodes = CountingNodes()
    proof = consistency_proof(first_size=first, second_size=second, get_nodes=nodes)

    assert proof == (ref_proof(first, LEAVES[:second]) if 0 < first < second else [])
    assert len(nodes.calls) == (1 if proof else 0)
    requested = [node for call in nodes.calls for node in call]
    assert len(requested) <= _read_bound(second)
    assert all(node.end <= second for node in requested)

    valid = {
        "first_size": first,
        "second_size": second,
        "first_root": ref_root(first),
        "second_root": ref_root(second),
        "proof": proof,
    }
    verify_consistency(**valid)  # type: ignore[arg-type]

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        mutated = [*proof]
        mutated[position] = flip_bit(proof[position], bit)
        assert _refused(**{**valid, "proof": mutated})
        assert _refused(**{**valid, "proof": proof[:-1]})
        assert _refused(**{**valid, "proof": [*proof, proof[0]]})
    bit = data.draw(st.integers(0, 255), label="bit")
    assert _refused(**{**valid, "first_root": flip_bit(ref_root(first), bit)})
    if first > 0:  # every tree extends the empty tree, whatever its root: nothing to refuse
        assert _refused(**{**valid, "second_root": flip_bit(ref_root(second), bit)})

    # Other sizes, each with its real root (see test_proofs_do_not_authenticate_tree_size...).
    # Skipped: claims that are true with this very proof, i.e. from the empty tree (anything
    # extends it) and "size n extends itself" when the proof is empty.
    other_first = data.draw(st.integers(0, MAX_SIZE), label="other_first")
    for wrong in {first - 1, first + 1, other_first} - {first, 0}:
        if wrong == second and not proof:
            continue
        assert _refused(**{**valid, "first_size": wrong, "first_root": ref_root(max(wrong, 0))})
    if first > 0:
        other_second = data.draw(st.integers(0, MAX_SIZE), label="other_second")
        for wrong in {second - 1, second + 1, other_second} - {second}:
            assert _refused(**{**valid, "second_size": wrong, "second_root": ref_root(max(wrong, 0))})
