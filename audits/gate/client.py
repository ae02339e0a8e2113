#!/usr/bin/env python3
"""Ask Assay's approval gate for a decision, from any pipeline. Standard library only.

    curl -fsS -H "Authorization: Bearer $ASSAY_TOKEN" https://assay.example.org/api/v1/gates/client.py -o gate.py
    python gate.py --url https://assay.example.org --model credit-scoring --version 7 --environment production \\
        [--artifact model.onnx | --artifact-sha256 HEX] [--dataset german-credit --dataset-version 3] \\
        [--column-roles @roles.json | --column-roles '{"label": "credit_risk", "protected": ["age_group"]}'] \\
        [--policy eu-ai-act-high-risk] [--wait 60] [--token-out gate-token.txt]

The API token comes from ASSAY_TOKEN (never from the command line, where other users could read it).
Exit codes: 0 pass, 1 fail, 2 insufficient evidence, 3 pending (approval or audit) or any error. An error prints
the server's message; a miss (404: no such model, version or dataset for this token) also prints what the server
says does exist ("known: ...").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

EXIT = {"pass": 0, "fail": 1, "insufficient_evidence": 2, "pending": 3, "pending_approval": 3}


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
    if not token or not args.url:
        print("error: set ASSAY_TOKEN and --url (or ASSAY_URL)", file=sys.stderr)
        return 3
    try:
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
    if answer.get("token") and args.token_out:
        with open(args.token_out, "w", encoding="ascii") as handle:
            handle.write(answer["token"] + "\n")
        print(f"  decision token written to {args.token_out}")
    return EXIT.get(answer["decision"], 3)


if __name__ == "__main__":
    sys.exit(main())
