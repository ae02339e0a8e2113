"""Benchmarks for the audit trail's Merkle code: python benchmarks/bench_merkle.py [--leaves N].

Prints figures only (no assertions on time: they depend on the machine). Measures:

* ``root_from_leaf_hashes`` over 1,000,000 leaf hashes, against a naive recursive
  transcription of RFC 9162's MTH over 100,000 (per-leaf cost and ratio);
* ``CompactRange.append`` throughput, and with every completed node stored;
* inclusion and consistency proof generation at 1,000,000 leaves from an in-memory node
  table, with the number of ``get_nodes`` calls and node reads per proof.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install needed

from governance.trail.merkle import (
    CompactRange,
    MemoryNodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

T = TypeVar("T")


def naive_mth(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH by its recursive definition, over leaf hashes (the baseline)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + naive_mth(hashes[:split]) + naive_mth(hashes[split:])).digest()


def timed(function: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def bench_roots(hashes: list[bytes], naive_leaves: int) -> bytes:
    """Time root_from_leaf_hashes against the naive recursive MTH; return the root."""
    n = len(hashes)
    seconds, root = timed(lambda: root_from_leaf_hashes(hashes))
    fast_per_leaf = seconds / n
    print(f"root_from_leaf_hashes({n:,}): {seconds:.3f} s ({fast_per_leaf * 1e9:.0f} ns/leaf)")
    sample = hashes[:naive_leaves]
    naive_seconds, naive_root = timed(lambda: naive_mth(sample))
    assert naive_root == root_from_leaf_hashes(sample)  # correctness, not timing
    naive_per_leaf = naive_seconds / len(sample)
    print(
        f"naive recursive MTH({len(sample):,}): {naive_seconds:.3f} s ({naive_per_leaf * 1e9:.0f} ns/leaf); "
        f"iterative is {naive_per_leaf / fast_per_leaf:.1f}x faster per leaf"
    )
    return root


def bench_appends(hashes: list[bytes], root: bytes) -> MemoryNodeStore:
    """Time CompactRange appends, then appends that store every completed node."""
    n = len(hashes)
    frontier = CompactRange()
    seconds, _ = timed(lambda: [frontier.append(value) for value in hashes])
    assert frontier.root() == root
    print(f"CompactRange.append: {n / seconds:,.0f} appends/s ({seconds / n * 1e6:.2f} us each)")

    seconds, built = timed(lambda: MemoryNodeStore.from_leaf_hashes(hashes))
    store, _ = built
    print(
        f"append + store every completed node: {n / seconds:,.0f} appends/s; "
        f"{len(store.nodes):,} nodes stored ({len(store.nodes) / n:.2f} per leaf)"
    )
    return store


def bench_proofs(hashes: list[bytes], root: bytes, store: MemoryNodeStore, proofs: int) -> None:
    """Time inclusion and consistency proof generation against the full tree."""
    n = len(hashes)
    # The in-memory table stands in for the database. Freeze its ~2M objects so the cyclic
    # garbage collector does not rescan them during the timings (that would show up as
    # multi-millisecond p99 outliers that have nothing to do with proof generation).
    gc.collect()
    gc.freeze()
    rng = random.Random(20250630)
    durations, reads, calls, verify_durations = [], [], [], []
    for _ in range(proofs):
        index = rng.randrange(n)
        store.calls = store.reads = 0
        start = time.perf_counter()
        proof = inclusion_proof(index=index, tree_size=n, get_nodes=store.get_nodes)
        durations.append(time.perf_counter() - start)
        reads.append(store.reads)
        calls.append(store.calls)
        start = time.perf_counter()
        verify_inclusion(leaf_hash=hashes[index], index=index, tree_size=n, proof=proof, root=root)
        verify_durations.append(time.perf_counter() - start)
    print(
        f"inclusion_proof at {n:,} leaves: mean {statistics.fmean(durations) * 1e6:.1f} us, "
        f"p99 {sorted(durations)[int(len(durations) * 0.99)] * 1e6:.1f} us; "
        f"node reads mean {statistics.fmean(reads):.1f}, max {max(reads)}; get_nodes calls per proof {max(calls)}"
    )
    print(f"verify_inclusion: mean {statistics.fmean(verify_durations) * 1e6:.1f} us")

    durations, reads = [], []
    for _ in range(proofs):
        first = rng.randrange(1, n)
        store.calls = store.reads = 0
        start = time.perf_counter()
        proof = consistency_proof(first_size=first, second_size=n, get_nodes=store.get_nodes)
        durations.append(time.perf_counter() - start)
        reads.append(store.reads)
        if len(durations) <= 20:  # verifying needs the first root; a few suffice as a check
            first_root = CompactRange.load(first, store.get_nodes).root()
            verify_consistency(first_size=first, second_size=n, first_root=first_root, second_root=root, proof=proof)
    print(
        f"consistency_proof to {n:,} leaves: mean {statistics.fmean(durations) * 1e6:.1f} us; "
        f"node reads mean {statistics.fmean(reads):.1f}, max {max(reads)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="tree size (default 1,000,000)")
    parser.add_argument("--naive-leaves", type=int, default=100_000, help="size for the naive baseline")
    parser.add_argument("--proofs", type=int, default=2_000, help="proofs to generate and verify")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {args.leaves:,} leaves")
    hashes = [leaf_hash(i.to_bytes(8, "big")) for i in range(args.leaves)]
    root = bench_roots(hashes, args.naive_leaves)
    store = bench_appends(hashes, root)
    bench_proofs(hashes, root, store, args.proofs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
