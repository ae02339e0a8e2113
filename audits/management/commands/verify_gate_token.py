"""python manage.py verify_gate_token TOKEN|- [--json] [--expect-model M] [--expect-version N]
[--expect-environment E] [--expect-artifact SHA256]

Verifies an approval-gate token with this service's published verifier keys and gate origin, offline (no request
to the API), as a deploy step would before deploying. ``-`` reads the token from stdin.

Exit status: 0 when the token is valid and matches every expectation given (the claims are printed, as the token's
lines or with ``--json`` as JSON); 1 otherwise, with the reason on stderr and no traceback. Usage errors exit 2.
The same check without Django: ``python governance/trail/verifier.py gate-token TOKEN --trusted-keys FILE``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.gate.token import GateTokenError, check_claims, gate_origin, verify_gate_token
from governance.trail.verifier import gate_claims_json, gate_claims_lines

EXIT_REFUSED = 1
FROM_STDIN = "-"


class Command(BaseCommand):
    help = (
        "Verify an approval-gate token (or '-' to read it from stdin) with the published verifier keys: exit 0 and "
        "print its claims when it is valid and matches every --expect-... option, else exit 1 with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token", metavar="TOKEN", help="the token (assay-gate.v1.…), or - to read it from stdin")
        parser.add_argument("--json", action="store_true", help="print the claims as JSON")
        parser.add_argument("--expect-model", metavar="NAME", help="fail unless the token is for this model")
        parser.add_argument("--expect-version", metavar="N", type=int, help="fail unless it is for this version")
        parser.add_argument("--expect-environment", metavar="ENV", help="fail unless it is for this environment")
        parser.add_argument("--expect-artifact", metavar="SHA256", help="fail unless it binds this artifact sha256")

    def handle(self, *args: Any, **options: Any) -> None:
        token = sys.stdin.read() if options["token"] == FROM_STDIN else options["token"]
        try:
            claims = verify_gate_token(token.strip())
            check_claims(
                claims,
                model=options["expect_model"],
                version=options["expect_version"],
                environment=options["expect_environment"],
                artifact_sha256=options["expect_artifact"],
            )
        except GateTokenError as error:
            raise CommandError(f"gate token refused: {error}", returncode=EXIT_REFUSED) from None
        if options["json"]:
            self.stdout.write(json.dumps({"origin": gate_origin(), **gate_claims_json(claims)}, indent=2))
        else:
            self.stdout.write(f"OK: gate token for {gate_origin()}, signed by a published key")
            for line in gate_claims_lines(claims):
                self.stdout.write(f"  {line}")
