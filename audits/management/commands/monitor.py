"""python manage.py monitor [--json]: run every due monitoring check (for cron; idempotent)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audits.monitoring.actions import run_due_checks


class Command(BaseCommand):
    help = (
        "Check every production batch whose check is due (new batches, batches with late labels, checks whose "
        "worker died). A checked batch is not checked again, so running it twice changes nothing. A check that "
        "cannot run ends in an error finding."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = run_due_checks()
        if options["json"]:
            self.stdout.write(json.dumps(counts))
        else:
            self.stdout.write(f"checked {counts['checked']}, errors {counts['error']}, skipped {counts['skipped']}")
