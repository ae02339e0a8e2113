"""python manage.py verify_media: every stored file the database references is there and hashes as recorded."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.storage import file_problem, stored_files


class Command(BaseCommand):
    help = (
        "Check that every dataset file, model artifact, signed report and evidence bundle the database references "
        "is in MEDIA_ROOT (or the configured storage) with the sha256 recorded for it. Run after restoring a "
        "backup, beside verify_trail. Exits 1 listing each missing or altered file."
    )
    # A restore is checked before anything else is repaired: the other checks must not block it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        checked, problems = 0, []
        for what, name, sha256 in stored_files():
            checked += 1
            problem = file_problem(name, sha256)
            if problem:
                problems.append({"what": what, "file": name, "problem": problem})
        if options["json"]:
            self.stdout.write(json.dumps({"checked": checked, "problems": problems}, indent=1))
        else:
            for item in problems:
                self.stdout.write(f"{item['what']}: {item['file']} {item['problem']}")
            self.stdout.write(f"{checked} stored files checked, {len(problems)} missing or altered.")
        if problems:
            raise CommandError(f"{len(problems)} of {checked} stored files are missing or altered.")
