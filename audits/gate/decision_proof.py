#!/usr/bin/env python3
"""Verify an approval-gate decision against the trail and its witnesses, offline.

Why: a gate token proves that Assay's key signed a ``pass``; it cannot prove that the decision is in the trail that
everyone else sees. The key holder could sign a pass and never record it, or record it only in a history shown to one
party (a split view). A *decision proof* ties the token to the trail: the decision's event (whose payload holds the
token's SHA-256), its RFC 9162 inclusion proof, and the signed checkpoint it proves against, with the cosignatures of
independent witnesses (C2SP tlog-cosignature; see docs/witnesses.md). Requiring a witness's cosignature means the
decision is in the one history that witness accepted.

The proof is served by ``GET /api/v1/gates/decisions/<id>/proof`` once a checkpoint covers the decision
(``assay-gate-proof/1``, JSON)::

    {"format": "assay-gate-proof/1", "decision": <id: the event's position in the trail>,
     "leaf": <the event's exact leaf text, RFC 8785 JSON>, "leaf_index": int, "tree_size": int,
     "leaf_hash": hex, "root": hex, "proof": [hex, ...], "checkpoint": <signed note with cosignature lines>}

(the ``leaf_index``, ``tree_size``, ``leaf_hash``, ``proof`` and ``root`` fields are ``verifier.py inclusion``'s
proof format, so that command reads the file too). What is checked, every problem reported:

1. the token verifies against the trusted keys (as ``verifier.py gate-token``: signature, origin, expiry);
2. the leaf is a ``gate.decided`` event at ``leaf_index`` whose payload's ``token_sha256`` is the SHA-256 of this
   token, and whose decision, model, version, environment and artifact are the token's;
3. the checkpoint is signed by a trusted key, for the trail whose gate signed the token, of ``tree_size`` leaves;
4. the inclusion proof leads from the leaf's hash to the checkpoint's root;
5. with ``--witness``, at least ``--min-witnesses`` of the given witnesses cosigned that checkpoint.

Like ``verifier.py``, this file needs Python 3.11+ and the ``cryptography`` package; it runs next to ``verifier.py``
(or a bundle's ``verify.py``), whose functions do every hash and signature check::

    python decision_proof.py TOKEN|- --proof gate-proof.json --trusted-keys keys.txt \\
        [--witness KEY]... [--min-witnesses K] [--at TIME] [--expect-model NAME] [--expect-version N] \\
        [--expect-environment ENV] [--expect-artifact SHA256] [--json]

Exit status: 0 everything verified; 1 a check failed (each problem on a ``FAIL:`` line); 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:  # in an Assay checkout
    from governance.trail import verifier
except ImportError:  # shipped beside verifier.py, or a bundle's verify.py
    try:
        import verifier  # type: ignore[no-redef]
    except ImportError:
        import verify as verifier  # type: ignore[no-redef]

PROOF_FORMAT = "assay-gate-proof/1"
"""The ``format`` of a decision proof document."""

DECIDED = "gate.decided"
"""The trail action of a gate decision."""


@dataclass
class DecisionReport:
    """What verifying a decision proof found: the verified token and checkpoint (when they verify), the witnesses'
    cosignatures (None when none were asked for) and every problem, most precise first."""

    token: Any = None  # verifier.GateToken
    checkpoint: Any = None  # verifier.Checkpoint
    seq: int | None = None
    cosignatures: list[Any] | None = None  # verifier.Cosignature
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        claims = self.token.claims
        line = (
            f"OK: gate decision {self.seq} ({claims.decision} for {claims.model} v{claims.version} in "
            f"{claims.environment}) is in the trail {self.checkpoint.origin!r} at checkpoint size "
            f"{self.checkpoint.tree_size}, signed by {', '.join(k.describe() for k in self.checkpoint.verified_by)}"
        )
        if self.cosignatures is not None:
            cosigners = ", ".join(c.describe() for c in self.cosignatures) or "none of the given witnesses"
            line += f"; cosigned by {cosigners}"
        return line


def _field(document: Mapping[str, Any], name: str, kind: type, problems: list[str]) -> Any:
    value = document.get(name)
    if type(value) is not kind:
        problems.append(f"the proof's {name!r} must be {'an integer' if kind is int else 'text'}")
        return None
    return value


def _hex(value: Any, what: str, problems: list[str]) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * verifier.HASH_SIZE or value.strip("0123456789abcdef"):
        problems.append(f"the proof's {what} must be {2 * verifier.HASH_SIZE} lowercase hex digits")
        return None
    return bytes.fromhex(value)


@dataclass(frozen=True)
class _Proof:
    leaf: bytes
    index: int
    size: int
    path: list[bytes]
    note: str
    leaf_hash: bytes | None
    root: bytes | None


def _read_proof(document: Mapping[str, Any], problems: list[str]) -> _Proof | None:
    """The proof's fields, or None with the problems found (a document of another kind, a missing field, ...)."""
    if document.get("format") != PROOF_FORMAT:
        problems.append(f"not a gate decision proof: format is {document.get('format')!r}, not {PROOF_FORMAT!r}")
        return None
    before = len(problems)
    leaf, note = _field(document, "leaf", str, problems), _field(document, "checkpoint", str, problems)
    index, size = _field(document, "leaf_index", int, problems), _field(document, "tree_size", int, problems)
    path = document.get("proof")
    if not isinstance(path, list):
        problems.append("the proof's 'proof' must be a list of hashes")
        path = []
    hashes = [_hex(item, f"proof[{position}]", problems) for position, item in enumerate(path)]
    stated = {name: _hex(document[name], name, problems) for name in ("leaf_hash", "root") if name in document}
    if len(problems) > before:
        return None
    return _Proof(
        leaf=leaf.encode("utf-8"),
        index=index,
        size=size,
        path=[h for h in hashes if h is not None],
        note=note,
        leaf_hash=stated.get("leaf_hash"),
        root=stated.get("root"),
    )


def _strict_json(text: bytes) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("a key is repeated")
        return dict(pairs)

    return json.loads(text.decode("utf-8"), object_pairs_hook=no_duplicates)


def decision_mismatches(event: Mapping[str, Any], token: str, claims: Any, *, index: int) -> list[str]:
    """How the proved event differs from the token's decision (empty when it is that decision)."""
    found = event.get("payload")
    payload: Mapping[str, Any] = found if isinstance(found, dict) else {}
    token_sha256 = hashlib.sha256(token.encode("utf-8")).hexdigest()
    artifact = None if claims.artifact_sha256 == verifier.GATE_NONE else claims.artifact_sha256
    expected: list[tuple[str, Any, Any]] = [
        ("action", event.get("action"), DECIDED),
        ("seq", event.get("seq"), index),
        ("payload token_sha256", payload.get("token_sha256"), token_sha256),
        ("payload decision", payload.get("decision"), claims.decision),
        ("payload model", payload.get("model"), claims.model),
        ("payload version", payload.get("version"), claims.version),
        ("payload environment", payload.get("environment"), claims.environment),
        ("payload artifact_sha256", payload.get("artifact_sha256"), artifact),
    ]
    return [
        f"the proved event is not this token's decision: its {name} is {found!r}, the token's is {wanted!r}"
        for name, found, wanted in expected
        if found != wanted
    ]


def verify_decision_proof(
    token: str,
    document: Mapping[str, Any],
    *,
    keys: Sequence[Any],
    witnesses: Sequence[Any] = (),
    min_witnesses: int = 0,
    origin: str | None = None,
    now: datetime | None = None,
) -> DecisionReport:
    """Check that ``token`` is a gate decision recorded in the trail, as ``document`` (a decision proof) proves
    against a checkpoint signed by one of ``keys`` and cosigned by ``min_witnesses`` of ``witnesses``.

    ``origin``: the gate's expected origin (the trail's origin plus ``/gate``); ``now``: the time the token must be
    valid at (default: the current time). Problems are collected, not raised: the report names every one.
    """
    report = DecisionReport()
    try:
        report.token = verifier.verify_gate_token(token, keys=keys, origin=origin, now=now)
    except verifier.GateTokenError as error:
        report.problems.append(f"gate token refused: {error}")
        return report
    proof = _read_proof(document, report.problems)
    if proof is None:
        return report
    report.seq = proof.index
    try:
        event = _strict_json(proof.leaf)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        report.problems.append(f"the proved event is not a JSON object: {error}")
        event = None
    if event is not None and not isinstance(event, dict):
        report.problems.append("the proved event is not a JSON object")
    elif event is not None:
        report.problems += decision_mismatches(event, token, report.token.claims, index=proof.index)
    trail_origin = report.token.origin.removesuffix(verifier.GATE_ORIGIN_SUFFIX)
    try:
        report.checkpoint = verifier.verify_checkpoint(proof.note, keys=keys, origin=trail_origin)
    except verifier.VerificationError as error:
        report.problems.append(f"checkpoint: {error}")
        return report
    _check_inclusion(proof, report)
    if witnesses or min_witnesses:
        checkpoint = report.checkpoint
        try:
            found = verifier.checkpoint_cosignatures(checkpoint.body, checkpoint.signatures, witnesses=witnesses)
        except verifier.VerificationError as error:
            report.problems.append(str(error))
            return report
        report.cosignatures = found
        problem = verifier.witness_problem(found, witnesses=witnesses, minimum=min_witnesses)
        if problem:
            report.problems.append(problem)
    return report


def _check_inclusion(proof: _Proof, report: DecisionReport) -> None:
    checkpoint = report.checkpoint
    if proof.size != checkpoint.tree_size:
        report.problems.append(f"the proof is for tree size {proof.size}, the checkpoint for {checkpoint.tree_size}")
        return
    digest = verifier.leaf_hash(proof.leaf)
    if proof.leaf_hash is not None and proof.leaf_hash != digest:
        report.problems.append(f"the proof's leaf_hash {proof.leaf_hash.hex()} is not the leaf's {digest.hex()}")
    if proof.root is not None and proof.root != checkpoint.root:
        report.problems.append(f"the proof's root {proof.root.hex()} is not the checkpoint's {checkpoint.root.hex()}")
    try:
        verifier.verify_inclusion(
            leaf_hash=digest, index=proof.index, tree_size=proof.size, proof=proof.path, root=checkpoint.root
        )
    except verifier.VerificationError as error:
        report.problems.append(f"inclusion proof does not verify against the checkpoint: {error}")


# --- the command line -------------------------------------------------------------------------------------------


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise verifier.InputError(f"--at {text!r} is not an ISO 8601 time such as 2026-12-06T12:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _load_proof(path: str) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise verifier.InputError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        document = _strict_json(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise verifier.InputError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise verifier.InputError(f"{path} is not a JSON object")
    return document


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decision_proof.py",
        description="Verify an approval-gate decision token against its proof in the trail, and the witnesses.",
    )
    parser.add_argument("token", metavar="TOKEN", help="the token (assay-gate.v1.…), or - to read it from stdin")
    parser.add_argument("--proof", metavar="FILE", required=True, help="the decision proof (assay-gate-proof/1)")
    parser.add_argument("--trusted-keys", metavar="FILE", required=True, help="verifier keys, one per line")
    parser.add_argument("--origin", help="the trail's or the gate's expected origin (default: the token's)")
    parser.add_argument("--at", metavar="TIME", help="check the token's validity at this time (default: now)")
    parser.add_argument("--expect-model", metavar="NAME", help="fail unless the token is for this model")
    parser.add_argument("--expect-version", metavar="N", type=int, help="fail unless it is for this version")
    parser.add_argument("--expect-environment", metavar="ENV", help="fail unless it is for this environment")
    parser.add_argument("--expect-artifact", metavar="SHA256", help="fail unless it binds this artifact sha256")
    parser.add_argument("--json", action="store_true", help="print the claims and the witnesses as JSON")
    verifier._add_witness_arguments(parser)  # the verifier's own --witness and --min-witnesses, read alike
    return parser


def check(args: argparse.Namespace) -> int:
    """Verify as the parsed arguments say; print the verdict; return the exit status."""
    # The verifier's own readers of --witness, --trusted-keys and TOKEN|-: both programs take them alike.
    witnesses, minimum = verifier._witness_arguments(args)
    keys = verifier._load_keys_argument(args.trusted_keys)
    token = verifier._read_token_argument(args.token)
    report = verify_decision_proof(
        token,
        _load_proof(args.proof),
        keys=keys,
        witnesses=witnesses,
        min_witnesses=minimum,
        origin=verifier._gate_origin_argument(args.origin),
        now=_moment(args.at),
    )
    if report.token is not None:
        report.problems += [
            f"gate token does not match: {mismatch}"
            for mismatch in verifier.gate_claims_mismatches(
                report.token.claims,
                model=args.expect_model,
                version=args.expect_version,
                environment=args.expect_environment,
                artifact_sha256=args.expect_artifact,
            )
        ]
    if report.problems:
        return verifier._report(report.problems, "")
    if not args.json:
        return verifier._report([], report.summary())
    document = {
        "decision": report.seq,
        "origin": report.token.origin,
        "checkpoint": {"origin": report.checkpoint.origin, "tree_size": report.checkpoint.tree_size},
        "cosigned_by": [c.witness.text() for c in report.cosignatures or []],
        **verifier.gate_claims_json(report.token.claims),
    }
    return verifier._report([], json.dumps(document, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _arguments().parse_args(argv)
    except SystemExit as exit_request:  # --help (0) and usage errors (2)
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        return check(args)
    except verifier.InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
