"""Sequence the trail's queued events: once, or as a dedicated sequencer with ``--follow`` (PostgreSQL)."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.trail import sequencer, sequencer_loop
from governance.trail.log import TrailError


class Command(BaseCommand):
    help = (
        "Sequence the events queued by TRAIL_SEQUENCING=batched. Without --follow: everything queued now, then exit. "
        "With --follow: run as the dedicated sequencer until stopped (SIGTERM or Ctrl-C); writers then leave "
        "sequencing to it (PostgreSQL only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep sequencing as events are queued")
        parser.add_argument(
            "--poll-ms", type=int, default=50, help="with --follow: how often to look at the queue (default 50)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["follow"]:
            done = sequencer.sequence_all()
            self.stdout.write(f"Sequenced {done} queued event(s).")
            return
        if not 1 <= options["poll_ms"] <= 60_000:
            raise CommandError(f"--poll-ms must be between 1 and 60000; got {options['poll_ms']}")
        if settings.TRAIL_SEQUENCING != "batched":
            self.stderr.write("Note: TRAIL_SEQUENCING is not 'batched' here; writers that queue events use it.")
        stopping: list[int] = []

        def stop(signum: int, _frame: Any) -> None:
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            done = sequencer_loop.follow(
                poll_seconds=options["poll_ms"] / 1000,
                should_stop=lambda: bool(stopping),
                on_live=lambda: self.stdout.write("Dedicated sequencer running.", ending="\n"),
            )
        except TrailError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Stopped; sequenced {done} queued event(s).")
