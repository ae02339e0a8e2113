#!/usr/bin/env python3
"""A witness for Assay's audit trail: the C2SP tlog-witness protocol, runnable by anyone.

Why: a log operator holding the signing key could show one history to a regulator and another to an auditor (a split
view). A witness run by someone else (a regulator, an internal audit function) remembers, for each log, the largest
checkpoint it cosigned, and cosigns a new one only when an RFC 9162 consistency proof shows it extends that one. A
verifier that requires a cosignature from a witness it trusts (``verifier.py --witness KEY``) therefore sees only the
history that witness saw: forking the log or rolling it back gathers no cosignature.

Protocol (https://c2sp.org/tlog-witness), ``POST <prefix>/add-checkpoint`` with the body::

    old <size of the last checkpoint the witness cosigned, 0 the first time>
    <base64 consistency proof hash>        (0 to 63 lines)
    <empty line>
    <signed checkpoint note>

Answers: 200 and one cosignature line (C2SP tlog-cosignature, Ed25519 cosignature/v1); 400 malformed, or the old
size above the checkpoint's (a rollback); 403 no signature by the log's key; 404 unknown origin; 409 the old size is
not the witness's (body: its size, ``text/x.tlog.size``) or the same size with another root (a fork); 422 the
consistency proof does not verify (a fork). A signed checkpoint that was refused as a fork is kept under
``STATE/evidence/``: with the checkpoint the witness cosigned, it proves the log equivocated.

State: ``STATE/state.json`` holds per origin the last cosigned checkpoint; it is written to a temporary file, flushed
to disk and renamed over the old one before the cosignature is sent, so a crash or restart never forgets a checkpoint
that was cosigned. A lock file keeps a second witness process off the same state.

Like ``verifier.py``, this file needs Python 3.11+ and the ``cryptography`` package only; next to ``verifier.py``
it runs on its own::

    python witness.py keygen --name witness.example/w1 --out witness.pem   # prints the witness key to publish
    python witness.py serve --name witness.example/w1 --key witness.pem --state DIR \\
        --log assay.example/trail 'assay-trail+1a2b3c4d+AX...' [--listen 127.0.0.1:8080]

In an Assay checkout, ``python manage.py witness ...`` runs the same program.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

try:  # in an Assay checkout
    from governance.trail import verifier
except ImportError:  # shipped beside verifier.py
    import verifier  # type: ignore[no-redef]

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024  # a checkpoint with a few signatures and 63 proof lines is far below this
STATE_FILE = "state.json"
LOCK_FILE = "state.lock"


class Refusal(Exception):
    """An add-checkpoint request the witness answers with an HTTP error status."""

    def __init__(self, status: int, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size  # for 409 on an old-size mismatch: the witness's size, sent as text/x.tlog.size


@dataclass(frozen=True)
class WitnessIdentity:
    """The witness's name and signing key, and the public key text others configure to trust it."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key(self) -> verifier.WitnessKey:
        raw = self.public_bytes
        return verifier.WitnessKey(name=self.name, key_id=verifier.cosignature_key_id(self.name, raw), public_key=raw)

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line (C2SP tlog-cosignature, Ed25519 cosignature/v1) on checkpoint note text ``body``."""
        signature = self.private_key.sign(verifier.cosignature_message(body, timestamp))
        encoded = base64.b64encode(self.key.key_id + timestamp.to_bytes(8, "big") + signature).decode("ascii")
        return f"\u2014 {self.name} {encoded}\n"


def load_identity(name: str, key_path: Path) -> WitnessIdentity:
    """The witness key from an unencrypted PEM Ed25519 private key file."""
    problem = verifier.key_name_problem(name)
    if problem:
        raise ValueError(f"witness name: {problem}")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_path} does not hold an Ed25519 private key")
    return WitnessIdentity(name=name, private_key=key)


class WitnessState:
    """The last cosigned checkpoint of each log, on disk; ``lock`` makes check-then-record atomic (C2SP requires it:
    otherwise two concurrent requests could roll the recorded size back)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[bytes] = (directory / LOCK_FILE).open("ab")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(f"another witness process is using {directory}") from None
        self.lock = threading.Lock()
        path = directory / STATE_FILE
        self.logs: dict[str, dict[str, Any]] = json.loads(path.read_text("utf-8")) if path.exists() else {}

    def latest(self, origin: str) -> tuple[int, bytes | None]:
        """(size, root) of the last checkpoint cosigned for ``origin``; (0, None) when there is none."""
        entry = self.logs.get(origin)
        if entry is None:
            return 0, None
        return int(entry["size"]), base64.b64decode(entry["root"])

    def record(self, origin: str, size: int, root: bytes, note: str) -> None:
        """Durably record the new latest checkpoint of ``origin`` (temporary file, fsync, rename, fsync directory)."""
        logs = dict(self.logs)
        logs[origin] = {"size": size, "root": base64.b64encode(root).decode("ascii"), "checkpoint": note}
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".state-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(logs, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.directory / STATE_FILE)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
        self.logs = logs

    def keep_evidence(self, origin: str, note: str, reason: str) -> None:
        """Keep a validly signed checkpoint that was refused as a fork: evidence that the log equivocated."""
        folder = self.directory / "evidence"
        folder.mkdir(exist_ok=True)
        digest = hashlib.sha256(note.encode()).hexdigest()[:16]
        (folder / f"{hashlib.sha256(origin.encode()).hexdigest()[:12]}-{digest}.note").write_text(
            f"# refused: {reason}\n{note}", encoding="utf-8"
        )

    def close(self) -> None:
        self._lock_file.close()


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text.startswith("0")):
        raise Refusal(400, f"{what} {text!r} is not a decimal number without leading zeros")
    return int(text)


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """Split an add-checkpoint body into (old size, consistency proof, checkpoint note text); 400 if malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the request is not UTF-8") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise Refusal(400, "the request has no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise Refusal(400, "the request does not start with an 'old <size>' line")
    old = _decimal(lines[0][4:], "old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refusal(400, f"the consistency proof has more than {MAX_PROOF_LINES} lines")
    proof = []
    for line in lines[1:]:
        try:
            node = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(400, f"consistency proof line {line!r} is not base64") from None
        if len(node) != verifier.HASH_SIZE:
            raise Refusal(400, f"consistency proof line {line!r} is not a {verifier.HASH_SIZE}-byte hash")
        proof.append(node)
    return old, proof, note


class Witness:
    """The add-checkpoint logic, independent of HTTP (the server below is a thin wrapper)."""

    def __init__(
        self, identity: WitnessIdentity, logs: dict[str, list[verifier.VerifierKey]], state: WitnessState
    ) -> None:
        self.identity = identity
        self.logs = logs
        self.state = state

    def add_checkpoint(self, body: bytes) -> str:
        """Check a request and return the cosignature line, or raise :class:`Refusal` with the protocol's status."""
        old, proof, note = parse_request(body)
        try:
            checkpoint = verifier.parse_checkpoint(note)
        except verifier.VerificationError as error:
            raise Refusal(400, f"the checkpoint is malformed: {error}") from None
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            raise Refusal(404, f"this witness does not know the log {checkpoint.origin!r}")
        try:
            verifier.verify_checkpoint(note, keys=keys, origin=checkpoint.origin)
        except verifier.VerificationError as error:
            raise Refusal(403, f"the checkpoint is not signed by the log's key: {error}") from None
        if old > checkpoint.tree_size:
            raise Refusal(400, f"old size {old} is above the checkpoint's size {checkpoint.tree_size}")
        with self.state.lock:
            size, root = self.state.latest(checkpoint.origin)
            if old != size:
                raise Refusal(409, f"the last checkpoint this witness cosigned has size {size}, not {old}", size=size)
            self._check_consistency(old, proof, root, checkpoint, note)
            line = self.identity.cosign(checkpoint.body, int(time.time()))
            self.state.record(checkpoint.origin, checkpoint.tree_size, checkpoint.root, note)
        return line

    def _check_consistency(
        self, old: int, proof: Sequence[bytes], root: bytes | None, checkpoint: verifier.Checkpoint, note: str
    ) -> None:
        if old == 0:
            if proof:
                raise Refusal(422, "the consistency proof from size 0 must be empty")
            return
        assert root is not None
        if old == checkpoint.tree_size and checkpoint.root != root:
            reason = f"size {old} was cosigned with another root: the log forked"
            self.state.keep_evidence(checkpoint.origin, note, reason)
            raise Refusal(409, reason)
        try:
            verifier.verify_consistency(
                first_size=old,
                second_size=checkpoint.tree_size,
                first_root=root,
                second_root=checkpoint.root,
                proof=proof,
            )
        except verifier.VerificationError as error:
            reason = f"the checkpoint is not consistent with the one of size {old} this witness cosigned: {error}"
            self.state.keep_evidence(checkpoint.origin, note, reason)
            raise Refusal(422, reason) from None


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the protocol recommends
    timeout = 60  # seconds a connection may sit idle or half-sent before it is closed, so none holds a thread for ever

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != self.server.prefix + "/add-checkpoint":
            self._reply(404, "not found\n")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._reply(400 if not length.isdigit() else 413, "a Content-Length up to 64 KiB is required\n")
            return
        body = self.rfile.read(int(length))
        try:
            line = self.server.witness.add_checkpoint(body)
        except Refusal as refusal:
            if refusal.size is not None:
                self._reply(refusal.status, f"{refusal.size}\n", content_type=SIZE_CONTENT_TYPE)
            else:
                self._reply(refusal.status, f"{refusal}\n")
            return
        self._reply(200, line)

    def _reply(self, status: int, text: str, *, content_type: str = "text/plain; charset=utf-8") -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        print(f"witness: {self.address_string()} {format % args}", file=sys.stderr, flush=True)


class WitnessServer(ThreadingHTTPServer):
    """An HTTP server answering ``POST <prefix>/add-checkpoint``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness, *, prefix: str = "") -> None:
        super().__init__(address, _Handler)
        self.witness = witness
        self.prefix = prefix.rstrip("/")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"


def _parse_logs(pairs: Sequence[Sequence[str]]) -> dict[str, list[verifier.VerifierKey]]:
    logs: dict[str, list[verifier.VerifierKey]] = {}
    for origin, key_text in pairs:
        logs.setdefault(origin, []).append(verifier.parse_verifier_key(key_text))
    return logs


def _command_keygen(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    identity = WitnessIdentity(name=args.name, private_key=key)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {args.out} exists; refusing to overwrite a key", file=sys.stderr)
        return 2
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    print(identity.key.text())
    return 0


def _command_serve(args: argparse.Namespace) -> int:
    identity = load_identity(args.name, Path(args.key))
    state = WitnessState(Path(args.state))
    host, _, port = args.listen.rpartition(":")
    server = WitnessServer((host or "127.0.0.1", int(port)), Witness(identity, _parse_logs(args.log), state))
    # One line on stdout, flushed, so whoever started the witness learns the port the system chose for :0.
    print(f"witness {identity.name} listening on {server.url} key {identity.key.text()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.close()
    return 0


def argument_parser() -> argparse.ArgumentParser:
    """The witness's command line (shared with ``manage.py witness``)."""
    parser = argparse.ArgumentParser(prog="witness.py", description="A C2SP tlog-witness for Assay audit trails.")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create a witness key (PEM, mode 0600) and print its public key")
    keygen.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.org/assay")
    keygen.add_argument("--out", required=True, help="file to create")
    keygen.set_defaults(handler=_command_keygen)
    serve = commands.add_parser("serve", help="answer add-checkpoint requests over HTTP")
    serve.add_argument("--name", required=True, help="the witness's name (as given to keygen)")
    serve.add_argument("--key", required=True, help="the PEM file written by keygen")
    serve.add_argument("--state", required=True, help="directory for the last cosigned checkpoints (kept on disk)")
    serve.add_argument(
        "--log",
        nargs=2,
        action="append",
        required=True,
        metavar=("ORIGIN", "KEY"),
        help="a log to witness: its origin and its verifier key (/.well-known/assay-keys); repeat for several",
    )
    serve.add_argument("--listen", default="127.0.0.1:8380", help="HOST:PORT (port 0: any free port)")
    serve.set_defaults(handler=_command_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = argument_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, OSError, RuntimeError, verifier.VerificationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
