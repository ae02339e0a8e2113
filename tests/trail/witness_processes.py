"""Witnesses as separate processes for tests: ``witness.py`` and ``verifier.py`` copied into an empty folder and run
there, as an outside party would run them (no Assay on the path), each on a port the system chose."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.trail.merkle import MemoryNodeStore, consistency_proof, root_from_leaf_hashes
from governance.trail.merkle import leaf_hash as hash_leaf
from governance.trail.note import sign_checkpoint, verifier_key_text

TRAIL = Path(__file__).resolve().parents[2] / "governance" / "trail"
ENVIRONMENT = {"PATH": "/usr/bin:/bin"}  # no PYTHONPATH: the witness cannot import Assay


@dataclass
class RunningWitness:
    """A witness process; ``key`` is the witness key text to trust, ``url`` its submission prefix."""

    name: str
    key: str
    url: str
    folder: Path
    process: subprocess.Popen[str]

    def stop(self) -> None:
        """End the process as a crash would (SIGKILL): whatever it cosigned must already be on disk."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def install(folder: Path) -> Path:
    """Copy the two standalone files into ``folder``; return the witness program's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("witness.py", "verifier.py"):
        shutil.copyfile(TRAIL / name, folder / name)
    return folder / "witness.py"


def keygen(folder: Path, name: str) -> str:
    """Create the witness's key in ``folder``; return its public witness key text."""
    program = install(folder)
    result = subprocess.run(
        [sys.executable, str(program), "keygen", "--name", name, "--out", str(folder / "witness.pem")],
        cwd=folder,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def start(folder: Path, name: str, logs: list[tuple[str, str]]) -> RunningWitness:
    """Start the witness of ``folder`` (made by :func:`keygen`) for ``logs`` (origin, log verifier key)."""
    arguments = [str(folder / "witness.py"), "serve", "--name", name, "--key", str(folder / "witness.pem")]
    arguments += ["--state", str(folder / "state"), "--listen", "127.0.0.1:0"]
    for origin, key in logs:
        arguments += ["--log", origin, key]
    process = subprocess.Popen(
        [sys.executable, *arguments],
        cwd=folder,
        env=ENVIRONMENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # "witness NAME listening on URL key KEY", once the socket is bound
    if not first:
        process.wait()
        raise RuntimeError(f"the witness did not start: {process.stderr.read() if process.stderr else ''}")
    words = first.split()
    return RunningWitness(name=name, key=words[-1], url=words[4], folder=folder, process=process)


def post(url: str, body: bytes) -> tuple[int, str, str]:
    """POST to ``<url>/add-checkpoint``: (status, content type, body text)."""
    request = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")  # noqa: S310 - local server
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a local test server
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


@dataclass
class MemoryLog:
    """A transparency log held in memory, signing checkpoints like Assay's (origin, size, root, signed note)."""

    origin: str
    key_name: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store, self.frontier = MemoryNodeStore.from_leaf_hashes(self.hashes)

    @property
    def key(self) -> str:
        return verifier_key_text(self.key_name, self.private_key.public_key())

    def append(self, *leaves: bytes) -> MemoryLog:
        for leaf in leaves:
            digest = hash_leaf(leaf)
            self.hashes.append(digest)
            self.store.add(self.frontier.append(digest))
        return self

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.hashes) if size is None else size
        root = root_from_leaf_hashes(self.hashes[:size])
        return sign_checkpoint(
            origin=self.origin, tree_size=size, root=root, signers=[(self.key_name, self.private_key)]
        )

    def proof(self, first: int, second: int | None = None) -> list[bytes]:
        second = len(self.hashes) if second is None else second
        return consistency_proof(first_size=first, second_size=second, get_nodes=self.store.get_nodes) if first else []

    def fork(self, at: int) -> MemoryLog:
        """Another history sharing the first ``at`` leaves, signed with the same key (what a split view needs)."""
        return MemoryLog(self.origin, self.key_name, self.private_key, list(self.hashes[:at]))
