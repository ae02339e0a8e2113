"""Queue again every audit run whose worker stopped answering (what beat's ``audits.recover_stale_runs`` does)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audits.actions import recover_stale_runs


class Command(BaseCommand):
    help = (
        "Find audit runs whose worker stopped answering (no heartbeat for AUDIT_LEASE_SECONDS, or its process is gone "
        "from this machine) and queue them again: the job takes each over, or ends it as error after "
        "AUDIT_MAX_ATTEMPTS. Without a broker the runs are taken over in this process. For cron when beat is not run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the ids as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        recovered = recover_stale_runs()
        if options["json"]:
            self.stdout.write(json.dumps({"recovered": recovered}))
        else:
            self.stdout.write(f"{len(recovered)} run(s) queued again: {', '.join(map(str, recovered)) or 'none'}.")
