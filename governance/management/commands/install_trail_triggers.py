"""python manage.py install_trail_triggers: re-create the trail's append-only triggers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from governance.trail.db import install_triggers


class Command(BaseCommand):
    help = "Re-create the append-only triggers (after restoring a backup that lacks them). Then run verify_trail."
    # The repair for system check assay.E001 (missing triggers) must not be blocked by that check.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        install_triggers(connection)
        self.stdout.write("Append-only triggers installed. Now run: python manage.py verify_trail")
