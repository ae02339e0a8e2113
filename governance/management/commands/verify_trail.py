"""python manage.py verify_trail [--checkpoint NOTEFILE ...] [--trusted-keys FILE] [--witness KEY ...]
[--min-witnesses K] [--json] [--incremental [--state FILE]]"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.trail.verify import verify_trail
from governance.trail.verify_incremental import default_state_file, verify_incremental


class Command(BaseCommand):
    help = (
        "Re-derive every leaf from the stored rows, rebuild the Merkle tree, check every stored checkpoint's "
        "signature and root. Exits 1 naming the first bad sequence number and what is wrong."
    )

    # Verification is how an operator finds out what happened after assay.E001 (missing triggers): it must run
    # while that check fails.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint", action="append", type=Path, default=[], help="a signed checkpoint you kept earlier"
        )
        parser.add_argument(
            "--trusted-keys", type=Path, help="verifier keys to trust (default: the keys the server publishes)"
        )
        parser.add_argument(
            "--witness", action="append", default=[], help="a witness key (C2SP, type 0x04) to count; repeat"
        )
        parser.add_argument(
            "--min-witnesses",
            type=int,
            default=None,
            help="fail unless K witnesses cosigned (default: 1 with --witness)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--workers", type=int, default=None, help="processes re-deriving leaves (default: by the trail's size)"
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="verify only what is new since the checkpoint this command verified last, kept in --state "
            "(a full run when there is none), and keep the latest checkpoint when all holds",
        )
        parser.add_argument(
            "--state",
            type=Path,
            default=None,
            help="with --incremental: the file keeping that checkpoint (default: TRAIL_VERIFIED_CHECKPOINT_FILE)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            held = [path.read_text(encoding="utf-8") for path in options["checkpoint"]]
            trusted = None
            if options["trusted_keys"]:
                trusted = [line.strip() for line in options["trusted_keys"].read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}") from None
        if options["workers"] is not None and not 1 <= options["workers"] <= 64:
            raise CommandError("--workers must be between 1 and 64.")
        minimum = options["min_witnesses"]
        minimum = (1 if options["witness"] else 0) if minimum is None else minimum
        if not 0 <= minimum <= len(options["witness"]):
            raise CommandError(f"--min-witnesses {minimum} needs at least that many --witness keys.")
        if options["state"] is not None and not options["incremental"]:
            raise CommandError("--state goes with --incremental.")
        checks: dict[str, Any] = {
            "held": held,
            "trusted_keys": trusted,
            "workers": options["workers"],
            "witnesses": options["witness"],
            "min_witnesses": minimum,
        }
        if options["incremental"]:
            report = verify_incremental(state=options["state"] or default_state_file(), **checks)
        else:
            report = verify_trail(**checks)
        cosigned = [c.describe() for c in report.cosignatures or []]
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok,
                        "events": report.events,
                        "checkpoints": report.checkpoints,
                        "root": report.root.hex(),
                        "first_bad_seq": report.first_bad_seq,
                        "since": report.since,
                        "problems": report.problems,
                        "cosigned_by": cosigned if report.cosignatures is not None else None,
                    },
                    indent=2,
                )
            )
        elif report.ok:
            since = (
                ""
                if report.since is None
                else f" (incremental: the {report.events - report.since} events after the {report.since} verified "
                "before)"
            )
            self.stdout.write(
                f"OK: {report.events} events{since}, {report.checkpoints} checkpoints verified; "
                f"root {report.root.hex()}" + (f"; the latest cosigned by {', '.join(cosigned)}" if cosigned else "")
            )
        if not report.ok:
            if not options["json"]:
                where = (
                    f" (first bad sequence number: {report.first_bad_seq})" if report.first_bad_seq is not None else ""
                )
                self.stderr.write(f"FAILED{where}:")
                for problem in report.problems:
                    self.stderr.write(f"  - {problem}")
            raise SystemExit(1)
