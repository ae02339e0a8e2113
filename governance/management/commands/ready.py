"""python manage.py ready --role worker: whether this node reaches every shared service (a readiness probe)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.nodes import ROLES, readiness


class Command(BaseCommand):
    help = (
        "Ask the database, the cache, the object store and the broker one cheap question each, as a node of the "
        "given role needs them; print the answers as JSON and exit 1 when one does not answer. A worker's "
        "readiness probe (web nodes answer the same at /readyz)."
    )
    # A probe must answer quickly and about the services only.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", choices=sorted(ROLES), default="worker")

    def handle(self, *args: Any, **options: Any) -> None:
        answers = readiness(options["role"])
        self.stdout.write(json.dumps({"role": options["role"], **answers}))
        failed = sorted(name for name, value in answers.items() if value != "ok")
        if failed:
            raise CommandError(f"not ready: {', '.join(failed)} unreachable")
