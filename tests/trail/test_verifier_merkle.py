"""Tests for governance/trail/verifier.py's hashing and proofs: RFC 6962 known answers, the transparency-dev/merkle
vectors, the exact refusal messages, and that verifier.py stays standalone (stdlib and cryptography only).

Plain pytest; no database.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import sys

import pytest

from governance.trail.verifier import (
    EMPTY_ROOT,
    VerificationError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.trail.verifier_exports import REPO, VERIFIER_SOURCE

VECTORS = REPO / "tests" / "data" / "merkle-vectors"


# ---------------------------------------------------------------------------------------------
# Known answers. Leaf inputs and roots for sizes 0..8 are the RFC 6962 reference values used by
# Certificate Transparency and transparency-dev/merkle (testonly/constants.go).
# ---------------------------------------------------------------------------------------------

LEAF_INPUTS = [
    bytes.fromhex(text)
    for text in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]


ROOTS_BY_SIZE = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def reference_mth(leaves: list[bytes]) -> bytes:
    """REFERENCE: RFC 9162 section 2.1.1 MTH transcribed literally (recursive; tests only).

    Works on leaf *data* and uses hashlib directly, so it shares no code with the verifier.
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two smaller than n
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:split]) + reference_mth(leaves[split:])).digest()


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # A leaf whose data is two hashes must not hash like the interior node over them.
    assert leaf_hash(left + right) != node_hash(left, right)


def test_node_hash_refuses_non_hash_inputs() -> None:
    with pytest.raises(ValueError, match="two 32-byte hashes"):
        node_hash(b"short", leaf_hash(b"x"))


def test_known_answer_root_of_eight_leaves() -> None:
    hashes = [leaf_hash(data) for data in LEAF_INPUTS]
    assert root_from_leaf_hashes(hashes).hex() == ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


@pytest.mark.parametrize("size", range(len(ROOTS_BY_SIZE)))
def test_known_answer_roots_of_every_prefix(size: int) -> None:
    hashes = [leaf_hash(data) for data in LEAF_INPUTS[:size]]
    assert root_from_leaf_hashes(hashes).hex() == ROOTS_BY_SIZE[size]
    # The reference agrees with the published values too, so it can be trusted below.
    assert reference_mth(LEAF_INPUTS[:size]).hex() == ROOTS_BY_SIZE[size]


def test_root_matches_reference_for_every_size_up_to_130() -> None:
    data = [f"leaf {i}".encode() for i in range(130)]
    hashes = [leaf_hash(item) for item in data]
    mismatched = [n for n in range(131) if root_from_leaf_hashes(hashes[:n]) != reference_mth(data[:n])]
    assert mismatched == []


def test_last_leaf_is_never_duplicated() -> None:
    # Bitcoin-style trees pad an odd level by repeating the last node, so [a, b, c] and
    # [a, b, c, c] share a root there; RFC 9162 must tell them apart.
    hashes = [leaf_hash(bytes([i])) for i in range(3)]
    assert root_from_leaf_hashes(hashes) != root_from_leaf_hashes([*hashes, hashes[-1]])
    assert root_from_leaf_hashes(hashes) == node_hash(node_hash(hashes[0], hashes[1]), hashes[2])


def test_root_from_leaf_hashes_refuses_wrong_sized_hashes() -> None:
    with pytest.raises(ValueError, match="leaf hash 1 is 31 bytes"):
        root_from_leaf_hashes([leaf_hash(b"a"), b"\x00" * 31])


# ---------------------------------------------------------------------------------------------
# transparency-dev/merkle test vectors
# ---------------------------------------------------------------------------------------------

# The one vector whose expected outcome we deliberately do not share. It says sizes 1 -> 1 with
# an empty proof verifies, but its "roots" are 12-byte placeholders ("don't care 2"). Our
# verifier refuses every hash that is not 32 bytes long, before any other check, because a
# wrong-length hash can never be the root of a SHA-256 tree; accepting it would only hide
# a caller's bug. So this file must be *refused*, for exactly that reason.
DIVERGENT_VECTOR = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"


def _vector_files(kind: str) -> list[str]:
    files = sorted(str(path.relative_to(VECTORS)) for path in (VECTORS / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found under {VECTORS}"
    return files


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _run_vector(relative: str) -> None:
    vector = json.loads((VECTORS / relative).read_text())
    proof = [_b64(element) for element in vector["proof"] or []]  # null means an empty proof
    if relative.startswith("inclusion/"):
        verify_inclusion(
            leaf_hash=_b64(vector["leafHash"]),
            index=vector["leafIdx"],
            tree_size=vector["treeSize"],
            proof=proof,
            root=_b64(vector["root"]),
        )
    else:
        verify_consistency(
            first_size=vector["size1"],
            second_size=vector["size2"],
            first_root=_b64(vector["root1"]),
            second_root=_b64(vector["root2"]),
            proof=proof,
        )


@pytest.mark.parametrize("relative", _vector_files("inclusion") + _vector_files("consistency"))
def test_transparency_dev_vector(relative: str) -> None:
    vector = json.loads((VECTORS / relative).read_text())
    if relative == DIVERGENT_VECTOR:
        assert vector["wantErr"] is False  # the upstream expectation we knowingly diverge from
        with pytest.raises(VerificationError, match="must be 32 bytes"):
            _run_vector(relative)
    elif vector["wantErr"]:
        with pytest.raises(VerificationError):
            _run_vector(relative)
    else:
        _run_vector(relative)


def test_vector_suite_is_complete() -> None:
    # Guards against the parametrisation silently shrinking (e.g. a moved directory).
    assert len(_vector_files("inclusion")) == 98
    assert len(_vector_files("consistency")) == 98
    assert DIVERGENT_VECTOR in _vector_files("consistency")


# ---------------------------------------------------------------------------------------------
# Specific refusal messages
# ---------------------------------------------------------------------------------------------

HASHES8 = [leaf_hash(data) for data in LEAF_INPUTS]


ROOT8 = bytes.fromhex(ROOTS_BY_SIZE[8])


def _nodes8(ids: object) -> dict[object, bytes]:
    # get_nodes over the 8 known leaves, computing each perfect node with the reference.
    return {node: reference_mth(LEAF_INPUTS[node.begin : node.end]) for node in ids}  # type: ignore[attr-defined]


def test_inclusion_messages() -> None:
    proof = inclusion_proof(index=5, tree_size=8, get_nodes=_nodes8)
    verify_inclusion(leaf_hash=HASHES8[5], index=5, tree_size=8, proof=proof, root=ROOT8)
    cases = [
        ({"index": 8}, "leaf index 8 is out of range for a tree of size 8"),
        ({"index": -1}, "leaf index must not be negative"),
        ({"tree_size": True}, "tree size must be an integer"),
        ({"proof": proof[:2]}, "wrong inclusion proof length: got 2 hashes, .* has exactly 3"),
        ({"proof": [*proof, proof[0]]}, "wrong inclusion proof length: got 4"),
        ({"root": HASHES8[0]}, "root mismatch: the inclusion proof for leaf 5"),
        ({"leaf_hash": HASHES8[5][:31]}, "leaf hash must be 32 bytes .* got 31 bytes"),
        ({"proof": [proof[0], proof[1] + b"\x00", proof[2]]}, "proof element 1 must be 32 bytes"),
        ({"root": "ab" * 32}, "root must be bytes, got str"),
    ]
    for change, message in cases:
        arguments = {"leaf_hash": HASHES8[5], "index": 5, "tree_size": 8, "proof": proof, "root": ROOT8}
        arguments.update(change)
        with pytest.raises(VerificationError, match=message):
            verify_inclusion(**arguments)  # type: ignore[arg-type]


def test_consistency_messages() -> None:
    root3 = bytes.fromhex(ROOTS_BY_SIZE[3])
    proof = consistency_proof(first_size=3, second_size=8, get_nodes=_nodes8)
    verify_consistency(first_size=3, second_size=8, first_root=root3, second_root=ROOT8, proof=proof)
    cases = [
        ({"first_size": 9, "second_size": 8}, "first size 9 is larger than second size 8"),
        ({"second_size": 3, "second_root": root3}, "both sizes are 3, so the proof must be empty"),
        ({"second_size": 3, "proof": []}, "two different roots for the same tree size 3"),
        ({"first_size": 0, "first_root": EMPTY_ROOT}, "every tree extends the empty tree"),
        ({"first_size": 0}, "is not the root of the empty tree"),
        ({"proof": proof[1:]}, "wrong consistency proof length"),
        ({"first_root": HASHES8[0]}, "first root mismatch"),
        ({"second_root": HASHES8[0]}, "second root mismatch"),
        ({"first_root": root3[:12]}, "first root must be 32 bytes"),
    ]
    for change, message in cases:
        arguments = {
            "first_size": 3,
            "second_size": 8,
            "first_root": root3,
            "second_root": ROOT8,
            "proof": proof,
        }
        arguments.update(change)
        with pytest.raises(VerificationError, match=message):
            verify_consistency(**arguments)  # type: ignore[arg-type]


def test_consistency_from_the_empty_tree_needs_no_proof() -> None:
    verify_consistency(first_size=0, second_size=8, first_root=EMPTY_ROOT, second_root=ROOT8, proof=[])
    verify_consistency(first_size=0, second_size=0, first_root=EMPTY_ROOT, second_root=EMPTY_ROOT, proof=[])


# ---------------------------------------------------------------------------------------------
# verifier.py stays standalone
# ---------------------------------------------------------------------------------------------


def test_verifier_imports_only_stdlib_and_cryptography() -> None:
    tree = ast.parse(VERIFIER_SOURCE.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "verifier.py must not use relative imports"
            imported.add((node.module or "").split(".")[0])
    outside = imported - set(sys.stdlib_module_names) - {"__future__", "cryptography"}
    assert outside == set()
    assert "cryptography" in imported  # the parse above really saw the imports
