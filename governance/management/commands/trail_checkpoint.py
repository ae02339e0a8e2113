"""python manage.py trail_checkpoint [--if-due]: sign a checkpoint now (for cron, or by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint


class Command(BaseCommand):
    help = "Issue a signed checkpoint of the trail and print its note."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-due", action="store_true", help="only when events or time make one due")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = issue_checkpoint(reason="command", only_if_due=options["if_due"])
        except CheckpointRefused as exc:
            raise CommandError(str(exc)) from None
        if checkpoint is None:
            self.stderr.write("No checkpoint due.")
            return
        self.stdout.write(checkpoint.note, ending="")
