"""Builders of signed trail exports for the verifier's tests (test_verifier_*.py): events, their hash chain,
checkpoint notes signed by fixed keys, and the export directory a regulator receives.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail.note import sign_checkpoint, verifier_key_text
from governance.trail.verifier import leaf_hash, parse_checkpoint, root_from_leaf_hashes

REPO = Path(__file__).resolve().parents[2]
VERIFIER_SOURCE = REPO / "governance" / "trail" / "verifier.py"


ORIGIN = "assay.example/audit-trail"


KEY_NAME = "assay.example/audit-trail"


def signing_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key, so failures reproduce exactly."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


LOG_KEY = signing_key("assay log key 2025")


def make_events(count: int) -> list[dict[str, object]]:
    return [{"action": "record.updated", "actor": f"user-{i % 3}", "object": f"doc-{i}"} for i in range(count)]


def chain(events: list[dict[str, object]]) -> list[bytes]:
    """Serialise events as leaves with seq and prev, as the server does (JCS, UTF-8)."""
    leaves: list[bytes] = []
    previous = ""
    for seq, event in enumerate(events):
        leaf = rfc8785.dumps({**event, "seq": seq, "prev": previous})
        leaves.append(leaf)
        previous = leaf_hash(leaf).hex()
    return leaves


def checkpoint_note(leaves: list[bytes], size: int, signers: list[tuple[str, Ed25519PrivateKey]]) -> str:
    root = root_from_leaf_hashes([leaf_hash(leaf) for leaf in leaves[:size]])
    return sign_checkpoint(origin=ORIGIN, tree_size=size, root=root, signers=signers)


def write_export(
    directory: Path,
    leaves: list[bytes],
    notes: list[str],
    *,
    keys: list[str] | None = None,
    tree_size: int | None = None,
) -> Path:
    directory.mkdir(parents=True)
    trail = {
        "format": "assay-trail/1",
        "origin": ORIGIN,
        "tree_size": len(leaves) if tree_size is None else tree_size,
        "exported_at": "2025-06-30T12:00:00+00:00",
        "leaf_encoding": "RFC 8785 JCS, UTF-8; leaves.jsonl holds one leaf per line",
    }
    entries = [{"tree_size": parse_checkpoint(note).tree_size, "note": note} for note in notes]
    (directory / "trail.json").write_text(json.dumps(trail), encoding="utf-8")
    (directory / "leaves.jsonl").write_bytes(b"".join(leaf + b"\n" for leaf in leaves))
    (directory / "checkpoints.json").write_text(json.dumps({"checkpoints": entries}), encoding="utf-8")
    key_lines = keys if keys is not None else [verifier_key_text(KEY_NAME, LOG_KEY.public_key())]
    (directory / "keys.txt").write_text("".join(line + "\n" for line in key_lines), encoding="utf-8")
    return directory


def honest_export(directory: Path, count: int = 20, sizes: tuple[int, ...] = (5, 10, 15, 20)) -> Path:
    leaves = chain(make_events(count))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in sizes]
    return write_export(directory, leaves, notes)


def rewrite_lines(directory: Path, edit: object) -> None:
    path = directory / "leaves.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    lines = edit(lines)  # type: ignore[operator]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
