"""Tests for governance/trail/verifier.py: hashing, proof verification, the export CLI.

Plain pytest; no database. The CLI tests run a *copy* of verifier.py, alone in a temporary
directory, as a subprocess: that is how regulators receive and run it.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail import verifier
from governance.trail.note import sign_checkpoint, verifier_key_text
from governance.trail.verifier import (
    EMPTY_ROOT,
    VerificationError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    parse_checkpoint,
    root_from_leaf_hashes,
    verify_consistency,
    verify_export,
    verify_inclusion,
)

REPO = Path(__file__).resolve().parents[2]
VERIFIER_SOURCE = REPO / "governance" / "trail" / "verifier.py"
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


# ---------------------------------------------------------------------------------------------
# The command line, run as regulators run it
# ---------------------------------------------------------------------------------------------

ORIGIN = "assay.example/audit-trail"
KEY_NAME = "assay.example/audit-trail"


def signing_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key, so failures reproduce exactly."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


LOG_KEY = signing_key("assay log key 2025")
NEW_LOG_KEY = signing_key("assay log key 2026")
ATTACKER_KEY = signing_key("attacker")


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


@pytest.fixture(scope="module")
def regulator_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """verifier.py copied alone into an empty directory, away from the repository."""
    target = tmp_path_factory.mktemp("regulator") / "verifier.py"
    shutil.copyfile(VERIFIER_SOURCE, target)
    return target


@pytest.fixture
def trusted_keys(tmp_path: Path) -> Path:
    path = tmp_path / "trusted-keys.txt"
    path.write_text(
        "# Assay audit trail keys, obtained from Assay's published key list\n"
        + verifier_key_text(KEY_NAME, LOG_KEY.public_key())
        + "\n",
        encoding="utf-8",
    )
    return path


class Run:
    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def run_cli(regulator_copy: Path):  # type: ignore[no-untyped-def]
    def run(*arguments: object) -> Run:
        environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
        completed = subprocess.run(
            [sys.executable, str(regulator_copy), *map(str, arguments)],
            capture_output=True,
            text=True,
            cwd=regulator_copy.parent,
            env=environment,
            timeout=120,
            check=False,
        )
        return Run(completed)

    return run


def test_cli_untampered_export_verifies(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    root = root_from_leaf_hashes([leaf_hash(leaf) for leaf in chain(make_events(20))])

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 0, result
    assert result.out.strip() == (
        f"OK: 20 leaves, 4 checkpoints verified; latest checkpoint: size 20, root {root.hex()}"
    )
    assert result.err == ""


def test_cli_without_trusted_keys_is_not_verified(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    # Every check holds, but only against the export's own keys: exit 2, never 0, unless the user accepts them.
    export = honest_export(tmp_path / "export")
    key = verifier.parse_verifier_key(verifier_key_text(KEY_NAME, LOG_KEY.public_key()))
    result = run_cli("verify", export)
    assert result.code == 2, result
    assert result.out == ""
    assert "WARNING: no --trusted-keys given" in result.err
    assert "came with the export itself" in result.err
    assert f"{key.describe()}: {key.text()}" in result.err
    assert f"SHA-256 fingerprint {hashlib.sha256(key.public_key).hexdigest()}" in result.err
    assert "NOT VERIFIED against keys you trust" in result.err

    accepted = run_cli("verify", export, "--trust-export-keys")
    assert accepted.code == 0, accepted
    assert "which you accepted with --trust-export-keys" in accepted.out
    assert f"SHA-256 fingerprint {hashlib.sha256(key.public_key).hexdigest()}" in accepted.err

    both = run_cli("verify", export, "--trust-export-keys", "--trusted-keys", export / "keys.txt")
    assert both.code == 2, both
    assert "exclude each other" in both.err


def test_cli_edited_leaf_byte(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")

    def edit(lines: list[bytes]) -> list[bytes]:
        assert b'"actor":"user-1"' in lines[7]
        lines[7] = lines[7].replace(b'"actor":"user-1"', b'"actor":"user-2"')
        return lines

    rewrite_lines(export, edit)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    first = result.err.splitlines()[0]
    assert first.startswith("FAIL: leaf 8 (leaves.jsonl line 9): prev is ")
    assert "but the hash of leaf 7 is" in first
    assert "leaf 7 was altered" in first
    assert "entry 1 (tree_size 10): root" in result.err
    assert "does not match the Merkle root of leaves 0..9" in result.err
    assert "entry 0 (tree_size 5)" not in result.err  # leaves 0..4 are intact


def test_cli_edited_last_leaf_is_caught_by_the_checkpoint(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    rewrite_lines(export, lambda lines: [*lines[:-1], lines[-1].replace(b"doc-19", b"doc-91")])
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "entry 3 (tree_size 20): root" in result.err
    assert "does not match the Merkle root of leaves 0..19" in result.err


def test_cli_deleted_middle_line(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    rewrite_lines(export, lambda lines: lines[:10] + lines[11:])
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    first = result.err.splitlines()[0]
    assert first == (
        "FAIL: leaf 10 (leaves.jsonl line 11): seq is 11, expected 10: 1 leaf before it is "
        "missing (deleted), or leaves were reordered (later leaves with the same shift are not reported again)"
    )
    assert "leaf 10 (leaves.jsonl line 11): prev is" in result.err
    assert "trail.json says tree_size 20, but leaves.jsonl has 19 leaves" in result.err
    assert "entry 3 (tree_size 20): commits to 20 leaves, but the export has only 19" in result.err
    assert "entry 2 (tree_size 15): root" in result.err
    # The shift is reported once, not once for every later leaf.
    assert sum("seq is" in line for line in result.err.splitlines() if line.startswith("FAIL")) == 1


def test_cli_two_lines_swapped(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")

    def swap(lines: list[bytes]) -> list[bytes]:
        lines[12], lines[13] = lines[13], lines[12]
        return lines

    rewrite_lines(export, swap)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert result.err.splitlines()[0].startswith("FAIL: leaf 12 (leaves.jsonl line 13): seq is 13, expected 12")
    assert "leaf 13 (leaves.jsonl line 14): seq is 12, expected 13" in result.err
    assert "entry 2 (tree_size 15): root" in result.err


def test_cli_truncation_caught_only_by_a_held_checkpoint(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    # The regulator kept the size-20 checkpoint from an earlier export.
    leaves = chain(make_events(20))
    held = tmp_path / "held-20.note"
    held.write_text(checkpoint_note(leaves, 20, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    # The new export drops the last 5 leaves, fixes tree_size and drops the later checkpoints.
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10, 15)]
    export = write_export(tmp_path / "export", leaves[:15], notes)

    alone = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert alone.code == 0, alone  # internally consistent: only outside memory can tell

    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--previous-checkpoint", held)
    assert result.code == 1, result
    assert (
        f"truncated: the log is shorter than a checkpoint you hold: previous checkpoint {held} "
        f"(tree_size 20) commits to 20 leaves, the export has only 15"
    ) in result.err


def test_cli_rewrite_resigned_with_the_same_key_is_caught_by_a_held_checkpoint(
    tmp_path: Path,
    run_cli,  # type: ignore[no-untyped-def]
    trusted_keys: Path,
) -> None:
    honest = chain(make_events(20))
    held = tmp_path / "held-10.note"
    held.write_text(checkpoint_note(honest, 10, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    # An insider with the signing key inserts a forged event at position 6, renumbers and
    # re-chains everything after it, and re-signs every checkpoint with the same key.
    events = make_events(20)
    events.insert(6, {"action": "record.deleted", "actor": "user-0", "object": "doc-evidence"})
    forged = chain(events)
    notes = [checkpoint_note(forged, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10, 15, 21)]
    export = write_export(tmp_path / "export", forged, notes)

    alone = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert alone.code == 0, alone  # a consistent rewrite is invisible without a held checkpoint

    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--previous-checkpoint", held)
    assert result.code == 1, result
    assert f"rewritten: leaves 0..9 differ from what checkpoint {held} committed to" in result.err
    assert (
        f"previous checkpoint {held} (tree_size 10): the consistency proof built from the export's leaves" in result.err
    )
    assert "first root mismatch" in result.err


def test_cli_held_checkpoint_of_an_honest_log_verifies(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    held = []
    for size in (7, 10, 20):  # 7 was never in checkpoints.json: any signed size works
        path = tmp_path / f"held-{size}.note"
        path.write_text(checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
        held += ["--previous-checkpoint", path]
    export = honest_export(tmp_path / "export")
    result = run_cli("verify", export, "--trusted-keys", trusted_keys, *held)
    assert result.code == 0, result


def test_cli_checkpoint_signed_by_an_unknown_key(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 10)]
    notes.append(checkpoint_note(leaves, 20, [(KEY_NAME, ATTACKER_KEY)]))
    attacker_line = verifier_key_text(KEY_NAME, ATTACKER_KEY.public_key())
    export = write_export(tmp_path / "export", leaves, notes, keys=[attacker_line])
    attacker_id = attacker_line.split("+")[1]

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "checkpoints.json entry 2 (tree_size 20): no signature by a trusted key" in result.err
    assert f"{KEY_NAME} (key id {attacker_id}) (a key with this name is trusted, but not this key id)" in result.err


def test_cli_export_keys_prove_nothing_on_their_own(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    # Whoever rewrites the export can re-sign everything with their own key and ship that key
    # in keys.txt. Only independently obtained keys (--trusted-keys) catch it.
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, ATTACKER_KEY)]) for size in (10, 20)]
    keys = [verifier_key_text(KEY_NAME, ATTACKER_KEY.public_key())]
    export = write_export(tmp_path / "export", leaves, notes, keys=keys)

    unsafe = run_cli("verify", export)
    assert unsafe.code == 2, unsafe  # never 0 on the export's own word
    assert "WARNING: no --trusted-keys given" in unsafe.err
    attacker = verifier.parse_verifier_key(keys[0])
    assert f"SHA-256 fingerprint {hashlib.sha256(attacker.public_key).hexdigest()}" in unsafe.err

    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert "entry 0 (tree_size 10): no signature by a trusted key" in result.err
    assert "entry 1 (tree_size 20): no signature by a trusted key" in result.err


def test_cli_checkpoint_sizes_going_backwards(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    notes = [checkpoint_note(leaves, size, [(KEY_NAME, LOG_KEY)]) for size in (5, 15, 10, 20)]
    export = write_export(tmp_path / "export", leaves, notes)
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert (
        "checkpoints.json entry 2 (tree_size 10): checkpoint sizes went backwards (entry 1 has size 15)"
    ) in result.err


def test_cli_key_rotation(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(20))
    old, new = (KEY_NAME, LOG_KEY), (KEY_NAME, NEW_LOG_KEY)
    notes = [
        checkpoint_note(leaves, 5, [old]),
        checkpoint_note(leaves, 10, [old, new]),  # overlap period: signed by both
        checkpoint_note(leaves, 20, [new]),
    ]
    key_lines = [
        verifier_key_text(KEY_NAME, LOG_KEY.public_key()),
        verifier_key_text(KEY_NAME, NEW_LOG_KEY.public_key()),
    ]
    export = write_export(tmp_path / "export", leaves, notes, keys=key_lines)
    both = tmp_path / "both.txt"
    both.write_text("\n".join(key_lines) + "\n", encoding="utf-8")
    only_new = tmp_path / "new.txt"
    only_new.write_text(key_lines[1] + "\n", encoding="utf-8")

    assert run_cli("verify", export, "--trust-export-keys").code == 0
    assert run_cli("verify", export, "--trusted-keys", both).code == 0
    result = run_cli("verify", export, "--trusted-keys", only_new)
    assert result.code == 1, result
    assert "entry 0 (tree_size 5): no signature by a trusted key" in result.err
    assert "entry 1 (tree_size 10)" not in result.err  # the overlap checkpoint carries the new key


def test_cli_origin_must_match(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    export = honest_export(tmp_path / "export")
    result = run_cli("verify", export, "--trusted-keys", trusted_keys, "--origin", "other.example/log")
    assert result.code == 1, result
    assert "trail.json origin is 'assay.example/audit-trail', expected 'other.example/log'" in result.err
    assert "checkpoint is for origin 'assay.example/audit-trail', expected 'other.example/log'" in result.err


def test_cli_usage_and_unreadable_input_exit_2(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli().code == 2
    assert run_cli("verify").code == 2
    missing = run_cli("verify", tmp_path / "nope")
    assert missing.code == 2, missing
    assert "is not a directory" in missing.err, missing

    export = honest_export(tmp_path / "export")
    bad_keys = tmp_path / "bad-keys.txt"
    bad_keys.write_text("not-a-key\n", encoding="utf-8")
    result = run_cli("verify", export, "--trusted-keys", bad_keys)
    assert result.code == 2, result
    assert "line 1: verifier key 'not-a-key' is not of the form" in result.err, result

    (export / "leaves.jsonl").unlink()
    result = run_cli("verify", export, "--trusted-keys", trusted_keys)
    assert result.code == 2, result
    assert "error: cannot read" in result.err, result
    assert "leaves.jsonl" in result.err, result


# --- inclusion and consistency subcommands -----------------------------------------------------


def _write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_cli_inclusion(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(13))
    hashes = [leaf_hash(leaf) for leaf in leaves]

    def nodes(ids):  # type: ignore[no-untyped-def]
        return {node: root_from_leaf_hashes(hashes[node.begin : node.end]) for node in ids}

    proof = inclusion_proof(index=6, tree_size=13, get_nodes=nodes)
    document = {
        "leaf_index": 6,
        "tree_size": 13,
        "leaf_hash": hashes[6].hex(),
        "proof": [element.hex() for element in proof],
        "root": root_from_leaf_hashes(hashes).hex(),
    }
    good = _write_json(tmp_path / "good.json", document)
    note13 = tmp_path / "cp13.note"
    note13.write_text(checkpoint_note(leaves, 13, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    note12 = tmp_path / "cp12.note"
    note12.write_text(checkpoint_note(leaves, 12, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")

    result = run_cli("inclusion", good)
    assert result.code == 2, result  # consistent, but against a root nobody signed: not verified
    assert "leaf 6 is in a tree of size 13" in result.out
    assert "NOT VERIFIED: no checkpoint given, so that root is not authenticated" in result.err
    result = run_cli("inclusion", good, "--checkpoint", note13, "--trusted-keys", trusted_keys)
    assert result.code == 0, result
    assert "checkpoint signature verified" in result.out, result

    result = run_cli("inclusion", good, "--checkpoint", note12, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert f"checkpoint {note12} is for tree size 12, the proof for 13" in result.err

    flipped = dict(
        document, proof=[proof[0].hex(), (bytes([proof[1][0] ^ 1]) + proof[1][1:]).hex(), *document["proof"][2:]]
    )  # type: ignore[misc]
    result = run_cli("inclusion", _write_json(tmp_path / "flipped.json", flipped))
    assert result.code == 1, result
    assert "inclusion proof does not verify: root mismatch" in result.err, result

    upper = _write_json(tmp_path / "upper.json", dict(document, root=document["root"].upper()))  # type: ignore[attr-defined]
    result = run_cli("inclusion", upper)
    assert result.code == 2, result
    assert "field 'root' must be a lowercase hex string" in result.err, result
    assert run_cli("inclusion", good, "--checkpoint", note13).code == 2  # keys are required with it


def test_cli_consistency(tmp_path: Path, run_cli, trusted_keys: Path) -> None:  # type: ignore[no-untyped-def]
    leaves = chain(make_events(21))
    hashes = [leaf_hash(leaf) for leaf in leaves]

    def nodes(ids):  # type: ignore[no-untyped-def]
        return {node: root_from_leaf_hashes(hashes[node.begin : node.end]) for node in ids}

    proof = consistency_proof(first_size=6, second_size=21, get_nodes=nodes)
    document = {
        "first_size": 6,
        "second_size": 21,
        "first_root": root_from_leaf_hashes(hashes[:6]).hex(),
        "second_root": root_from_leaf_hashes(hashes).hex(),
        "proof": [element.hex() for element in proof],
    }
    good = _write_json(tmp_path / "good.json", document)
    first = tmp_path / "first.note"
    first.write_text(checkpoint_note(leaves, 6, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    second = tmp_path / "second.note"
    second.write_text(checkpoint_note(leaves, 21, [(KEY_NAME, LOG_KEY)]), encoding="utf-8")
    forged = tmp_path / "forged.note"
    forged.write_text(checkpoint_note(leaves, 21, [(KEY_NAME, ATTACKER_KEY)]), encoding="utf-8")

    result = run_cli("consistency", good)
    assert result.code == 0, result
    assert "is a prefix of the tree of size 21" in result.out, result
    arguments = ["--first-checkpoint", first, "--second-checkpoint", second, "--trusted-keys", trusted_keys]
    assert run_cli("consistency", good, *arguments).code == 0

    result = run_cli("consistency", good, "--second-checkpoint", forged, "--trusted-keys", trusted_keys)
    assert result.code == 1, result
    assert f"second checkpoint {forged}: no signature by a trusted key" in result.err, result

    wrong = _write_json(tmp_path / "wrong.json", dict(document, first_size=5))
    result = run_cli("consistency", wrong)
    assert result.code == 1, result
    assert "consistency proof does not verify" in result.err, result
    result = run_cli("consistency", _write_json(tmp_path / "partial.json", {"first_size": 6}))
    assert result.code == 2, result
    assert "field 'second_size' must be an integer" in result.err, result


# ---------------------------------------------------------------------------------------------
# verify_export in-process: the rarer problems, with exact wording
# ---------------------------------------------------------------------------------------------


def _keys() -> list[verifier.VerifierKey]:
    return [verifier.parse_verifier_key(verifier_key_text(KEY_NAME, LOG_KEY.public_key()))]


def test_export_refuses_malformed_leaves(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=6, sizes=(6,))

    def damage(lines: list[bytes]) -> list[bytes]:
        lines[1] = b'{"seq":1,"seq":1,"prev":""}'  # duplicate key: parsers disagree on these
        lines[2] = b"[2]"
        lines[3] = b"{not json"
        lines[4] = lines[4].replace(b'"seq":4', b'"seq":"4"')
        return lines

    rewrite_lines(export, damage)
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0] == "leaf 1 (leaves.jsonl line 2) is not valid JSON: duplicate key 'seq'"
    assert problems[1] == "leaf 2 (leaves.jsonl line 3) is not a JSON object"
    assert problems[2].startswith("leaf 3 (leaves.jsonl line 4) is not valid JSON")
    assert problems[3] == 'leaf 4 (leaves.jsonl line 5) has no integer "seq" field'


def test_export_refuses_a_missing_final_newline_and_a_bad_first_prev(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=3, sizes=(3,))
    path = export / "leaves.jsonl"
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"prev":""', b'"prev":"00"', 1)[:-1])
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0] == (
        "leaf 0 (leaves.jsonl line 1): prev must be empty for the first leaf, got '00': leaves before it are missing"
    )
    assert "leaf 2 (leaves.jsonl line 3) does not end with a newline: the file may be truncated" in problems


def test_export_names_crlf_conversion_once(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=4, sizes=(4,))
    path = export / "leaves.jsonl"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems[0].startswith("leaf 0 (leaves.jsonl line 1) ends with a carriage return")
    assert sum("carriage return" in problem for problem in problems) == 1


def test_export_with_no_checkpoints_is_not_authenticated(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", chain(make_events(4)), [])
    report = verify_export(export, trusted_keys=_keys())
    assert report.problems == ["no checkpoint in the export verified: none of its leaves are authenticated"]


def test_export_warns_about_leaves_no_checkpoint_covers(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=12, sizes=(5, 10))
    report = verify_export(export, trusted_keys=_keys())
    assert report.ok, report.problems
    assert report.warnings == ["leaves 10..11 are not covered by any checkpoint yet, so nothing signed commits to them"]


def test_export_refuses_a_held_checkpoint_newer_than_the_latest(tmp_path: Path) -> None:
    leaves = chain(make_events(20))
    export = write_export(tmp_path / "export", leaves, [checkpoint_note(leaves, 10, [(KEY_NAME, LOG_KEY)])])
    held = checkpoint_note(leaves, 15, [(KEY_NAME, LOG_KEY)])
    report = verify_export(export, trusted_keys=_keys(), previous_checkpoints=[("held.note", held)])
    assert report.problems == [
        "previous checkpoint held.note (tree_size 15) is newer than the export's latest checkpoint "
        "(size 10): checkpoints were removed from the export or the log was rolled back"
    ]


def test_export_refuses_unsigned_size_disagreeing_with_signed_size(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=5, sizes=(5,))
    path = export / "checkpoints.json"
    document = json.loads(path.read_text())
    document["checkpoints"][0]["tree_size"] = 4
    path.write_text(json.dumps(document))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems == ["checkpoints.json entry 0 (tree_size 4): the signed note says tree size 5"]


def test_export_checks_trail_json(tmp_path: Path) -> None:
    export = honest_export(tmp_path / "export", count=2, sizes=(2,))
    (export / "trail.json").write_text(json.dumps({"format": "assay-trail/2", "origin": ORIGIN}))
    problems = verify_export(export, trusted_keys=_keys()).problems
    assert problems == [
        "trail.json format is 'assay-trail/2', expected 'assay-trail/1'",
        'trail.json has no integer "tree_size"',
        'trail.json "exported_at" is not an ISO 8601 timestamp: None',
        'trail.json has no string "leaf_encoding"',
    ]


def test_main_in_process_returns_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = honest_export(tmp_path / "export", count=3, sizes=(3,))
    assert verifier.main(["verify", str(export)]) == 2
    assert verifier.main(["verify", str(export), "--trust-export-keys"]) == 0
    assert "OK: 3 leaves, 1 checkpoints verified" in capsys.readouterr().out
    assert verifier.main(["--help"]) == 0
    assert verifier.main(["frobnicate"]) == 2
