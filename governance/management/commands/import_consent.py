"""python manage.py import_consent FILE --as USERNAME [--json]: import consent events from a CSV, all or none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.models import User
from governance.data.actions import DataError
from governance.data.consent_import import COLUMNS, import_consent_file
from governance.trail.log import Actor


class Command(BaseCommand):
    help = (
        "Import consent events from a CSV file with a header (columns: "
        + ", ".join(COLUMNS)
        + "). The whole file is checked first; one problem and nothing is written. The trail records one event "
        "for the batch, acting as the user given with --as (a compliance officer or an administrator)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8)")
        parser.add_argument("--as", dest="username", required=True, help="the officer or administrator importing")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user named '{options['username']}'.")
        if not user.is_active:
            raise CommandError(f"The user '{user.username}' is deactivated.")
        if not path.is_file():
            raise CommandError(f"Cannot read {path}: no such file.")
        try:
            outcome = import_consent_file(user=user, actor=Actor.for_user(user), path=path, file_name=path.name)
        except DataError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        batch = outcome.batch
        summary = {
            "import": batch.pk,
            "sha256": batch.sha256,
            "rows": batch.row_count,
            "subjects": batch.subject_count,
            "withdrawals": outcome.withdrawals,
            "findings_opened": len(outcome.findings),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"Imported consent batch {batch.pk} from {path.name}: {batch.row_count} rows, {batch.subject_count} "
            f"subjects, {outcome.withdrawals} withdrawals or expiries, {len(outcome.findings)} findings opened."
        )
        self.stdout.write(f"sha256 {batch.sha256}")
