#!/usr/bin/env python3
"""Ask Assay's approval gate for a decision, from any pipeline. Standard library only.

    curl -fsS -H "Authorization: Bearer $ASSAY_TOKEN" https://assay.example.org/api/v1/gates/client.py -o gate.py
    python gate.py --url https://assay.example.org --model credit-scoring --version 7 --environment production \\
        [--artifact model.onnx | --artifact-sha256 HEX] [--dataset german-credit --dataset-version 3] \\
        [--column-roles @roles.json | --column-roles '{"label": "credit_risk", "protected": ["age_group"]}'] \\
        [--policy eu-ai-act-high-risk] [--wait 60] [--token-out gate-token.txt] \\
        [--witness KEY --min-witnesses 1 --trusted-keys keys.txt [--proof-out gate-proof.json] [--proof-wait 300]]

The API token comes from ASSAY_TOKEN (never from the command line, where other users could read it).
Exit codes: 0 pass, 1 fail, 2 insufficient evidence, 3 pending (approval or audit) or any error, 4 a pass that
does not verify against the trail and the witnesses. An error prints the server's message; a miss (404: no such
model, version or dataset for this token) also prints what the server says does exist ("known: ...").

With ``--witness`` (repeatable), a pass counts only once its proof verifies: the client fetches the decision's proof
(``/api/v1/gates/decisions/<id>/proof``, waiting up to ``--proof-wait`` seconds for a checkpoint to cover it) and
checks it as ``decision_proof.py`` does (the token, the decision's event, its inclusion proof, the checkpoint's
signature by ``--trusted-keys`` and at least ``--min-witnesses`` cosignatures). A server that sequences its trail in
batches answers before the decision has its place (and id) in the trail, ``trail.state`` ``queued``: the client
then first waits for that place (``trail.url``), within the same ``--proof-wait``. That needs the ``cryptography``
package and ``decision_proof.py`` and ``verifier.py`` beside this file (``/api/v1/gates/decision_proof.py`` and
``/api/v1/gates/verifier.py`` serve them; pin reviewed copies rather than trusting the server you are checking).
Without ``--witness`` this client needs the standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType

EXIT = {"pass": 0, "fail": 1, "insufficient_evidence": 2, "pending": 3, "pending_approval": 3}
EXIT_ERROR = 3
EXIT_NOT_VERIFIED = 4


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ask Assay's approval gate for a decision.")
    parser.add_argument("--url", default=os.environ.get("ASSAY_URL", ""), help="Assay's base URL (or ASSAY_URL)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", type=int)
    parser.add_argument("--artifact", help="the model file to deploy: its sha256 picks the version")
    parser.add_argument("--artifact-sha256")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--dataset", default="")
    parser.add_argument("--dataset-version", type=int)
    parser.add_argument(
        "--column-roles", help="the audit's column roles as JSON, or @FILE holding it (used with --dataset)"
    )
    parser.add_argument("--policy", default="")
    parser.add_argument("--wait", type=float, help="seconds the gate may wait for an audit it starts")
    parser.add_argument("--token-out", help="write the signed decision token here on a pass")
    parser.add_argument("--timeout", type=float, default=120.0)
    witnessed = parser.add_argument_group("verifying a pass against the witnesses (needs cryptography)")
    witnessed.add_argument(
        "--witness", metavar="KEY", action="append", default=[], help="a witness key (or a file of them); repeat"
    )
    witnessed.add_argument(
        "--min-witnesses", metavar="K", type=int, help="cosignatures required (default: 1 with --witness)"
    )
    witnessed.add_argument("--trusted-keys", metavar="FILE", help="Assay's verifier keys, obtained independently")
    witnessed.add_argument("--proof-out", metavar="FILE", help="write the decision's proof here")
    witnessed.add_argument(
        "--proof-wait", metavar="SECONDS", type=float, default=300.0, help="wait this long for a checkpoint"
    )
    return parser.parse_args(argv)


def _body(args: argparse.Namespace) -> dict:
    body: dict = {"model": args.model, "environment": args.environment}
    if args.version is not None:
        body["version"] = args.version
    sha = args.artifact_sha256 or (sha256_of(args.artifact) if args.artifact else "")
    if sha:
        body["artifact_sha256"] = sha
    if args.dataset:
        body.update(dataset=args.dataset, dataset_version=args.dataset_version)
    if args.column_roles:
        text = args.column_roles
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        try:
            body["column_roles"] = json.loads(text)
        except ValueError as error:
            raise ValueError(f"--column-roles is not valid JSON: {error}") from None
    if args.policy:
        body["policy"] = args.policy
    if args.wait is not None:
        body["wait_seconds"] = args.wait
    return body


def _ask(url: str, token: str, body: dict, timeout: float) -> dict:
    """The gate's JSON answer (for 200 and 412 alike); OSError or ValueError when there is none."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the URL must start with https:// or http://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + "/api/v1/gates/check",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the scheme is checked
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def _get(url: str, token: str, timeout: float) -> tuple[int, dict, str]:
    """(status, JSON answer, Retry-After) of a GET to Assay; OSError or ValueError when there is none."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the scheme is checked
            return response.status, json.load(response), ""
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers.get("Retry-After", "")


def _decision_id(args: argparse.Namespace, token: str, answer: dict, deadline: float) -> int:
    """The decision's id: in the answer, or (a server sequencing its trail in batches answers before the decision has
    one, with ``trail.state`` ``queued``) from the trail once its sequencer gave the decision its place there."""
    if answer.get("decision_id") is not None:
        return int(answer["decision_id"])
    trail = answer["trail"]
    # Built from the queue id, never from the answer's text: the token goes only to the server this client names.
    url = f"{args.url.rstrip('/')}/api/v1/trail/proofs/inclusion?queued={int(trail['queued'])}"
    while True:
        code, found, retry_after = _get(url, token, args.timeout)
        if code == 200:
            return int(found["leaf_index"])
        left = deadline - time.monotonic()
        if code != 202 or left <= 0:
            error: dict = found["error"] if isinstance(found.get("error"), dict) else {}
            raise ValueError(error.get("message") or f"HTTP {code} from {url}: {found}")
        pause = float(retry_after) if retry_after.isdigit() else 1.0
        print(f"  waiting for the trail to sequence decision (queued as {trail['queued']}, {min(pause, left):.0f} s)")
        time.sleep(max(0.1, min(pause, left)))


def _fetch_proof(args: argparse.Namespace, token: str, answer: dict) -> dict:
    """The decision's proof, asking again while the server says to wait for the decision's place in the trail or a
    checkpoint (up to --proof-wait in all)."""
    deadline = time.monotonic() + args.proof_wait
    decision_id = _decision_id(args, token, answer, deadline)
    url = f"{args.url.rstrip('/')}/api/v1/gates/decisions/{decision_id}/proof"
    while True:
        code, answer, retry_after = _get(url, token, args.timeout)
        if code == 200:
            return answer
        error: dict = answer["error"] if isinstance(answer.get("error"), dict) else {}
        details: dict = error["details"] if isinstance(error.get("details"), dict) else {}
        left = deadline - time.monotonic()
        if code != 409 or not details.get("wait") or left <= 0:
            raise ValueError(error.get("message") or f"HTTP {code}: {answer}")
        pause = float(retry_after) if retry_after.isdigit() else 5.0
        print(f"  waiting for a checkpoint to cover decision {decision_id} ({min(pause, left):.0f} s)")
        time.sleep(max(0.1, min(pause, left)))


def _proof_program() -> ModuleType:
    """decision_proof.py: from this checkout, or beside this file (where it finds verifier.py in turn). Loaded only
    for --witness: it needs the cryptography package, and without --witness this client needs the standard library
    only."""
    problem: ImportError | None = None
    for name in ("audits.gate.decision_proof", "decision_proof"):
        try:
            return importlib.import_module(name)
        except ImportError as error:
            problem = error
    assert problem is not None
    raise problem


def _verify_pass(args: argparse.Namespace, token: str, answer: dict) -> int:
    """Fetch the pass's proof and verify it against the trusted keys and the witnesses; the exit code."""
    try:
        program = _proof_program()
    except ImportError as error:
        print(
            f"error: --witness needs decision_proof.py and verifier.py beside this client and the cryptography "
            f"package ({error}); download them from {args.url.rstrip('/')}/api/v1/gates/",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        proof = _fetch_proof(args, token, answer)
    except (OSError, ValueError, KeyError, TypeError) as error:
        which = answer.get("decision_id") or f"queued as {(answer.get('trail') or {}).get('queued')}"
        print(f"error: no proof of decision {which}: {error}", file=sys.stderr)
        return EXIT_ERROR
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.proof_out or Path(folder) / "gate-proof.json")
        path.write_text(json.dumps(proof, indent=1) + "\n", encoding="utf-8")
        if args.proof_out:
            print(f"  decision proof written to {args.proof_out}")
        arguments = [answer["token"], "--proof", str(path), "--trusted-keys", args.trusted_keys]
        arguments += ["--expect-model", args.model, "--expect-environment", args.environment]
        for witness in args.witness:
            arguments += ["--witness", witness]
        if args.min_witnesses is not None:
            arguments += ["--min-witnesses", str(args.min_witnesses)]
        status = program.main(arguments)
    return 0 if status == 0 else (EXIT_NOT_VERIFIED if status == 1 else EXIT_ERROR)


def _print_error(answer: dict) -> None:
    """The error's message, and on a miss (404) the names the server says exist for this token."""
    error = answer.get("error") if isinstance(answer.get("error"), dict) else None
    if error is None:
        print(f"error: {answer}", file=sys.stderr)
        return
    print(f"error: {error.get('message', error)}", file=sys.stderr)
    details = error.get("details")
    if isinstance(details, dict) and isinstance(details.get("known"), list):
        print(f"known: {', '.join(map(str, details['known'])) or 'none'}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    token = os.environ.get("ASSAY_TOKEN", "")
    witnessed = bool(args.witness or args.min_witnesses)
    try:
        if not token or not args.url:
            raise ValueError("set ASSAY_TOKEN and --url (or ASSAY_URL)")
        if witnessed and not args.trusted_keys:
            raise ValueError("--witness needs --trusted-keys FILE (Assay's verifier keys, obtained independently)")
        body = _body(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    try:
        answer = _ask(args.url, token, body, args.timeout)
    except (OSError, ValueError) as error:
        print(f"error: no answer from the gate: {error}", file=sys.stderr)
        return 3
    if "decision" not in answer:
        _print_error(answer)
        return 3
    print(f"{answer['decision'].upper()}: {answer['model']} v{answer['version']} for {answer['environment']}")
    for reason in answer.get("reasons", []):
        print(f"  - {reason}")
    if answer.get("audit"):
        print(f"  audit: {answer['audit']['url']} ({answer['audit']['status']}, {answer['audit']['verdict']})")
    if isinstance(answer.get("trail"), dict) and answer.get("decision_id") is None:
        print(f"  recorded, queued in the trail as {answer['trail']['queued']}: not provable until sequenced")
    if answer.get("token") and witnessed:
        verified = _verify_pass(args, token, answer)
        if verified != 0:
            return verified  # the token is not written: nothing downstream may deploy on it
    if answer.get("token") and args.token_out:
        with open(args.token_out, "w", encoding="ascii") as handle:
            handle.write(answer["token"] + "\n")
        print(f"  decision token written to {args.token_out}")
    return EXIT.get(answer["decision"], 3)


if __name__ == "__main__":
    sys.exit(main())
