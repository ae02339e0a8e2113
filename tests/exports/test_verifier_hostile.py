"""Hostile evidence bundles against the offline verifier (verify.py): zip bombs, corrupt members, forged keys.

Each test builds a small bundle in memory (no database), runs a copy of ``governance/trail/verifier.py`` on it in a
subprocess under an address-space limit, as a regulator would run it, and expects a ``FAIL:`` line and an exit
status: never a traceback, never a MemoryError.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.exports.bundle import signature_line
from governance.trail.note import sign_checkpoint, verifier_key_text
from governance.trail.verifier import (
    CompactRange,
    NodeId,
    consistency_proof,
    ed25519_key_id,
    inclusion_proof,
    leaf_hash,
    parse_checkpoint,
    parse_verifier_key,
)

VERIFIER_SOURCE = Path(__file__).resolve().parents[2] / "governance" / "trail" / "verifier.py"
ORIGIN = KEY_NAME = "assay.example/audit-trail"
MEMORY_LIMIT = 384 << 20  # the verifier needs about 60 MB; an unbounded read of the bomb needs far more


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


SERVER_KEY = _key("assay trail key")
FORGER_KEY = _key("forger")


def _key_line(private: Ed25519PrivateKey) -> str:
    return verifier_key_text(KEY_NAME, private.public_key())


def _fingerprint(private: Ed25519PrivateKey) -> str:
    return hashlib.sha256(parse_verifier_key(_key_line(private)).public_key).hexdigest()


# --- an honest bundle, built as export_bundle lays it out -----------------------------------------------------------


def trail_files(signer: Ed25519PrivateKey = SERVER_KEY) -> dict[str, bytes]:
    """Six trail leaves; events 0, 1, 3, 5 in the bundle, 4 withheld, the previous export's checkpoint at size 3."""
    leaves, previous = [], ""
    for seq in range(6):
        leaf = json.dumps({"seq": seq, "prev": previous, "type": "model.updated"}, separators=(",", ":")).encode()
        leaves.append(leaf)
        previous = leaf_hash(leaf).hex()
    frontier, nodes = CompactRange(), {}
    for leaf in leaves:
        nodes.update(frontier.append(leaf_hash(leaf)))

    def get_nodes(ids: object) -> dict[NodeId, bytes]:
        return {node: nodes[node] for node in ids}  # type: ignore[attr-defined]

    def checkpoint(size: int) -> bytes:
        root = CompactRange(size, [nodes[n] for n in CompactRange.peak_ids(size)]).root()
        return sign_checkpoint(origin=ORIGIN, tree_size=size, root=root, signers=[(KEY_NAME, signer)]).encode()

    def proof(seq: int) -> bytes:
        path = [h.hex() for h in inclusion_proof(index=seq, tree_size=6, get_nodes=get_nodes)]
        return json.dumps({"seq": seq, "leaf_hash": leaf_hash(leaves[seq]).hex(), "proof": path}).encode() + b"\n"

    shown = (0, 1, 3, 5)
    consistency = [h.hex() for h in consistency_proof(first_size=3, second_size=6, get_nodes=get_nodes)]
    return {
        "keys/trail-keys.txt": (_key_line(signer) + "\n").encode(),
        "model/model.json": json.dumps({"name": "credit-scoring", "purpose": "minimal example"}).encode(),
        "trail/checkpoint.note": checkpoint(6),
        "trail/events.jsonl": b"".join(leaves[seq] + b"\n" for seq in shown),
        "trail/proofs.jsonl": b"".join(proof(seq) for seq in shown),
        "trail/withheld.jsonl": proof(4),
        "trail/previous-checkpoint.note": checkpoint(3),
        "trail/consistency.json": json.dumps({"first_size": 3, "second_size": 6, "proof": consistency}).encode(),
    }


def manifest_for(files: Mapping[str, bytes], *, sizes: Mapping[str, tuple[str, int]] | None = None) -> bytes:
    """The manifest listing ``files`` (``sizes`` overrides the hash and size of a member too big to hold)."""
    checkpoint = parse_checkpoint(files["trail/checkpoint.note"])
    listed = {name: (hashlib.sha256(data).hexdigest(), len(data)) for name, data in files.items()}
    listed.update(sizes or {})
    document = {
        "format": "assay-bundle/1",
        "trail": {
            "origin": ORIGIN,
            "checkpoint": {
                "file": "trail/checkpoint.note",
                "tree_size": checkpoint.tree_size,
                "root": checkpoint.root.hex(),
            },
            "events": 4,
            "events_file": "trail/events.jsonl",
            "proofs_file": "trail/proofs.jsonl",
            "withheld": 1,
            "withheld_file": "trail/withheld.jsonl",
            "previous_checkpoint": {"file": "trail/previous-checkpoint.note", "tree_size": 3},
        },
        "files": [{"path": name, "sha256": sha, "size": size} for name, (sha, size) in sorted(listed.items())],
    }
    return json.dumps(document, indent=1).encode()


def sign(manifest: bytes, signer: Ed25519PrivateKey = SERVER_KEY) -> bytes:
    public = parse_verifier_key(_key_line(signer)).public_key
    return signature_line(key_name=KEY_NAME, key_id=ed25519_key_id(KEY_NAME, public), signature=signer.sign(manifest))


def zip_of(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def bundle(
    files: Mapping[str, bytes] | None = None,
    *,
    manifest: bytes | None = None,
    signer: Ed25519PrivateKey = SERVER_KEY,
) -> dict[str, bytes]:
    """Members of a bundle signed by ``signer``: ``files`` (default: an honest trail) plus manifest and signature."""
    files = dict(trail_files() if files is None else files)
    manifest = manifest_for(files) if manifest is None else manifest
    return {**files, "manifest.json": manifest, "manifest.sig": sign(manifest, signer)}


# --- running verify.py as a regulator would, with a memory limit ----------------------------------------------------


@dataclass
class Verdict:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """verify.py alone in a folder, with the keys the regulator obtained from the server beforehand."""
    path = tmp_path_factory.mktemp("regulator")
    shutil.copyfile(VERIFIER_SOURCE, path / "verify.py")
    (path / "keys.txt").write_text(_key_line(SERVER_KEY) + "\n")
    return path


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def verify(folder: Path, data: bytes | Path, *args: str) -> Verdict:
    target = data if isinstance(data, Path) else folder / "bundle.zip"
    if not isinstance(data, Path):
        target.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "verify.py", str(target), *args],
        cwd=folder,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        preexec_fn=_limit_memory,  # no threads are started before it runs
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Verdict(result.returncode, result.stdout, result.stderr)


def trusted(folder: Path, data: bytes | Path, *args: str) -> Verdict:
    return verify(folder, data, "--trusted-keys", "keys.txt", *args)


def assert_fails(verdict: Verdict, *messages: str) -> None:
    assert verdict.code == 1, verdict
    for message in messages:
        assert f"FAIL: {message}" in verdict.err or message in verdict.err, (message, str(verdict))
    assert "verification FAILED" in verdict.err, verdict
    assert "Traceback" not in verdict.err, verdict
    assert "MemoryError" not in verdict.err, verdict


# --- whose keys ---------------------------------------------------------------------------------------------------


def test_an_honest_bundle_exits_0_only_against_keys_the_user_trusts(folder: Path) -> None:
    honest = zip_of(bundle())
    verdict = trusted(folder, honest)
    assert verdict.code == 0, verdict
    assert verdict.out.startswith(f"OK: manifest signed by {KEY_NAME}"), verdict
    assert "4 trail events are included in the signed checkpoint of size 6" in verdict.out

    own = verify(folder, honest)
    assert own.code == 2, own
    assert own.out == "", own
    assert "NOT VERIFIED against keys you trust" in own.err
    assert f"SHA-256 fingerprint {_fingerprint(SERVER_KEY)}" in own.err
    assert _key_line(SERVER_KEY) in own.err

    accepted = verify(folder, honest, "--trust-bundle-keys")
    assert accepted.code == 0, accepted
    assert "which you accepted with --trust-bundle-keys" in accepted.out
    assert f"SHA-256 fingerprint {_fingerprint(SERVER_KEY)}" in accepted.err


def test_a_fully_forged_bundle_never_passes_on_its_own_keys(folder: Path) -> None:
    """Keys replaced and everything re-signed by the forger: `verify.py x.zip && accept` must not accept."""
    files = trail_files(signer=FORGER_KEY)
    files["model/model.json"] = b'{"name": "credit-scoring", "purpose": "anything the forger likes"}'
    forged = zip_of(bundle(files, signer=FORGER_KEY))

    verdict = verify(folder, forged)
    assert verdict.code == 2, verdict
    assert f"SHA-256 fingerprint {_fingerprint(FORGER_KEY)}" in verdict.err  # not the server's: compare and see
    assert _fingerprint(FORGER_KEY) != _fingerprint(SERVER_KEY)
    assert_fails(trusted(folder, forged), "manifest re-signed with another key")
    # Accepting the bundle's keys is the user's explicit choice, made after seeing the forger's fingerprint.
    assert verify(folder, forged, "--trust-bundle-keys").code == 0


# --- bombs ---------------------------------------------------------------------------------------------------------


def _deflated_bomb(members: Mapping[str, bytes], *, name: str, size: int, byte: bytes = b"a") -> bytes:
    """A ZIP of ``members`` plus ``name``: ``size`` bytes of ``byte`` and no newline, deflated while streamed (512 MiB
    compresses to about 2 MB)."""
    out = io.BytesIO()
    chunk = byte * (8 << 20)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 1  # type: ignore[attr-defined]  # the fastest level: this is a test, not an archive
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_in_place_of_the_trail_events_is_a_fail_line_not_a_memory_error(folder: Path) -> None:
    """The events file swapped for 512 MiB of one byte without a newline: the verifier stops at the size the signed
    manifest gives and does not parse the file at all (it is not the signed one)."""
    members = bundle()
    del members["trail/events.jsonl"]
    bomb = _deflated_bomb(members, name="trail/events.jsonl", size=512 << 20)
    assert len(bomb) < 8 << 20
    verdict = trusted(folder, bomb)
    assert_fails(
        verdict,
        "file changed: trail/events.jsonl is longer than",
        "trail events not checked: trail/events.jsonl is not a file that matches the signed manifest",
    )


def test_a_bomb_the_signed_manifest_vouches_for_is_read_line_by_line_with_a_bound(folder: Path) -> None:
    """An insider (or a forger the user chose to trust) signs a manifest that lists 32 MiB without a newline as the
    events: every line is read with a bound, so the first one is refused without reading it whole."""
    size = 32 << 20
    members = bundle()
    files = {k: v for k, v in members.items() if k not in ("manifest.json", "manifest.sig")}
    files.pop("trail/events.jsonl")
    sha = hashlib.sha256(b"a" * size).hexdigest()
    manifest = manifest_for({**files, "trail/events.jsonl": b""}, sizes={"trail/events.jsonl": (sha, size)})
    signed = {**files, "manifest.json": manifest, "manifest.sig": sign(manifest)}
    verdict = trusted(folder, _deflated_bomb(signed, name="trail/events.jsonl", size=size))
    assert_fails(verdict, "trail/events.jsonl line 1 is longer than 16777217 bytes")


# --- corrupt members: a specific FAIL line each, exit 1, no traceback ----------------------------------------------


def _central_entry(data: bytes, name: str) -> int:
    """Offset of ``name``'s central-directory header in the ZIP ``data``."""
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name.encode():
            return at
        at = data.find(b"PK\x01\x02", at + 46)
    raise AssertionError(f"{name} not in the ZIP")


def _patched(data: bytes, name: str, *, offset: int, value: bytes) -> bytes:
    at = _central_entry(data, name) + offset
    return data[:at] + value + data[at + len(value) :]


def _local_offset(data: bytes, name: str) -> int:
    return int(struct.unpack_from("<I", data, _central_entry(data, name) + 42)[0])


def _flip_deflated(data: bytes, name: str) -> bytes:
    start = _local_offset(data, name)
    name_length, extra_length = struct.unpack_from("<HH", data, start + 26)
    compressed_size = struct.unpack_from("<I", data, start + 18)[0]
    body = start + 30 + name_length + extra_length
    flipped = bytearray(data)
    for at in range(body + compressed_size // 3, body + compressed_size // 3 + 8):
        flipped[at] ^= 0x5A
    return bytes(flipped)


def _encrypted(data: bytes, name: str) -> bytes:
    flags = struct.unpack_from("<H", data, _central_entry(data, name) + 8)[0]
    return _patched(data, name, offset=8, value=struct.pack("<H", flags | 0x1))


def _with_member(name: str, content: bytes) -> bytes:
    members = bundle()
    members[name] = content
    return zip_of(members)


def _resigned_with(name: str, content: bytes) -> bytes:
    files = trail_files()
    files[name] = content
    return zip_of(bundle(files))


DEEP = b"[" * 30000 + b"]" * 30000


def _first_line_replaced(name: str, line: bytes) -> bytes:
    lines = trail_files()[name].splitlines(keepends=True)
    return b"".join([line + b"\n", *lines[1:]])


@pytest.mark.parametrize(
    ("case", "make", "message"),
    [
        (
            "corrupt deflate stream",
            lambda: _flip_deflated(zip_of(bundle()), "manifest.json"),
            "FAIL: manifest.json cannot be read from the ZIP: ",
        ),
        (
            "oversized manifest",
            lambda: _with_member("manifest.json", b" " * ((64 << 20) + 1)),
            "FAIL: manifest.json cannot be read from the ZIP: it is 67108865 bytes, more than the 67108864",
        ),
        (
            "encrypted manifest",
            lambda: _encrypted(zip_of(bundle()), "manifest.json"),
            "FAIL: manifest.json cannot be read from the ZIP: it is encrypted",
        ),
        (
            "unsupported compression",
            lambda: _patched(zip_of(bundle()), "manifest.json", offset=10, value=struct.pack("<H", 99)),
            "FAIL: manifest.json cannot be read from the ZIP: it uses a compression method this verifier cannot read",
        ),
        (
            "bad local header",
            lambda: _patched(
                zip_of(bundle()), "manifest.json", offset=42, value=struct.pack("<I", 1)
            ),  # points the entry into the middle of another member
            "FAIL: manifest.json cannot be read from the ZIP: the ZIP is damaged there (BadZipFile",
        ),
        (
            "deeply nested manifest",
            lambda: _with_member("manifest.json", DEEP),
            "FAIL: manifest.json is not valid JSON: nested too deeply",
        ),
        (
            "manifest not UTF-8",
            lambda: _with_member("manifest.json", b'{"format": "\xff"}'),
            "FAIL: manifest.json is not valid JSON: 'utf-8' codec can't decode byte 0xff",
        ),
        (
            "signature not UTF-8",
            lambda: _with_member("manifest.sig", b"\xff\xfe"),
            "FAIL: manifest.sig is not UTF-8 text",
        ),
        (
            "encrypted member in the manifest",
            lambda: _encrypted(zip_of(bundle()), "model/model.json"),
            "FAIL: file changed: model/model.json cannot be read from the ZIP: it is encrypted",
        ),
        (
            "deeply nested proof, re-signed",
            lambda: _resigned_with("trail/proofs.jsonl", _first_line_replaced("trail/proofs.jsonl", DEEP)),
            "not valid JSON (nested too deeply)",
        ),
        (
            "deeply nested consistency proof, re-signed",
            lambda: _resigned_with("trail/consistency.json", DEEP),
            "FAIL: trail/previous-checkpoint.note or trail/consistency.json: nested too deeply",
        ),
        (
            "withheld proofs without newlines, re-signed",
            lambda: _resigned_with("trail/withheld.jsonl", b"[" * (70 << 10)),
            "FAIL: trail/withheld.jsonl line 1 is longer than 65536 bytes",
        ),
        (
            "truncated ZIP",
            lambda: zip_of(bundle())[:-100],
            "is not a readable ZIP file: the ZIP is damaged there (BadZipFile",
        ),
    ],
)
def test_a_corrupt_member_is_a_specific_fail_line(folder: Path, case: str, make: object, message: str) -> None:
    verdict = trusted(folder, make())  # type: ignore[operator]
    assert_fails(verdict, message)


def test_encrypted_bundle_keys_are_a_fail_line_without_trusted_keys(folder: Path) -> None:
    verdict = verify(folder, _encrypted(zip_of(bundle()), "keys/trail-keys.txt"), "--trust-bundle-keys")
    assert_fails(verdict, "FAIL: keys/trail-keys.txt cannot be read from the ZIP: it is encrypted")


def test_a_directory_or_a_missing_file_is_a_usage_error(folder: Path, tmp_path: Path) -> None:
    for target, message in ((tmp_path, "is a directory"), (tmp_path / "none.zip", "does not exist")):
        verdict = trusted(folder, target)
        assert verdict.code == 2, verdict
        assert message in verdict.err, verdict
        assert "Traceback" not in verdict.err, verdict
